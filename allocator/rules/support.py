"""Rule 15 — support: a client with a ``support_provider_id`` is placed only in a municipality
that provider lists, and for every provider and listed municipality, its clients placed there
<= ``places``. Clients without a provider are not limited by this rule.

Two parts in one module: ``MASK`` is the eligibility part (the listed municipalities), ``RULE``
the capacity part. Its group (provider, municipality) depends on the client: a cap on a group of
clients, which the nested flow does not model.
CP-SAT: no variable for a pair outside the provider's municipalities; for each provider and
municipality, sum of x over pairs of its clients in that municipality's units <= places.
Check: each placed client with a provider is in a listed municipality; count placements per
provider and municipality.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns, pick
from allocator.models import Client, Instance, Unit
from allocator.rules.base import Capacities, EligibilityRule, GroupLimit, group_rule

NUMBER, NAME = 15, "support"


def _places(inst: Instance, provider_id: str) -> dict[str, int]:
    return {c.municipality_id: c.places for c in inst.support_provider(provider_id).capacity}


def _columns(cols: Columns):
    """Per client its provider's index (the last index: none), and provider × municipality
    places (-1: not listed; the last row: no provider, unlimited)."""

    def build(cols: Columns):
        inst = cols.instance
        index = {p.id: i for i, p in enumerate(inst.support_providers)}
        none = len(index)
        of_client = np.array(
            [index.get(c.support_provider_id, none) for c in inst.clients], dtype=np.int64
        )
        muni = {m: k for k, m in enumerate(cols.municipality_ids)}
        places = np.full((none + 1, len(muni)), -1, dtype=np.int64)
        for i, provider in enumerate(inst.support_providers):
            for c in provider.capacity:
                places[i, muni[c.municipality_id]] = c.places
        return of_client, places

    return cols.cached("rule15", build)


def _works(cols: Columns) -> np.ndarray:
    """Provider × municipality: True where the provider works (the last row, no provider:
    everywhere)."""
    _, places = _columns(cols)
    works = places >= 0
    works[-1] = True
    return works


def _mask(cols: Columns, ci: np.ndarray, ui: np.ndarray) -> np.ndarray:
    of_client, _ = _columns(cols)
    return pick(cols.cached("rule15-works", _works), of_client[ci], cols.unit_municipality[ui])


def _allows(inst: Instance, client: Client, unit: Unit) -> bool:
    if client.support_provider_id is None:
        return True
    return inst.unit_municipality_id(unit) in _places(inst, client.support_provider_id)


def _why(inst: Instance, client: Client, unit: Unit) -> str:
    provider = inst.support_provider(client.support_provider_id)
    muni = inst.municipality(inst.unit_municipality_id(unit)).name
    return f"support provider {provider.name} does not work in {muni}"


MASK = EligibilityRule(
    number=NUMBER,
    name=NAME,
    label="support provider does not work in the municipality",
    mask=_mask,
    allows=_allows,
    why=_why,
)


def _capacities(cols: Columns) -> Capacities:
    of_client, places = _columns(cols)
    inst = cols.instance
    keys = [
        (p, m)
        for p in [*(s.id for s in inst.support_providers), None]
        for m in cols.municipality_ids
    ]
    return Capacities(
        cols.unit_municipality, places.ravel(), keys, of_client, len(cols.municipality_ids)
    )


def _group_of(inst: Instance, client: Client, unit: Unit):
    if client.support_provider_id is None:
        return None
    return (client.support_provider_id, inst.unit_municipality_id(unit))


def _limit(inst: Instance, key) -> int | None:
    return _places(inst, key[0]).get(key[1])  # not listed: MASK reports it


def _title(inst: Instance, key) -> str:
    provider = inst.support_provider(key[0])
    return f"support by {provider.name} in {inst.municipality(key[1]).name}"


GROUPS = GroupLimit(
    group_of=_group_of,
    limit=_limit,
    noun="support provider/municipality",
    code="support_places",
    title=_title,
    full_text=lambda inst, key, used: (
        f"{_title(inst, key)} is full: {used} of {_limit(inst, key)} places used"
    ),
)

RULE = group_rule(NUMBER, NAME, GROUPS, _capacities, on_clients=True)
