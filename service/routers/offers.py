"""Offers: made from proposal lines (all, chosen or changed by hand) or by hand; answered.

The coordinator sees offers in full. A corporation sees offers on its own units through
``/corporation/offers``, and there only what DOMAIN.md's Privacy section allows.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from service import scope
from service import tables as t
from service.db import retrying
from service.deps import Coordinator, CoordinatorOrCorporation, RowId, SessionDep, SettingsDep
from service.offers import (
    expire_due_for_reading,
    get_offer,
    make_offers,
    transition,
    vacancy_of,
)
from service.pagination import PageDep
from service.problems import ServiceProblem, conflict, not_found, responses
from service.schemas import (
    CorporationOfferOut,
    OfferIn,
    OfferOut,
    OffersFromRunIn,
    OfferStatus,
    RefuseIn,
)
from service.tables import OPEN_OFFER_STATES, the_vacancy
from service.units import Key, resolve, split

router = APIRouter(tags=["offers"], responses=responses(401, 403, 503))


def _unit(session, pair, location: str) -> Key:
    """The vacancy a coordinator's pair names: its unit id, qualified by ``corporation_id`` or
    as a run's reference (``corporation/id``) when more than one corporation uses the id. A
    unit nobody has stays as named, so the offer's own check says it does not exist."""
    key = resolve(session, pair.unit_id, pair.corporation_id, location=location)
    return key or ("", split(pair.unit_id)[1])


def _run_units(run: t.Run) -> dict[str, Key]:
    """The run's unit references (``units.py``) back to (corporation, unit id)."""
    return {u["id"]: (u["corporation_id"], split(u["id"])[1]) for u in run.instance["units"]}


@router.post(
    "/runs/{run_id}/offers",
    response_model=list[OfferOut],
    status_code=201,
    responses=responses(404, 409, 422),
)
@retrying
def offer_proposal_lines(
    run_id: RowId,
    body: OffersFromRunIn,
    session: SessionDep,
    caller: Coordinator,
    settings: SettingsDep,
):
    """Turn a finished run's proposal lines into offers: every line not yet offered, the lines
    of the clients named, and lines changed by hand (checked against every rule). All or
    nothing."""
    run = session.get(t.Run, run_id)
    if run is None or run.kind != "allocation":
        raise not_found("run", run_id)
    if run.status != "done" or run.proposal is None:
        raise conflict(f"Run {run_id} is {run.status}; offers come from a finished run.")
    lines = {
        a["client_id"]: a["unit_id"] for a in run.proposal["assignments"] if not a.get("pinned")
    }
    chosen = list(lines) if body.client_ids is None else body.client_ids
    unknown = [c for c in chosen if c not in lines]
    if unknown:
        raise ServiceProblem(
            422,
            f"Run {run_id} proposes nothing for: {', '.join(unknown[:20])}.",
            kind="not-in-proposal",
        )
    units = _run_units(run)
    pairs = {c: units[lines[c]] for c in chosen}
    by_hand = set()
    for i, change in enumerate(body.changes):
        key = _unit(session, change, f"changes[{i}].corporation_id")
        pairs[change.client_id] = key
        by_hand.add((change.client_id, key))
    if not pairs:
        raise ServiceProblem(422, "There is nothing to offer.", kind="nothing-to-offer")
    offers = make_offers(
        session,
        caller,
        list(pairs.items()),
        expiry_days=settings.offer_expiry_days,
        run_id=run_id,
        by_hand=by_hand,
        intended_start_date=body.intended_start_date,
    )
    session.commit()
    return offers


@router.post("/offers", response_model=OfferOut, status_code=201, responses=responses(409, 422))
@retrying
def offer_by_hand(body: OfferIn, session: SessionDep, caller: Coordinator, settings: SettingsDep):
    """Offer one unit to one client outside a run; every rule is checked."""
    pair = (body.client_id, _unit(session, body, "corporation_id"))
    (offer,) = make_offers(
        session,
        caller,
        [pair],
        expiry_days=settings.offer_expiry_days,
        by_hand={pair},
        intended_start_date=body.intended_start_date,
    )
    session.commit()
    return offer


@router.get("/offers", response_model=list[OfferOut])
def list_offers(
    session: SessionDep,
    caller: Coordinator,
    settings: SettingsDep,
    page: PageDep,
    status: OfferStatus | None = None,
    client_id: str | None = Query(default=None, max_length=100),
):
    expire_due_for_reading(session, settings.database_url)
    query = select(t.Offer).order_by(t.Offer.id)
    if status:
        query = query.where(t.Offer.status == status)
    if client_id:
        query = query.where(t.Offer.client_id == client_id)
    return page.of(session, query)


@router.get("/offers/{offer_id}", response_model=OfferOut, responses=responses(404, 422))
def read_offer(offer_id: RowId, session: SessionDep, caller: Coordinator, settings: SettingsDep):
    expire_due_for_reading(session, settings.database_url)
    return get_offer(session, offer_id)


@retrying
def _answer(*, session, caller, offer_id: RowId, to: str, allowed_from, reason=None):
    offer = transition(session, caller, offer_id, to, allowed_from=allowed_from, reason=reason)
    session.commit()
    return offer


@router.post(
    "/offers/{offer_id}/accept", response_model=OfferOut, responses=responses(404, 409, 422)
)
def accept_offer(offer_id: RowId, session: SessionDep, caller: Coordinator):
    """The client accepts: the pair is pinned in later runs and counts toward the quotas."""
    return _answer(
        session=session, caller=caller, offer_id=offer_id, to="accepted", allowed_from=("proposed",)
    )


@router.post(
    "/offers/{offer_id}/refuse", response_model=OfferOut, responses=responses(404, 409, 422)
)
def refuse_offer(offer_id: RowId, body: RefuseIn, session: SessionDep, caller: Coordinator):
    """The client refuses: this unit is never offered to this client again."""
    return _answer(
        session=session,
        caller=caller,
        offer_id=offer_id,
        to="refused",
        allowed_from=("proposed",),
        reason=body.reason,
    )


@router.post(
    "/offers/{offer_id}/withdraw", response_model=OfferOut, responses=responses(404, 409, 422)
)
def withdraw_offer(offer_id: RowId, session: SessionDep, caller: Coordinator):
    """The coordinator takes an open offer back; the client is ready again."""
    return _answer(
        session=session,
        caller=caller,
        offer_id=offer_id,
        to="withdrawn",
        allowed_from=OPEN_OFFER_STATES,
    )


@router.post("/offers/{offer_id}/let", response_model=OfferOut, responses=responses(404, 409, 422))
def let_offer(offer_id: RowId, session: SessionDep, caller: Coordinator):
    """The lease is signed: the client is housed and the vacancy is let."""
    return _answer(
        session=session, caller=caller, offer_id=offer_id, to="let", allowed_from=("accepted",)
    )


# --- the corporation's view -----------------------------------------------------------------


def corporation_view(session, offer: t.Offer) -> CorporationOfferOut:
    client = scope.get(session, t.Client, offer.client_id)
    return CorporationOfferOut(
        id=offer.id,
        case_id=f"case-{offer.id}",
        unit_id=offer.unit_id,
        status=offer.status,
        household_size=client.household_size,
        income_bracket=client.income_bracket,
        needs_accessible=client.needs_accessible,
        support=client.support,
        support_contact=client.support_contact,
        intended_start_date=offer.intended_start_date,
        expires_at=offer.expires_at,
    )


def _own_offer(session, caller, offer_id: RowId) -> t.Offer:
    offer = get_offer(session, offer_id)
    unit = vacancy_of(session, offer)
    if caller.role == "corporation" and unit.corporation_id != caller.corporation_id:
        raise not_found("offer", offer_id)  # to a corporation, another's offer is not there
    return offer


@router.get("/corporation/offers", response_model=list[CorporationOfferOut])
def list_corporation_offers(
    session: SessionDep, caller: CoordinatorOrCorporation, settings: SettingsDep, page: PageDep
):
    """Offers on the corporation's own units, with only the fields a corporation may see."""
    expire_due_for_reading(session, settings.database_url)
    query = select(t.Offer).join(t.Vacancy, the_vacancy(t.Offer)).order_by(t.Offer.id)
    if caller.role == "corporation":
        query = query.where(t.Vacancy.corporation_id == caller.corporation_id)
    return [corporation_view(session, o) for o in page.of(session, query)]


@router.get(
    "/corporation/offers/{offer_id}",
    response_model=CorporationOfferOut,
    responses=responses(404, 422),
)
def read_corporation_offer(offer_id: RowId, session: SessionDep, caller: CoordinatorOrCorporation):
    return corporation_view(session, _own_offer(session, caller, offer_id))


@router.post(
    "/corporation/offers/{offer_id}/let",
    response_model=CorporationOfferOut,
    responses=responses(404, 409, 422),
)
@retrying
def corporation_lets(offer_id: RowId, session: SessionDep, caller: CoordinatorOrCorporation):
    """The corporation reports the lease signed for an accepted offer on its unit."""
    _own_offer(session, caller, offer_id)
    offer = transition(session, caller, offer_id, "let", allowed_from=("accepted",))
    session.commit()
    return corporation_view(session, offer)
