"""API keys (admin). The key is shown once; only its SHA-256 is stored."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import tables as t
from service.audit import record
from service.deps import AnyAdmin, Principal, RowId, SessionDep, hash_key, new_key
from service.pagination import PageDep
from service.problems import ServiceProblem, conflict, not_found, responses
from service.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut
from service.tables import utcnow

router = APIRouter(prefix="/api-keys", tags=["admin"], responses=responses(401, 403, 503))


def create_key(
    session: Session,
    caller: Principal,
    name: str,
    role: str,
    corporation_id: str | None,
    region_id: int | None = None,
) -> tuple[t.ApiKey, str]:
    """A key of ``region_id`` (a region's admin: always its own region); an admin key without a
    region is an admin of the whole installation, which only such an admin (or the command
    line) makes."""
    if caller.region_id is not None:
        if region_id not in (None, caller.region_id):
            raise not_found("region", region_id)  # another region is not there for this admin
        region_id = caller.region_id
    elif region_id is not None and session.get(t.Region, region_id) is None:
        raise ServiceProblem(422, f"There is no region {region_id}.")
    if region_id is None and role != "admin":
        raise ServiceProblem(422, f"A {role} key needs region_id.")
    if role == "corporation":
        if not corporation_id:
            raise ServiceProblem(422, "A corporation key needs corporation_id.")
        corporation = session.get(t.Corporation, {"region_id": region_id, "id": corporation_id})
        if corporation is None:
            raise ServiceProblem(422, f"The region has no corporation {corporation_id!r}.")
    elif corporation_id is not None:
        raise ServiceProblem(422, "Only a corporation key has a corporation_id.")
    key = new_key()
    row = t.ApiKey(
        name=name,
        role=role,
        region_id=region_id,
        corporation_id=corporation_id,
        key_hash=hash_key(key),
        prefix=key[:10],
    )
    session.add(row)
    session.flush()
    record(
        session,
        caller,
        "api_key.created",
        "api_key",
        row.id,
        name=name,
        role=role,
        region_id=region_id,
        corporation_id=corporation_id,
    )
    return row, key


@router.post("", response_model=ApiKeyCreated, status_code=201, responses=responses(404, 422))
def create_api_key(body: ApiKeyIn, session: SessionDep, caller: AnyAdmin):
    row, key = create_key(
        session, caller, body.name, body.role, body.corporation_id, body.region_id
    )
    session.commit()
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@router.get("", response_model=list[ApiKeyOut])
def list_api_keys(session: SessionDep, caller: AnyAdmin, page: PageDep):
    """A region's admin: the region's keys (the session is scoped); an installation admin: all."""
    return page.of(session, select(t.ApiKey).order_by(t.ApiKey.id))


@router.delete("/{key_id}", response_model=ApiKeyOut, responses=responses(404, 409, 422))
def revoke_api_key(key_id: RowId, session: SessionDep, caller: AnyAdmin):
    row = session.get(t.ApiKey, key_id)
    if row is None:
        raise not_found("API key", key_id)
    if row.revoked_at is not None:
        raise conflict(f"API key {key_id} is already revoked.")
    row.revoked_at = utcnow()
    record(session, caller, "api_key.revoked", "api_key", row.id)
    session.commit()
    return row
