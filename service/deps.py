"""Request dependencies as ``Annotated`` aliases: the session, the caller and the role checks."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import get_read_sessionmaker, get_sessionmaker
from service.problems import ServiceProblem, forbidden
from service.settings import Settings
from service.tables import ApiKey

Role = Literal["coordinator", "corporation", "planner", "admin"]
ROLES: tuple[Role, ...] = ("coordinator", "corporation", "planner", "admin")
KEY_PREFIX = "alk_"


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


#: Methods that only read: their session takes no write lock (SQLite: plain BEGIN).
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    # One transaction per request, committed by the route (so before the response is sent):
    # every change and its audit event commit together, or not at all. Closing rolls back.
    # The caller's key is read in this same session: one connection per request.
    url = request.app.state.settings.database_url
    if request.method in READ_METHODS:
        maker = get_read_sessionmaker(url)
    else:
        maker = get_sessionmaker(url)
    with maker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the key's id and name, its role, and for a corporation which one."""

    key_id: int | None
    name: str
    role: Role
    corporation_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role})"


_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key made by `python -m service create-key` or by an admin.",
)


def current_caller(session: SessionDep, key: Annotated[str | None, Security(_api_key)]) -> Caller:
    unauthorised = ServiceProblem(
        401,
        "Send a valid API key in the X-API-Key header.",
        kind="unauthorised",
        headers={"WWW-Authenticate": "APIKey"},
    )
    if not key:
        raise unauthorised
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        raise unauthorised
    return Caller(row.id, row.name, row.role, row.corporation_id)  # type: ignore[arg-type]


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def allow(*roles: Role):
    def check(caller: CurrentCaller) -> Caller:
        if caller.role not in roles:
            raise forbidden(
                f"The {caller.role} role may not do this; it is for: {', '.join(roles)}."
            )
        return caller

    return check


# The role aliases routes declare. Named by who may call, so a route's signature says it.
CurrentRole = CurrentCaller
Coordinator = Annotated[Caller, Depends(allow("coordinator"))]
Admin = Annotated[Caller, Depends(allow("admin"))]
CoordinatorOrAdmin = Annotated[Caller, Depends(allow("coordinator", "admin"))]
CoordinatorOrCorporation = Annotated[Caller, Depends(allow("coordinator", "corporation"))]
CoordinatorOrPlanner = Annotated[Caller, Depends(allow("coordinator", "planner"))]
RegionReader = Annotated[Caller, Depends(allow("coordinator", "planner", "admin"))]
# what-if simulations hold no personal data: everyone but the corporations
ScenarioRunner = Annotated[Caller, Depends(allow("planner", "coordinator", "admin"))]
AnyRole = Annotated[Caller, Depends(allow(*ROLES))]


def own_corporation(caller: Caller, corporation_id: str, what: str) -> None:
    """A corporation acts only on its own vacancies and offers."""
    if caller.role == "corporation" and caller.corporation_id != corporation_id:
        raise forbidden(f"This {what} belongs to another corporation.")


#: Row ids in paths: bounded, so that no number reaches the database that it cannot store.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647, description="A row id.")]
