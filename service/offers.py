"""Offers: making them (with every rule checked), and their life cycle.

proposed → accepted | refused | withdrawn | expired; accepted → let | withdrawn. A refused unit
is never offered to that client again; an accepted offer is pinned in later runs; a let offer
houses the client and adds a vulnerable household to the building.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.errors import InstanceError
from allocator.models import parse_instance
from allocator.validator import pinned_issues
from service import tables as t
from service.audit import SYSTEM, record, set_client_status
from service.db import lock_region
from service.deps import Caller
from service.problems import ProblemIssue, ServiceProblem, conflict, issues_of, not_found
from service.state import build_instance
from service.tables import OPEN_OFFER_STATES, utcnow


def expire_due(session: Session) -> int:
    """Offers past their answer date expire, and their clients are ready again."""
    due = session.scalars(
        select(t.Offer).where(t.Offer.status == "proposed", t.Offer.expires_at < utcnow())
    ).all()
    for offer in due:
        offer.status = "expired"
        offer.decided_at = utcnow()
        record(session, SYSTEM, "offer.expired", "offer", offer.id, unit_id=offer.unit_id)
        client = session.get(t.Client, offer.client_id)
        if client is not None and client.status == "proposed":
            set_client_status(session, SYSTEM, client, "ready", offer_id=offer.id)
    return len(due)


def make_offers(
    session: Session,
    caller: Caller,
    pairs: list[tuple[str, str]],
    *,
    expiry_days: int,
    run_id: int | None = None,
    by_hand: set[tuple[str, str]] = frozenset(),
    intended_start_date: dt.date | None = None,
) -> list[t.Offer]:
    """Offer each unit to its client, all or nothing, after checking every rule of the contract
    on these offers together with every offer already open."""
    lock_region(session)
    expire_due(session)
    problems: list[ProblemIssue] = []

    def problem(i: int, field: str, message: str) -> None:
        problems.append(ProblemIssue(location=f"offers[{i}].{field}", field=field, message=message))

    seen_clients: set[str] = set()
    seen_units: set[str] = set()
    for i, (client_id, unit_id) in enumerate(pairs):
        client = session.get(t.Client, client_id)
        unit = session.get(t.Vacancy, unit_id)
        if client is None:
            problem(i, "client_id", f"There is no client {client_id!r}.")
        elif client.status != "ready":
            problem(i, "client_id", f"Client {client_id!r} is {client.status}, not ready.")
        elif client_id in seen_clients:
            problem(i, "client_id", f"Client {client_id!r} is named twice.")
        if unit is None:
            problem(i, "unit_id", f"There is no vacancy {unit_id!r}.")
        elif unit.status != "open":
            problem(i, "unit_id", f"Vacancy {unit_id!r} is {unit.status}, no longer open.")
        elif unit_id in seen_units:
            problem(i, "unit_id", f"Vacancy {unit_id!r} is offered twice.")
        elif session.scalar(
            select(t.Offer.id).where(
                t.Offer.unit_id == unit_id, t.Offer.status.in_(OPEN_OFFER_STATES)
            )
        ):
            problem(i, "unit_id", f"Vacancy {unit_id!r} already has an open offer.")
        seen_clients.add(client_id)
        seen_units.add(unit_id)
    if problems:
        raise conflict("Some offers cannot be made; nothing was offered.", problems)

    data = build_instance(session, pin_states=OPEN_OFFER_STATES, extra_pinned=pairs)
    try:
        instance = parse_instance(data)
    except InstanceError as exc:  # the stored state itself is inconsistent
        raise ServiceProblem(
            409, "The region's current state is not a valid instance.", errors=issues_of(exc)
        ) from None
    new = set(pairs)
    broken = [
        issue
        for issue in pinned_issues(instance)
        if issue.row is None or tuple(data["pinned"][int(issue.row[1:])].values()) in new
    ]
    if broken:
        raise ServiceProblem(
            422,
            "These offers would break the region's rules; nothing was offered.",
            kind="rule-broken",
            errors=[
                ProblemIssue(
                    location="offers",
                    message=_offer_message(issue.message, data, issue.row),
                )
                for issue in broken
            ],
        )

    made = []
    now = utcnow()
    expires = now + dt.timedelta(days=expiry_days)
    for client_id, unit_id in pairs:
        offer = t.Offer(
            run_id=run_id,
            client_id=client_id,
            unit_id=unit_id,
            status="proposed",
            by_hand=(client_id, unit_id) in by_hand,
            intended_start_date=intended_start_date,
            created_by=caller.name,
            created_at=now,
            expires_at=expires,
        )
        session.add(offer)
        session.flush()  # the unique indexes speak here if a concurrent request was quicker
        record(
            session,
            caller,
            "offer.created",
            "offer",
            offer.id,
            client_id=client_id,
            unit_id=unit_id,
            run_id=run_id,
            by_hand=offer.by_hand or None,
        )
        set_client_status(
            session, caller, session.get(t.Client, client_id), "proposed", offer_id=offer.id
        )
        made.append(offer)
    return made


def _offer_message(message: str, data: dict, row: str | None) -> str:
    if row is None:
        return message
    pair = data["pinned"][int(row[1:])]
    return f"Offering {pair['unit_id']} to {pair['client_id']} {message}"


def get_offer(session: Session, offer_id: int, *, for_update: bool = True) -> t.Offer:
    query = select(t.Offer).where(t.Offer.id == offer_id)
    if for_update:
        query = query.with_for_update()
    offer = session.scalar(query)
    if offer is None:
        raise not_found("offer", offer_id)
    return offer


def transition(
    session: Session,
    caller: Caller,
    offer: t.Offer,
    to: str,
    *,
    allowed_from: tuple[str, ...],
    reason: str | None = None,
) -> t.Offer:
    expire_due(session)
    session.refresh(offer)
    if offer.status not in allowed_from:
        raise conflict(
            f"Offer {offer.id} is {offer.status}; it can only become {to} when "
            f"{' or '.join(allowed_from)}."
        )
    now = utcnow()
    previous = offer.status
    offer.status = to
    client = session.get(t.Client, offer.client_id)
    if to in ("accepted", "refused", "withdrawn") and previous == "proposed":
        offer.decided_at = now
    if to == "refused":
        offer.refusal_reason = reason
        if session.get(t.Refusal, (offer.client_id, offer.unit_id)) is None:
            session.add(
                t.Refusal(
                    client_id=offer.client_id,
                    unit_id=offer.unit_id,
                    reason=reason,
                    offer_id=offer.id,
                )
            )
    if to in ("refused", "withdrawn"):
        set_client_status(session, caller, client, "ready", offer_id=offer.id)
    if to == "let":
        offer.let_at = now
        unit = session.get(t.Vacancy, offer.unit_id)
        unit.status, unit.closed_at, unit.status_reason = "let", now, f"let to offer {offer.id}"
        complex_ = session.get(t.Complex, unit.complex_id)
        # the newcomer is a vulnerable household in the building from now on (rule 10)
        complex_.vulnerable_residents = min(complex_.units_total, complex_.vulnerable_residents + 1)
        set_client_status(session, caller, client, "housed", offer_id=offer.id)
    record(
        session,
        caller,
        f"offer.{to}",
        "offer",
        offer.id,
        previous=previous,
        client_id=offer.client_id,
        unit_id=offer.unit_id,
        reason=reason,
    )
    return offer


def close_open_offers(session: Session, caller: Caller, *, unit_id=None, client_id=None) -> None:
    """Withdraw the open offers of a unit or client that is leaving (let elsewhere, withdrawn)."""
    query = select(t.Offer).where(t.Offer.status.in_(OPEN_OFFER_STATES))
    query = query.where(t.Offer.unit_id == unit_id) if unit_id else query
    query = query.where(t.Offer.client_id == client_id) if client_id else query
    for offer in session.scalars(query).all():
        transition(session, caller, offer, "withdrawn", allowed_from=OPEN_OFFER_STATES)
