"""The audit trail, for the coordinator: who created, changed, accepted or refused what, when."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query
from sqlalchemy import select

from service import tables as t
from service.deps import CoordinatorOrAdmin, SessionDep
from service.problems import responses
from service.schemas import AuditEventOut

router = APIRouter(prefix="/audit", tags=["audit"], responses=responses(401, 403, 422, 503))


@router.get("", response_model=list[AuditEventOut])
def read_audit_trail(
    session: SessionDep,
    caller: CoordinatorOrAdmin,
    entity: str | None = Query(default=None, max_length=30, examples=["offer"]),
    entity_id: str | None = Query(default=None, max_length=100),
    actor: str | None = Query(default=None, max_length=200),
    since: dt.datetime | None = None,
    limit: int = Query(default=500, ge=1, le=5000),
):
    """Newest first."""
    query = select(t.AuditEvent).order_by(t.AuditEvent.id.desc()).limit(limit)
    if entity:
        query = query.where(t.AuditEvent.entity == entity)
    if entity_id:
        query = query.where(t.AuditEvent.entity_id == entity_id)
    if actor:
        query = query.where(t.AuditEvent.actor == actor)
    if since:
        query = query.where(t.AuditEvent.at >= since)
    return session.scalars(query).all()
