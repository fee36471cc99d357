"""The audit trail: who created, changed, accepted or refused what, and when.

Written in the same transaction as the change it describes, so the trail never claims a change
that was rolled back, nor misses one that was committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.deps import Caller
from service.tables import AuditEvent, Client, utcnow

SYSTEM = Caller(None, "system", "admin")


def record(
    session: Session,
    caller: Caller,
    action: str,
    entity: str,
    entity_id: object,
    region_id: int | None = None,
    **details: Any,
) -> None:
    """An event, in the caller's region (the session's, unless ``region_id`` says)."""
    session.add(
        AuditEvent(
            region_id=region_id,
            actor=caller.name,
            actor_role=caller.role,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            details={k: v for k, v in details.items() if v is not None},
        )
    )


def set_client_status(
    session: Session, caller: Caller, client: Client, status: str, **details: Any
) -> None:
    """Every status change of a client is an event in its history."""
    if client.status == status:
        return
    record(
        session,
        caller,
        f"client.{status}",
        "client",
        client.id,
        previous=client.status,
        **details,
    )
    client.status = status
    if status in ("housed", "withdrawn"):
        client.left_at = utcnow()
