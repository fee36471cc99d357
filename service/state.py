"""The region's state as the contract's instance, and the quota arithmetic.

Quota used in a year = offers accepted or let whose acceptance falls in that year. In a run,
accepted offers go in as pinned pairs (the optimiser counts them toward every cap), so the
quota handed to the optimiser is the year's quota minus only the lets. Neighbourhood quotas
(rule 14) and support places (rule 15) are counted the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from allocator.models import Unit, contract_row
from service import tables as t
from service.scope import region_of
from service.tables import OPEN_OFFER_STATES, same_record, the_vacancy
from service.units import Key, reference, shared_ids


def today() -> dt.date:
    return dt.date.today()


@dataclass
class QuotaUse:
    municipality_quota: dict[str, int]
    municipality_let: Counter
    municipality_accepted: Counter
    corporation_let: Counter
    corporation_accepted: Counter
    #: rules 14-15: lets this year per neighbourhood, and per (support provider, municipality)
    neighbourhood_let: Counter = None  # type: ignore[assignment]
    support_let: Counter = None  # type: ignore[assignment]


def quota_use(session: Session, year: int) -> QuotaUse:
    quotas = {
        q.municipality_id: q.quota
        for q in session.scalars(
            select(t.MunicipalityQuota).where(t.MunicipalityQuota.year == year)
        )
    }
    rows = session.execute(
        select(
            t.Offer.status,
            t.Complex.municipality_id,
            t.Vacancy.corporation_id,
            t.Complex.neighbourhood_id,
            t.Client.support_provider_id,
        )
        .join(t.Vacancy, the_vacancy(t.Offer))
        .join(t.Complex, same_record(t.Complex, t.Vacancy, "complex_id"))
        .join(t.Client, same_record(t.Client, t.Offer, "client_id"))
        .where(t.Offer.status.in_(("accepted", "let")))
        .where(extract("year", t.Offer.decided_at) == year)
    ).all()
    use = QuotaUse(quotas, Counter(), Counter(), Counter(), Counter(), Counter(), Counter())
    for status, municipality_id, corporation_id, neighbourhood_id, provider_id in rows:
        if status == "let":
            use.municipality_let[municipality_id] += 1
            use.corporation_let[corporation_id] += 1
            use.neighbourhood_let[neighbourhood_id] += 1
            use.support_let[(provider_id, municipality_id)] += 1
        else:
            use.municipality_accepted[municipality_id] += 1
            use.corporation_accepted[corporation_id] += 1
    return use


def refused_units(session: Session, client_ids: list[str] | None = None) -> dict[str, list[str]]:
    """The units each client refused (of these clients only, when named), by reference
    (``units.py``): a refusal of one corporation's unit whose id another uses too is qualified;
    a refusal naming the id only holds for every corporation's unit with that id."""
    rows: list[t.Refusal] = []
    query = select(t.Refusal).order_by(
        t.Refusal.client_id, t.Refusal.unit_id, t.Refusal.corporation_id
    )
    if client_ids is not None:
        query = query.where(t.Refusal.client_id.in_(client_ids))
    rows = list(session.scalars(query))
    shared = shared_ids(session, {r.unit_id for r in rows}) if rows else set()
    holders: dict[str, list[str]] = {}
    if any(not r.corporation_id and r.unit_id in shared for r in rows):
        for corporation_id, unit_id in session.execute(
            select(t.Vacancy.corporation_id, t.Vacancy.id)
            .where(t.Vacancy.id.in_(sorted(shared)))
            .order_by(t.Vacancy.corporation_id)
        ):
            holders.setdefault(unit_id, []).append(corporation_id)
    refused: dict[str, list[str]] = {}
    for r in rows:
        corporations = [r.corporation_id] if r.corporation_id else holders.get(r.unit_id, [""])
        for corporation_id in corporations:
            ref = reference(corporation_id, r.unit_id, shared) if corporation_id else r.unit_id
            if ref not in refused.setdefault(r.client_id, []):
                refused[r.client_id].append(ref)
    return refused


def client_row(client: t.Client, refused: list[str]) -> dict[str, Any]:
    return {
        "id": client.id,
        "household_size": client.household_size,
        "max_rent": client.max_rent,
        "needs_accessible": client.needs_accessible,
        "preferred_municipalities": list(client.preferred_municipalities),
        "excluded_municipalities": list(client.excluded_municipalities),
        "target_group": client.target_group,
        "ready_since": client.ready_since.isoformat(),
        "refused_units": refused,
        "support_provider_id": client.support_provider_id,
    }


def unit_row(v: t.Vacancy) -> dict[str, Any]:
    return contract_row(Unit, v)


def build_instance(
    session: Session,
    *,
    on: dt.date | None = None,
    pin_states: tuple[str, ...] = ("accepted",),
    extra_pinned: list[tuple[str, Key]] = (),
    leave_out_clients: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The contract's instance for the current state, as plain JSON data.

    Clients: every ready client, and the client of every offer in ``pin_states`` (pinned to its
    unit). Units: every open vacancy without an open offer, and the units of those offers. For a
    run ``pin_states`` is accepted offers; to check new offers it is every open offer, so the
    new ones are checked together with those already made. ``extra_pinned``: (client, (its
    unit's corporation, unit id)).

    Units are named by their reference (``units.py``): the unit id, qualified with its
    corporation where another corporation of the region uses the id too.
    """
    on = on or today()
    use = quota_use(session, on.year)
    refused = refused_units(session)
    policy = session.get(t.RegionPolicy, region_of(session))

    offers = session.scalars(
        select(t.Offer).where(t.Offer.status.in_(OPEN_OFFER_STATES)).order_by(t.Offer.id)
    ).all()
    shared = shared_ids(session)
    taken_units = {(o.corporation_id, o.unit_id) for o in offers}
    pinned = [
        (o.client_id, (o.corporation_id, o.unit_id)) for o in offers if o.status in pin_states
    ]
    pinned += [p for p in extra_pinned if p not in pinned]
    pinned_clients = {c for c, _ in pinned}
    pinned_units = {u for _, u in pinned}

    clients = session.scalars(select(t.Client).order_by(t.Client.id)).all()
    client_rows = [
        client_row(c, refused.get(c.id, []))
        for c in clients
        if c.id not in leave_out_clients
        and ((c.status == "ready" and c.id not in pinned_clients) or c.id in pinned_clients)
    ]
    vacancies = session.scalars(
        select(t.Vacancy).order_by(t.Vacancy.id, t.Vacancy.corporation_id)
    ).all()
    unit_rows = [
        {**unit_row(v), "id": reference(v.corporation_id, v.id, shared)}
        for v in vacancies
        if (v.status == "open" and (v.corporation_id, v.id) not in taken_units)
        or (v.corporation_id, v.id) in pinned_units
    ]
    municipalities = session.scalars(select(t.Municipality).order_by(t.Municipality.id)).all()
    corporations = session.scalars(select(t.Corporation).order_by(t.Corporation.id)).all()
    complexes = session.scalars(select(t.Complex).order_by(t.Complex.id)).all()
    neighbourhoods = session.scalars(select(t.Neighbourhood).order_by(t.Neighbourhood.id)).all()
    providers = session.scalars(select(t.SupportProvider).order_by(t.SupportProvider.id)).all()
    places = session.scalars(
        select(t.SupportPlaces).order_by(
            t.SupportPlaces.provider_id, t.SupportPlaces.municipality_id
        )
    ).all()
    return {
        "municipalities": [
            {
                "id": m.id,
                "name": m.name,
                "quota": max(0, use.municipality_quota.get(m.id, 0) - use.municipality_let[m.id]),
                "population": m.population,
            }
            for m in municipalities
        ],
        "corporations": [
            {
                "id": c.id,
                "name": c.name,
                "quota": None if c.quota is None else max(0, c.quota - use.corporation_let[c.id]),
            }
            for c in corporations
        ],
        "complexes": [
            {
                "id": cx.id,
                "municipality_id": cx.municipality_id,
                "units_total": cx.units_total,
                "vulnerable_residents": cx.vulnerable_residents,
                "max_vulnerable_share": cx.max_vulnerable_share,
                "name": cx.name,
                "group_max_share": cx.group_max_share,
                "group_residents": cx.group_residents,
                "max_vulnerable_per_staircase": cx.max_vulnerable_per_staircase,
                "staircase_vulnerable_residents": cx.staircase_vulnerable_residents,
                "neighbourhood_id": cx.neighbourhood_id,
            }
            for cx in complexes
        ],
        "neighbourhoods": [
            {
                "id": nb.id,
                "municipality_id": nb.municipality_id,
                "name": nb.name,
                "quota": max(0, nb.quota - use.neighbourhood_let[nb.id]),
            }
            for nb in neighbourhoods
        ],
        "support_providers": [
            {
                "id": p.id,
                "name": p.name,
                "capacity": [
                    {
                        "municipality_id": c.municipality_id,
                        "places": max(0, c.places - use.support_let[(p.id, c.municipality_id)]),
                    }
                    for c in places
                    if c.provider_id == p.id
                ],
            }
            for p in providers
        ],
        "units": unit_rows,
        "clients": client_rows,
        "policy": {
            "max_vulnerable_share": policy.max_vulnerable_share if policy else 0.3,
            "reference_date": on.isoformat(),
            "objective": list(policy.objective)
            if policy
            else ["placed", "waiting_days", "rank_sum"],
        },
        "pinned": [
            {"client_id": c, "unit_id": reference(corporation_id, u, shared)}
            for c, (corporation_id, u) in pinned
        ],
    }


def input_hash(instance: dict[str, Any], solver_settings: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that decides the answer."""
    canonical = json.dumps(
        {"instance": instance, "solver_settings": solver_settings},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def solver_version() -> str:
    return f"allocator {version('allocator')}; ortools {version('ortools')}"
