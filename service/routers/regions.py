"""Regions: made by an admin of the whole installation; every other key sees its own."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from service import tables as t
from service.audit import record
from service.deps import CurrentPrincipal, InstallationAdmin, SessionDep
from service.problems import conflict, responses
from service.schemas import RegionIn, RegionOut

router = APIRouter(prefix="/regions", tags=["admin"], responses=responses(401, 403, 503))


@router.get("", response_model=list[RegionOut])
def list_regions(session: SessionDep, caller: CurrentPrincipal):
    """An installation admin: every region; any other key: its own."""
    query = select(t.Region).order_by(t.Region.id)
    if caller.region_id is not None:
        query = query.where(t.Region.id == caller.region_id)
    return session.scalars(query).all()


@router.post("", response_model=RegionOut, status_code=201, responses=responses(409, 422))
def create_region(body: RegionIn, session: SessionDep, caller: InstallationAdmin):
    """A new, empty region. Its admin key is made next (``POST /api-keys`` with its id); the
    region's admin sets up its municipalities, corporations and buildings."""
    if session.scalar(select(t.Region.id).where(t.Region.name == body.name)):
        raise conflict(f"There is already a region named {body.name!r}.")
    region = t.Region(name=body.name)
    session.add(region)
    session.flush()
    session.add(
        t.RegionPolicy(
            id=region.id,
            name=body.name,
            max_vulnerable_share=0.3,
            objective=["placed", "waiting_days", "rank_sum"],
        )
    )
    record(session, caller, "region.created", "region", region.id, name=body.name)
    session.commit()
    return region
