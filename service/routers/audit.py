"""The audit trail of the region: who created, changed, accepted or refused what, when.

What each role sees (DOMAIN.md, Privacy): the coordinator the whole trail; an admin who did what
and when, without personal data (no client ids, target groups or free-text reasons: only the
details named in ``ADMIN_DETAILS``).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query
from sqlalchemy import select

from service import tables as t
from service.deps import CoordinatorOrAdmin, Principal, SessionDep
from service.pagination import PageDep
from service.problems import responses
from service.schemas import AuditEventOut

router = APIRouter(prefix="/audit", tags=["audit"], responses=responses(401, 403, 422, 503))

#: The details of an event an admin may read: none is personal data.
ADMIN_DETAILS = frozenset(
    {
        "previous",
        "by_hand",
        "run_id",
        "offer_id",
        "unit_id",
        "corporation_id",
        "rent",
        "role",
        "name",
        "region_id",
        "input_hash",
        "method",
        "time_limit_seconds",
        "seed",
        "workers",
        "worker",
        "size",
        "seeds",
        "variants",
        "municipalities",
        "units",
        "clients",
        "quota",
        "year",
        "units_total",
        "vulnerable_residents",
        "max_vulnerable_share",
        "objective",
        "fields",
    }
)
HIDDEN = "(personal: hidden)"


def event_for(event: t.AuditEvent, caller: Principal) -> AuditEventOut:
    out = AuditEventOut.model_validate(event)
    if caller.role == "coordinator":
        return out
    out.details = {k: v for k, v in event.details.items() if k in ADMIN_DETAILS}
    if event.entity == "client":
        out.entity_id = HIDDEN
    return out


@router.get("", response_model=list[AuditEventOut])
def read_audit_trail(
    session: SessionDep,
    caller: CoordinatorOrAdmin,
    page: PageDep,
    entity: str | None = Query(default=None, max_length=30, examples=["offer"]),
    entity_id: str | None = Query(default=None, max_length=100),
    actor: str | None = Query(default=None, max_length=200),
    since: dt.datetime | None = None,
):
    """Newest first. An admin sees no personal data (see the module)."""
    query = select(t.AuditEvent).order_by(t.AuditEvent.id.desc())
    if entity:
        query = query.where(t.AuditEvent.entity == entity)
    if entity_id:
        if caller.role != "coordinator" and entity == "client":
            entity_id = "\x00"  # an admin cannot look a client up by id
        query = query.where(t.AuditEvent.entity_id == entity_id)
    if actor:
        query = query.where(t.AuditEvent.actor == actor)
    if since:
        query = query.where(t.AuditEvent.at >= since)
    return [event_for(e, caller) for e in page.of(session, query)]
