"""Loading a region: the demo region into an empty database, or any contract instance."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocator.io import read_instance
from allocator.models import DEFAULT_OBJECTIVE, Instance
from service import scope
from service import tables as t
from service.audit import SYSTEM, record
from service.db import get_sessionmaker
from service.deps import Caller
from service.scope import set_region
from service.state import today
from service.tables import utcnow

DEMO_INSTANCE = Path(__file__).resolve().parents[1] / "scenarios/westfriesland/instance.json"


def load_region(
    session: Session, instance: Instance, *, name: str, caller: Caller = SYSTEM, year=None
) -> int:
    """A new region named ``name`` with everything of ``instance`` as its state: quotas for
    ``year``, every unit an open vacancy, every client ready, every pinned pair an accepted
    offer. Returns the region's id; the session is scoped to it afterwards."""
    year = year or today().year
    if session.scalar(select(t.Region.id).where(t.Region.name == name)) is not None:
        raise ValueError(f"there is already a region named {name!r}")
    region = t.Region(name=name)
    session.add(region)
    session.flush()
    set_region(session, region.id)
    session.add(
        t.RegionPolicy(
            id=region.id,
            name=name,
            max_vulnerable_share=instance.policy.max_vulnerable_share,
            objective=list(instance.policy.objective or DEFAULT_OBJECTIVE),
        )
    )
    for m in instance.municipalities:
        session.add(t.Municipality(id=m.id, name=m.name, population=m.population))
        session.add(t.MunicipalityQuota(municipality_id=m.id, year=year, quota=m.quota))
    for c in instance.corporations:
        session.add(t.Corporation(id=c.id, name=c.name, quota=c.quota))
    for nb in instance.neighbourhoods:
        session.add(t.Neighbourhood(**nb.model_dump()))
    for p in instance.support_providers:
        session.add(t.SupportProvider(id=p.id, name=p.name))
    session.flush()
    for p in instance.support_providers:
        for c in p.capacity:
            session.add(t.SupportPlaces(provider_id=p.id, **c.model_dump()))
    for cx in instance.complexes:
        session.add(t.Complex(**cx.model_dump()))
    session.flush()
    corporation_of = {u.id: u.corporation_id for u in instance.units}
    for u in instance.units:
        session.add(t.Vacancy(**u.model_dump(), status="open"))
    for c in instance.clients:
        data = c.model_dump(exclude={"refused_units"})
        session.add(t.Client(**data, status="ready"))
    session.flush()
    for c in instance.clients:
        for unit_id in c.refused_units:
            session.add(
                t.Refusal(
                    client_id=c.id,
                    corporation_id=corporation_of.get(unit_id, ""),
                    unit_id=unit_id,
                    reason="before registration",
                )
            )
    now = utcnow()
    for p in instance.pinned:
        session.add(
            t.Offer(
                client_id=p.client_id,
                corporation_id=corporation_of[p.unit_id],
                unit_id=p.unit_id,
                status="accepted",
                created_by=caller.name,
                expires_at=now,
                decided_at=now,
            )
        )
        scope.get(session, t.Client, p.client_id).status = "proposed"
    record(
        session,
        caller,
        "region.loaded",
        "region",
        name,
        municipalities=len(instance.municipalities),
        units=len(instance.units),
        clients=len(instance.clients),
    )
    return region.id


DEMO_NAME = "Westfriesland (demo)"


def seed_demo_if_empty(database_url: str) -> bool:
    """The demo region into a database that has no region yet."""
    maker = get_sessionmaker(database_url)
    with maker() as session:
        if session.scalar(select(func.count()).select_from(t.Region)):
            return False
        load_region(session, read_instance(DEMO_INSTANCE), name=DEMO_NAME)
        session.commit()
    return True
