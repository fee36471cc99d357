"""Aggregates for the planner (and coordinator): counts and quota use, no personal data."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from service import tables as t
from service.deps import CoordinatorOrPlanner, SessionDep
from service.problems import responses
from service.routers.region import municipality_out
from service.schemas import Aggregates
from service.state import quota_use, today

router = APIRouter(tags=["aggregates"], responses=responses(401, 403, 422, 503))


def _count(session, column) -> dict[str, int]:
    return dict(session.execute(select(column, func.count()).group_by(column)).all())


@router.get("/aggregates", response_model=Aggregates)
def read_aggregates(
    session: SessionDep,
    caller: CoordinatorOrPlanner,
    year: int | None = Query(default=None, ge=2000, le=2100),
):
    year = year or today().year
    use = quota_use(session, year)
    municipalities = session.scalars(select(t.Municipality).order_by(t.Municipality.id))
    return Aggregates(
        year=year,
        municipalities=[municipality_out(session, m, year, use) for m in municipalities],
        clients_by_status=_count(session, t.Client.status),
        vacancies_by_status=_count(session, t.Vacancy.status),
        offers_by_status=_count(session, t.Offer.status),
        runs_by_status=_count(session, t.Run.status),
    )
