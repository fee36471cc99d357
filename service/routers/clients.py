"""Clients: registered by the coordinator; ready, proposed, housed or withdrawn, with history."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError
from sqlalchemy import select

from allocator.errors import InputIssue, InstanceError
from service import scope
from service import tables as t
from service.audit import record
from service.db import retrying
from service.deps import Coordinator, SessionDep
from service.offers import lock
from service.offers import withdraw_client as withdraw
from service.pagination import PageDep
from service.problems import ProblemIssue, ServiceProblem, conflict, not_found, responses
from service.retention import erase_on_request
from service.schemas import (
    AuditEventOut,
    ClientIn,
    ClientOut,
    ClientStatus,
    ClientUpdate,
    WithdrawIn,
)
from service.state import refused_units
from service.units import resolve, split

router = APIRouter(prefix="/clients", tags=["clients"], responses=responses(401, 403, 503))


def client_out(client: t.Client, refused: list[str]) -> ClientOut:
    out = ClientOut.model_validate(client)
    out.refused_units = refused
    return out


def _check_municipalities(session, client: ClientIn) -> None:
    known = set(session.scalars(select(t.Municipality.id)))
    issues = [
        InputIssue("clients", client.id, field, f"unknown municipality {m!r}")
        for field in ("preferred_municipalities", "excluded_municipalities")
        for m in getattr(client, field)
        if m not in known
    ]
    provider = client.support_provider_id
    if provider is not None and scope.get(session, t.SupportProvider, provider) is None:
        issues.append(
            InputIssue(
                "clients",
                client.id,
                "support_provider_id",
                f"unknown support provider {provider!r}",
            )
        )
    if issues:
        raise InstanceError(issues)


@router.post("", response_model=ClientOut, status_code=201, responses=responses(409, 422))
def register_client(body: ClientIn, session: SessionDep, caller: Coordinator):
    """Register a client who is ready to move. ``id`` is a pseudonym, never a name."""
    if scope.get(session, t.Client, body.id):
        raise conflict(f"Client {body.id!r} is already registered.")
    _check_municipalities(session, body)
    client = t.Client(**body.model_dump(exclude={"refused_units"}), status="ready")
    session.add(client)
    session.flush()
    for i, ref in enumerate(dict.fromkeys(body.refused_units)):
        # a unit of one corporation, or an id no unit has yet (then every unit with that id)
        corporation_id, unit_id = resolve(
            session, ref, None, field="refused_units", location=f"refused_units[{i}]"
        ) or ("", split(ref)[1])
        session.add(
            t.Refusal(
                client_id=client.id,
                corporation_id=corporation_id,
                unit_id=unit_id,
                reason="before registration",
            )
        )
    session.flush()
    record(
        session, caller, "client.registered", "client", client.id, target_group=body.target_group
    )
    session.commit()
    return client_out(client, refused_units(session, [client.id]).get(client.id, []))


@router.get("", response_model=list[ClientOut])
def list_clients(
    session: SessionDep, caller: Coordinator, page: PageDep, status: ClientStatus | None = None
):
    """By id; a page at a time (``limit``, ``offset``; ``X-Total-Count``, ``Link``)."""
    query = select(t.Client).order_by(t.Client.id)
    if status:
        query = query.where(t.Client.status == status)
    clients = page.of(session, query)
    refused = refused_units(session, [c.id for c in clients])
    return [client_out(c, refused.get(c.id, [])) for c in clients]


def _client(session, client_id: str) -> t.Client:
    client = scope.get(session, t.Client, client_id)
    if client is None:
        raise not_found("client", client_id)
    return client


@router.get("/{client_id}", response_model=ClientOut, responses=responses(404))
def read_client(client_id: str, session: SessionDep, caller: Coordinator):
    client = _client(session, client_id)
    return client_out(client, refused_units(session).get(client.id, []))


@router.patch("/{client_id}", response_model=ClientOut, responses=responses(404, 409, 422))
@retrying
def update_client(client_id: str, body: ClientUpdate, session: SessionDep, caller: Coordinator):
    """Change a ready client's dossier; the whole dossier is checked again."""
    _client(session, client_id)
    (client,) = lock(session, t.Client, [client_id])
    if client.status != "ready":
        raise conflict(f"Client {client_id!r} is {client.status}; only a ready client changes.")
    refused = refused_units(session).get(client.id, [])
    merged = client_out(client, refused).model_dump(
        include=set(ClientIn.model_fields) - {"refused_units"}
    )
    changes = body.model_dump(exclude_unset=True)
    if all(getattr(client, field) == value for field, value in changes.items()):
        return client_out(client, refused)  # nothing changes: nothing to record
    merged.update(changes)
    try:
        checked = ClientIn.model_validate(merged)
    except ValidationError as exc:
        raise ServiceProblem(
            422,
            "The changed dossier is not valid.",
            errors=[
                ProblemIssue(
                    location=".".join(map(str, e["loc"])) or "body",
                    message=str(e["msg"]).removeprefix("Value error, "),
                )
                for e in exc.errors()
            ],
        ) from None
    _check_municipalities(session, checked)
    for field in changes:
        setattr(client, field, getattr(checked, field))
    record(session, caller, "client.changed", "client", client.id, fields=sorted(changes))
    session.commit()
    return client_out(client, refused)


@router.post("/{client_id}/withdraw", response_model=ClientOut, responses=responses(404, 409, 422))
@retrying
def withdraw_client(client_id: str, body: WithdrawIn, session: SessionDep, caller: Coordinator):
    """The client no longer needs a dwelling through the region; open offers are withdrawn."""
    client = withdraw(session, caller, client_id, body.reason)
    session.commit()
    return client_out(client, refused_units(session, [client.id]).get(client.id, []))


@router.post("/{client_id}/erase", response_model=ClientOut, responses=responses(404, 409, 422))
@retrying
def erase_client(client_id: str, session: SessionDep, caller: Coordinator):
    """Erase the client's personal data now, on the client's request (AVG art. 17): what
    stays is pseudonymous. A ready client is withdrawn first; one in an open offer cannot be."""
    client = erase_on_request(session, caller, client_id)
    session.commit()
    return client_out(client, refused_units(session, [client.id]).get(client.id, []))


@router.get("/{client_id}/history", response_model=list[AuditEventOut], responses=responses(404))
def client_history(client_id: str, session: SessionDep, caller: Coordinator):
    """Every event of this client and of its offers, oldest first."""
    _client(session, client_id)
    offer_ids = [
        str(i) for i in session.scalars(select(t.Offer.id).where(t.Offer.client_id == client_id))
    ]
    query = (
        select(t.AuditEvent)
        .where(
            ((t.AuditEvent.entity == "client") & (t.AuditEvent.entity_id == client_id))
            | ((t.AuditEvent.entity == "offer") & t.AuditEvent.entity_id.in_(offer_ids))
        )
        .order_by(t.AuditEvent.id)
    )
    return session.scalars(query).all()
