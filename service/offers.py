"""Offers: making them (with every rule checked), and their life cycle.

proposed → accepted | refused | withdrawn | expired; accepted → let | withdrawn. A refused unit
is never offered to that client again; an accepted offer is pinned in later runs; a let offer
houses the client and adds a vulnerable household to the building.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, select, tuple_, update
from sqlalchemy.orm import Session

from allocator.errors import InstanceError
from allocator.models import parse_instance
from allocator.validator import pinned_issues
from service import scope
from service import tables as t
from service.audit import SYSTEM, record, set_client_status
from service.db import TryAgain, get_sessionmaker, lock_region
from service.deps import Caller, own_corporation
from service.problems import ProblemIssue, ServiceProblem, conflict, issues_of, not_found
from service.scope import region_of, set_region
from service.state import build_instance
from service.tables import OPEN_OFFER_STATES, utcnow
from service.units import Key, reference, shared_ids


def lock(session: Session, table: Any, ids: Iterable[str | int]) -> list[Any]:
    """``SELECT … FOR UPDATE`` of these rows, by id, fresh from the database.

    Every writer locks in one order, vacancies (by corporation and id, ``lock_vacancies``), then
    clients, then offers, each by id, so two writers never wait for each other in a circle.
    (SQLite serialises writers instead.)
    """
    ids = sorted(set(ids))
    if not ids:
        return []
    query = (
        select(table)
        .where(table.region_id == _region(session), table.id.in_(ids))
        .order_by(table.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def lock_vacancies(session: Session, keys: Iterable[Key]) -> list[t.Vacancy]:
    """``lock`` for vacancies, by (corporation, unit id): unit ids are each corporation's own."""
    keys = sorted(set(keys))
    if not keys:
        return []
    query = (
        select(t.Vacancy)
        .where(
            t.Vacancy.region_id == _region(session),
            tuple_(t.Vacancy.corporation_id, t.Vacancy.id).in_(keys),
        )
        .order_by(t.Vacancy.corporation_id, t.Vacancy.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def vacancy_of(session: Session, offer: t.Offer) -> t.Vacancy | None:
    return scope.get(session, t.Vacancy, offer.unit_id, corporation_id=offer.corporation_id)


def _region(session: Session) -> int:
    """The region whose rows a writer locks: ids are each region's own (``scope.get``)."""
    region_id = region_of(session)
    if region_id is None:
        raise ValueError("locking rows by id needs the session's region")
    return region_id


def lock_offer(session: Session, offer_id: int) -> t.Offer:
    """Lock the rows a transition of this offer decides from: its vacancy, its client, itself.
    (An offer's unit and client never change, so reading them first without a lock is safe.)"""
    parties = session.execute(
        select(t.Offer.corporation_id, t.Offer.unit_id, t.Offer.client_id).where(
            t.Offer.id == offer_id
        )
    ).first()
    if parties is None:
        raise not_found("offer", offer_id)
    lock_vacancies(session, [(parties.corporation_id, parties.unit_id)])
    lock(session, t.Client, [parties.client_id])
    (offer,) = lock(session, t.Offer, [offer_id])
    return offer


def due_offers(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(t.Offer.id).where(t.Offer.status == "proposed", t.Offer.expires_at < utcnow())
        )
    )


def expire_due(session: Session) -> int:
    """Offers past their answer date expire, and their clients are ready again."""
    due = session.execute(
        select(t.Offer.id, t.Offer.corporation_id, t.Offer.unit_id, t.Offer.client_id).where(
            t.Offer.status == "proposed", t.Offer.expires_at < utcnow()
        )
    ).all()
    if not due:
        return 0
    lock_vacancies(session, [(d.corporation_id, d.unit_id) for d in due])
    clients = {c.id: c for c in lock(session, t.Client, [d.client_id for d in due])}
    expired = 0
    for offer in lock(session, t.Offer, [d.id for d in due]):
        if offer.status != "proposed" or offer.expires_at >= utcnow():
            continue  # answered in the meantime
        offer.status = "expired"
        offer.decided_at = utcnow()
        expired += 1
        record(
            session,
            SYSTEM,
            "offer.expired",
            "offer",
            offer.id,
            unit_id=offer.unit_id,
            corporation_id=offer.corporation_id,
        )
        client = clients.get(offer.client_id)
        if client is not None and client.status == "proposed":
            set_client_status(session, SYSTEM, client, "ready", offer_id=offer.id)
    return expired


def expire_due_for_reading(session: Session, database_url: str) -> None:
    """Before a read: expire what is due in a write transaction of its own, so that the read
    itself never takes a write lock; then the read starts from a fresh snapshot."""
    if not due_offers(session):
        return
    with get_sessionmaker(database_url)() as writer:
        set_region(writer, region_of(session))
        expire_due(writer)
        writer.commit()
    session.rollback()


def make_offers(
    session: Session,
    caller: Caller,
    pairs: list[tuple[str, Key]],
    *,
    expiry_days: int,
    run_id: int | None = None,
    by_hand: set[tuple[str, Key]] = frozenset(),
    intended_start_date: dt.date | None = None,
) -> list[t.Offer]:
    """Offer each unit to its client, all or nothing, after checking every rule of the contract
    on these offers together with every offer already open. A pair is (client, (the unit's
    corporation, unit id))."""
    lock_region(session)
    expire_due(session)
    lock_vacancies(session, [u for _, u in pairs])
    lock(session, t.Client, [c for c, _ in pairs])
    problems: list[ProblemIssue] = []

    def problem(i: int, field: str, message: str) -> None:
        problems.append(ProblemIssue(location=f"offers[{i}].{field}", field=field, message=message))

    seen_clients: set[str] = set()
    seen_units: set[Key] = set()
    for i, (client_id, unit_key) in enumerate(pairs):
        corporation_id, unit_id = unit_key
        client = scope.get(session, t.Client, client_id)
        unit = scope.get(session, t.Vacancy, unit_id, corporation_id=corporation_id)
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
        elif unit_key in seen_units:
            problem(i, "unit_id", f"Vacancy {unit_id!r} is offered twice.")
        elif session.scalar(
            select(t.Offer.id).where(
                t.Offer.corporation_id == corporation_id,
                t.Offer.unit_id == unit_id,
                t.Offer.status.in_(OPEN_OFFER_STATES),
            )
        ):
            problem(i, "unit_id", f"Vacancy {unit_id!r} already has an open offer.")
        seen_clients.add(client_id)
        seen_units.add(unit_key)
    if problems:
        raise conflict("Some offers cannot be made; nothing was offered.", problems)

    data = build_instance(session, pin_states=OPEN_OFFER_STATES, extra_pinned=pairs)
    try:
        instance = parse_instance(data)
    except InstanceError as exc:  # the stored state itself is inconsistent
        raise ServiceProblem(
            409, "The region's current state is not a valid instance.", errors=issues_of(exc)
        ) from None
    shared = shared_ids(session)
    new = {(c, reference(corporation_id, u, shared)) for c, (corporation_id, u) in pairs}
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
    for client_id, (corporation_id, unit_id) in pairs:
        offer = t.Offer(
            run_id=run_id,
            client_id=client_id,
            corporation_id=corporation_id,
            unit_id=unit_id,
            status="proposed",
            by_hand=(client_id, (corporation_id, unit_id)) in by_hand,
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
            corporation_id=corporation_id,
            run_id=run_id,
            by_hand=offer.by_hand or None,
        )
        set_client_status(
            session, caller, scope.get(session, t.Client, client_id), "proposed", offer_id=offer.id
        )
        made.append(offer)
    return made


def _offer_message(message: str, data: dict, row: str | None) -> str:
    if row is None:
        return message
    pair = data["pinned"][int(row[1:])]
    return f"Offering {pair['unit_id']} to {pair['client_id']} {message}"


def get_offer(session: Session, offer_id: int) -> t.Offer:
    offer = session.get(t.Offer, offer_id)
    if offer is None:
        raise not_found("offer", offer_id)
    return offer


def transition(
    session: Session,
    caller: Caller,
    offer_id: int,
    to: str,
    *,
    allowed_from: tuple[str, ...],
    reason: str | None = None,
) -> t.Offer:
    """Move one offer on, deciding from its rows as they are now, locked (``lock_offer``)."""
    offer = lock_offer(session, offer_id)
    return _move(session, caller, offer, to, allowed_from=allowed_from, reason=reason)


def _move(session, caller, offer: t.Offer, to: str, *, allowed_from, reason=None) -> t.Offer:
    """The transition itself; the caller holds the locks of the offer's vacancy, client, offer."""
    if offer.status == "proposed" and offer.expires_at < utcnow():
        raise conflict(f"Offer {offer.id} expired on {offer.expires_at:%Y-%m-%d}.")
    if offer.status not in allowed_from:
        raise conflict(
            f"Offer {offer.id} is {offer.status}; it can only become {to} when "
            f"{' or '.join(allowed_from)}."
        )
    now = utcnow()
    previous = offer.status
    offer.status = to
    client = scope.get(session, t.Client, offer.client_id)
    if to in ("accepted", "refused", "withdrawn") and previous == "proposed":
        offer.decided_at = now
    if to == "refused":
        offer.refusal_reason = reason
        refused = {
            "client_id": offer.client_id,
            "corporation_id": offer.corporation_id,
            "unit_id": offer.unit_id,
        }
        if scope.get(session, t.Refusal, **refused) is None:
            session.add(
                t.Refusal(
                    client_id=offer.client_id,
                    corporation_id=offer.corporation_id,
                    unit_id=offer.unit_id,
                    reason=reason,
                    offer_id=offer.id,
                )
            )
    if to in ("refused", "withdrawn") and client.status == "proposed":
        set_client_status(session, caller, client, "ready", offer_id=offer.id)
    if to == "let":
        offer.let_at = now
        unit = vacancy_of(session, offer)
        unit.status, unit.closed_at, unit.status_reason = "let", now, f"let to offer {offer.id}"
        # the newcomer is a vulnerable household in the building from now on (rule 10),
        # counted in SQL so that concurrent lets in one building each count
        residents = t.Complex.vulnerable_residents
        session.execute(
            update(t.Complex)
            .where(t.Complex.region_id == unit.region_id, t.Complex.id == unit.complex_id)
            .values(
                vulnerable_residents=case(
                    (residents < t.Complex.units_total, residents + 1),
                    else_=t.Complex.units_total,
                )
            )
        )
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
        corporation_id=offer.corporation_id,
        reason=reason,
    )
    return offer


def withdraw_vacancy_offers(session: Session, caller: Caller, vacancy: t.Vacancy) -> None:
    """The vacancy (locked by the caller) leaves: its proposed offer is withdrawn. An accepted
    offer stays: only the coordinator withdraws it (``POST /offers/{id}/withdraw``)."""
    open_offers = session.execute(
        select(t.Offer.id, t.Offer.client_id).where(
            t.Offer.corporation_id == vacancy.corporation_id,
            t.Offer.unit_id == vacancy.id,
            t.Offer.status.in_(OPEN_OFFER_STATES),
        )
    ).all()
    lock(session, t.Client, [o.client_id for o in open_offers])
    offers = lock(session, t.Offer, [o.id for o in open_offers])
    accepted = [o.id for o in offers if o.status == "accepted"]
    if accepted:
        raise conflict(
            f"Vacancy {vacancy.id!r} has accepted offer {accepted[0]}; the coordinator must "
            "withdraw that offer first."
        )
    for offer in offers:
        if offer.status == "proposed":
            _move(session, caller, offer, "withdrawn", allowed_from=("proposed",))


def withdraw_vacancy(session: Session, caller: Caller, vacancy: Key, reason: str) -> t.Vacancy:
    """The unit (corporation, id) is no longer available: its proposed offer is withdrawn; an
    accepted offer must be withdrawn by the coordinator first. A corporation reaches only its
    own vacancies."""
    vacancy_id = vacancy[1]
    (row,) = lock_vacancies(session, [vacancy]) or (None,)
    if row is None:
        raise not_found("vacancy", vacancy_id)
    own_corporation(caller, row.corporation_id, "vacancy", vacancy_id)
    if row.status != "open":
        raise conflict(f"Vacancy {vacancy_id!r} is already {row.status}.")
    withdraw_vacancy_offers(session, caller, row)
    row.status, row.status_reason, row.closed_at = "withdrawn", reason, utcnow()
    record(
        session,
        caller,
        "vacancy.withdrawn",
        "vacancy",
        row.id,
        corporation_id=row.corporation_id,
        reason=reason,
    )
    return row


def withdraw_client(session: Session, caller: Caller, client_id: str, reason: str) -> t.Client:
    """The client no longer needs a dwelling through the region; open offers are withdrawn."""
    client, offers = lock_client_leaving(session, client_id)
    if client.status in ("housed", "withdrawn"):
        raise conflict(f"Client {client_id!r} is already {client.status}.")
    withdraw_client_offers(session, caller, offers)
    set_client_status(session, caller, client, "withdrawn", reason=reason)
    return client


def lock_client_leaving(session: Session, client_id: str) -> tuple[t.Client, list[t.Offer]]:
    """Lock a client who is leaving with the vacancies and offers of its open offers, in the one
    order (vacancies first). An offer made between the first look and the locks means: again."""
    units = {
        (row.corporation_id, row.unit_id)
        for row in session.execute(
            select(t.Offer.corporation_id, t.Offer.unit_id).where(
                t.Offer.client_id == client_id, t.Offer.status.in_(OPEN_OFFER_STATES)
            )
        )
    }
    lock_vacancies(session, units)
    clients = lock(session, t.Client, [client_id])
    if not clients:
        raise not_found("client", client_id)
    offers = session.scalars(
        select(t.Offer)
        .where(t.Offer.client_id == client_id, t.Offer.status.in_(OPEN_OFFER_STATES))
        .order_by(t.Offer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if {(o.corporation_id, o.unit_id) for o in offers} - units:
        raise TryAgain()
    return clients[0], list(offers)


def withdraw_client_offers(session: Session, caller: Caller, offers: list[t.Offer]) -> None:
    """The client (locked with its offers by ``lock_client_leaving``) leaves: every open offer
    is withdrawn; the coordinator's decision, so accepted ones too."""
    for offer in offers:
        _move(session, caller, offer, "withdrawn", allowed_from=OPEN_OFFER_STATES)
