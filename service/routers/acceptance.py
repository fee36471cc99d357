"""The acceptance model: the chance a client accepts an offer, fitted to the region's own
answered offers, shown with how much history it rests on (``service/acceptance.py``)."""

from __future__ import annotations

import datetime as dt
import math

from fastapi import APIRouter
from pydantic import BaseModel, Field

from allocator.acceptance import FEATURE_TEXT
from service import scope
from service import tables as t
from service.acceptance import MAX_HISTORY, estimates_for, region_model
from service.deps import Coordinator, CoordinatorOrPlanner, SessionDep
from service.problems import not_found, responses

router = APIRouter(tags=["acceptance"], responses=responses(401, 403, 422, 503))


class Term(BaseModel):
    feature: str
    meaning: str
    coefficient: float = Field(description="Change in the log-odds of accepting per unit.")
    odds_ratio: float
    ci_low: float | None = Field(description="95% interval of the coefficient (log-odds).")
    ci_high: float | None


class AcceptanceModelOut(BaseModel):
    offers: int = Field(description="Answered offers the model rests on (accepted or refused).")
    accepted: int
    refused: int
    first_answer: dt.datetime | None
    last_answer: dt.datetime | None
    max_history: int = Field(description="At most this many of the most recent answers are read.")
    base_by_target_group: dict[str, float] = Field(
        description="Chance of accepting a first-choice unit within the rent limit."
    )
    offers_by_target_group: dict[str, int]
    terms: list[Term]
    explanation: list[str]
    note: str


class Estimate(BaseModel):
    unit_id: str
    corporation_id: str = Field(description="The unit's corporation.")
    municipality_id: str
    probability: float


class ClientEstimatesOut(BaseModel):
    client_id: str
    offers_in_model: int
    estimates: list[Estimate]


@router.get("/acceptance-model", response_model=AcceptanceModelOut)
def read_acceptance_model(session: SessionDep, caller: CoordinatorOrPlanner):
    """The region's acceptance model: a logistic regression of answers on target group,
    preference rank and rent against the client's limit, with the history it rests on. A
    history too small or too uniform gives the share accepted per group, and says so."""
    model, history = region_model(session)
    return AcceptanceModelOut(
        offers=model.offers,
        accepted=model.accepted,
        refused=model.offers - model.accepted,
        first_answer=history.first,
        last_answer=history.last,
        max_history=MAX_HISTORY,
        base_by_target_group={g: round(p, 4) for g, p in model.groups.items()},
        offers_by_target_group=model.group_offers,
        terms=[
            Term(
                feature=f,
                meaning=FEATURE_TEXT[f],
                coefficient=model.coefficients[f],
                odds_ratio=math.exp(model.coefficients[f]),
                ci_low=model.intervals.get(f, (None, None))[0],
                ci_high=model.intervals.get(f, (None, None))[1],
            )
            for f in model.features
        ],
        explanation=model.explain(),
        note=model.note,
    )


@router.get(
    "/acceptance-model/clients/{client_id}",
    response_model=ClientEstimatesOut,
    responses=responses(404),
)
def read_client_estimates(client_id: str, session: SessionDep, caller: Coordinator):
    """The model's chance that this client accepts each open vacancy in a municipality the
    client accepts, likeliest first (the coordinator only: it concerns one client)."""
    client = scope.get(session, t.Client, client_id)
    if client is None:
        raise not_found("client", client_id)
    model, _history = region_model(session)
    return ClientEstimatesOut(
        client_id=client_id,
        offers_in_model=model.offers,
        estimates=[Estimate(**e) for e in estimates_for(session, model, client)],
    )
