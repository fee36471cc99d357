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
from service.problems import ServiceProblem, forbidden, not_found
from service.scope import set_region
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
        session.info["request"] = True
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is asking: the key's id and name, its role, its region (none: an admin of the whole
    installation) and, for a corporation, which one. Resolved once per request
    (``current_principal``), which also scopes the request's session to the region."""

    key_id: int | None
    name: str
    role: Role
    corporation_id: str | None = None
    region_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role})"

    @property
    def installation_admin(self) -> bool:
        return self.role == "admin" and self.region_id is None


#: The earlier name; the same thing.
Caller = Principal

_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key made by `python -m service create-key` or by an admin.",
)


def principal_of_key(session: Session, key: str | None) -> Principal:
    """The principal of an API key, and the session scoped to its region (``scope.py``): from
    here on the session sees only that region. Also for callers other than the API (pages)."""
    unauthorised = ServiceProblem(
        401,
        "Send a valid API key in the X-API-Key header.",
        kind="unauthorised",
        headers={"WWW-Authenticate": "APIKey"},
    )
    if not key:
        raise unauthorised
    set_region(session, None)
    write = session.info.get("write", True)
    session.info["write"] = False  # the look-up only reads: no write lock for it
    try:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    finally:
        session.info["write"] = write
    principal = caller_of_key(row)
    if principal is None:
        session.rollback()
        raise unauthorised
    # End the look-up's transaction: the route begins its own in its own thread. (On SQLite a
    # writer's transaction holds the write lock; held across FastAPI's separate thread-pool
    # calls for dependencies and route, writers waiting for the lock would hold every thread
    # while the holder waits for one.)
    session.rollback()
    set_region(session, principal.region_id)
    return principal


def caller_of_key(row: ApiKey | None) -> Principal | None:
    """Who a stored key stands for; None for no key or a revoked one. The API (a key in a
    header) and the pages (a key's id in a signed session cookie) both resolve callers here."""
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.id, row.name, row.role, row.corporation_id, row.region_id)  # type: ignore[arg-type]


def current_principal(
    session: SessionDep, key: Annotated[str | None, Security(_api_key)]
) -> Principal:
    return principal_of_key(session, key)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentCaller = CurrentPrincipal


def allow(*roles: Role, installation: bool = False):
    """Only these roles; and, unless ``installation``, only a key of a region (an admin of the
    whole installation manages regions and keys, not a region's data)."""

    def check(caller: CurrentPrincipal) -> Principal:
        if caller.role not in roles:
            raise forbidden(
                f"The {caller.role} role may not do this; it is for: {', '.join(roles)}."
            )
        if caller.region_id is None and not installation:
            raise forbidden(
                "This key belongs to no region: an installation admin manages regions and keys. "
                "Use a key of the region for its data."
            )
        return caller

    return check


# The role aliases routes declare. Named by who may call, so a route's signature says it.
CurrentRole = CurrentCaller
Coordinator = Annotated[Principal, Depends(allow("coordinator"))]
Admin = Annotated[Principal, Depends(allow("admin"))]


def installation_admin(caller: CurrentPrincipal) -> Principal:
    if not caller.installation_admin:
        raise forbidden("Only an admin of the whole installation may do this.")
    return caller


#: an admin of the whole installation (no region): makes regions
InstallationAdmin = Annotated[Principal, Depends(installation_admin)]
#: an admin of a region or of the whole installation
AnyAdmin = Annotated[Principal, Depends(allow("admin", installation=True))]
CoordinatorOrAdmin = Annotated[Principal, Depends(allow("coordinator", "admin"))]
CoordinatorOrCorporation = Annotated[Principal, Depends(allow("coordinator", "corporation"))]
CoordinatorOrPlanner = Annotated[Principal, Depends(allow("coordinator", "planner"))]
RegionReader = Annotated[Principal, Depends(allow("coordinator", "planner", "admin"))]
# what-if simulations hold no personal data: everyone but the corporations
ScenarioRunner = Annotated[Principal, Depends(allow("planner", "coordinator", "admin"))]
AnyRole = Annotated[Principal, Depends(allow(*ROLES))]


def own_corporation(caller: Principal, corporation_id: str, what: str, id_: object) -> None:
    """A corporation acts only on its own vacancies and offers; another corporation's are, to
    it, not there at all (404, as for an id that does not exist)."""
    if caller.role == "corporation" and caller.corporation_id != corporation_id:
        raise not_found(what, id_)


#: Row ids in paths: bounded, so that no number reaches the database that it cannot store.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647, description="A row id.")]
