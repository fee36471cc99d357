"""Retention of personal data (AVG art. 5(1)(e) and art. 17).

A client's personal fields (household, rent limit, needs, preferences, target group, support
contact, income bracket) and every free-text reason about the client are erased once the client
has been housed or withdrawn for ``RETENTION_MONTHS`` (``python -m service purge``, and the
workers once a day), or at once on request (``POST /clients/{id}/erase``). What stays is
pseudonymous: the client's id (a pseudonym), its status, the year it became ready, its offers'
statuses and dates, so counts and waiting-time aggregates still add up. The erasure is an event
in the audit trail that holds none of the erased data; earlier events lose the erased details.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from service import tables as t
from service.audit import SYSTEM, record
from service.deps import Principal
from service.offers import lock
from service.problems import conflict, not_found
from service.scope import set_region
from service.tables import utcnow

log = logging.getLogger("service.retention")

ERASED = "(erased)"
#: Details of audit events that hold personal data of a client.
PERSONAL_DETAILS = ("reason", "target_group")


def erase(session: Session, caller: Principal, client: t.Client) -> None:
    """Erase one client's personal fields (the client row locked by the caller)."""
    client.household_size = 1
    client.max_rent = None
    client.needs_accessible = False
    client.preferred_municipalities = []
    client.excluded_municipalities = []
    client.target_group = ERASED
    client.ready_since = dt.date(client.ready_since.year, 1, 1)
    client.income_bracket = None
    client.support = False
    client.support_contact = None
    client.erased_at = utcnow()
    # the client's own rows: its id is its region's own, so the region is part of the look-up
    # (purge runs in a session without a region)
    in_its_region = (t.Refusal.region_id == client.region_id, t.Refusal.client_id == client.id)
    for refusal in session.scalars(select(t.Refusal).where(*in_its_region)):
        refusal.reason = None
    offers = list(
        session.scalars(
            select(t.Offer).where(
                t.Offer.region_id == client.region_id, t.Offer.client_id == client.id
            )
        )
    )
    for offer in offers:
        offer.refusal_reason = None
    about = or_(
        (t.AuditEvent.entity == "client") & (t.AuditEvent.entity_id == client.id),
        (t.AuditEvent.entity == "offer") & t.AuditEvent.entity_id.in_([str(o.id) for o in offers]),
    )
    events = select(t.AuditEvent).where(t.AuditEvent.region_id == client.region_id, about)
    for event in session.scalars(events):
        if any(k in event.details for k in PERSONAL_DETAILS):
            event.details = {k: v for k, v in event.details.items() if k not in PERSONAL_DETAILS}
    record(session, caller, "client.erased", "client", client.id, region_id=client.region_id)


def erase_on_request(session: Session, caller: Principal, client_id: str) -> t.Client:
    """AVG art. 17: a client who is not in an open offer is erased now (a ready client is
    withdrawn first; one with an open offer must have it withdrawn first)."""
    from service.audit import set_client_status

    clients = lock(session, t.Client, [client_id])
    if not clients:
        raise not_found("client", client_id)
    client = clients[0]
    if client.status == "proposed":
        raise conflict(
            f"Client {client_id!r} has an open offer; withdraw the client (or the offer) first."
        )
    if client.status == "ready":
        set_client_status(session, caller, client, "withdrawn")
    erase(session, caller, client)
    return client


def purge(session: Session, months: int, now: dt.datetime | None = None) -> int:
    """Erase every client that left more than ``months`` ago and is not erased yet (in every
    region: a session without a region)."""
    now = now or utcnow()
    before = now - dt.timedelta(days=round(months * 365.25 / 12))
    due = session.execute(
        select(t.Client.region_id, t.Client.id)
        .where(
            t.Client.status.in_(("housed", "withdrawn")),
            t.Client.erased_at.is_(None),
            func.coalesce(t.Client.left_at, t.Client.registered_at) < before,
        )
        .order_by(t.Client.region_id)
    ).all()
    by_region: dict[int, list[str]] = {}
    for region_id, client_id in due:
        by_region.setdefault(region_id, []).append(client_id)
    # ids are each region's own: the clients are locked region by region
    for region_id, client_ids in by_region.items():
        set_region(session, region_id)
        for client in lock(session, t.Client, client_ids):
            if client.erased_at is None:
                erase(session, SYSTEM, client)
    set_region(session, None)
    return len(due)


def purge_now(database_url: str, months: int) -> int:
    from service.db import get_sessionmaker

    with get_sessionmaker(database_url)() as session:
        n = purge(session, months)
        session.commit()
    if n:
        log.warning("erased the personal fields of %d client(s) past the retention period", n)
    return n
