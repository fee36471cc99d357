"""Region set-up and reading: policy, municipalities with yearly quotas, corporations, complexes,
neighbourhoods (rule 14) and support providers (rule 15)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from service import scope
from service import tables as t
from service.audit import record
from service.deps import Admin, AnyRole, CoordinatorOrAdmin, RegionReader, SessionDep
from service.problems import ServiceProblem, conflict, not_found, responses
from service.schemas import (
    ComplexIn,
    ComplexOut,
    ComplexUpdate,
    CorporationIn,
    CorporationOut,
    MunicipalityIn,
    MunicipalityOut,
    NeighbourhoodIn,
    NeighbourhoodOut,
    PolicyIn,
    PolicyOut,
    QuotaIn,
    SupportProviderIn,
    SupportProviderOut,
)
from service.state import quota_use, today

router = APIRouter(tags=["region"], responses=responses(401, 403, 503))
YearQuery = Query(default=None, ge=2000, le=2100, description="Default: this year.")


def municipality_out(session, m: t.Municipality, year: int, use=None) -> MunicipalityOut:
    use = use or quota_use(session, year)
    quota = use.municipality_quota.get(m.id, 0)
    let, accepted = use.municipality_let[m.id], use.municipality_accepted[m.id]
    return MunicipalityOut(
        id=m.id,
        name=m.name,
        population=m.population,
        year=year,
        quota=quota,
        used=let + accepted,
        let=let,
        accepted=accepted,
        left=max(0, quota - let - accepted),
    )


@router.get("/policy", response_model=PolicyOut, responses=responses(404))
def read_policy(session: SessionDep, caller: RegionReader):
    policy = session.get(t.RegionPolicy, caller.region_id)
    if policy is None:
        raise ServiceProblem(404, "The region has not been set up yet.", kind="not-found")
    return policy


@router.put("/policy", response_model=PolicyOut, responses=responses(422))
def set_policy(body: PolicyIn, session: SessionDep, caller: Admin):
    policy = session.merge(t.RegionPolicy(id=caller.region_id, **body.model_dump()))
    record(session, caller, "policy.set", "region", "policy", **body.model_dump())
    session.commit()
    return policy


@router.get("/municipalities", response_model=list[MunicipalityOut])
def list_municipalities(session: SessionDep, caller: RegionReader, year: int | None = YearQuery):
    year = year or today().year
    use = quota_use(session, year)
    rows = session.scalars(select(t.Municipality).order_by(t.Municipality.id))
    return [municipality_out(session, m, year, use) for m in rows]


@router.post(
    "/municipalities",
    response_model=MunicipalityOut,
    status_code=201,
    responses=responses(409, 422),
)
def create_municipality(body: MunicipalityIn, session: SessionDep, caller: Admin):
    if scope.get(session, t.Municipality, body.id):
        raise conflict(f"Municipality {body.id!r} already exists.")
    year = body.year or today().year
    m = t.Municipality(id=body.id, name=body.name, population=body.population)
    session.add(m)
    session.flush()
    session.add(t.MunicipalityQuota(municipality_id=m.id, year=year, quota=body.quota))
    record(
        session, caller, "municipality.created", "municipality", m.id, quota=body.quota, year=year
    )
    session.commit()
    return municipality_out(session, m, year)


@router.get(
    "/municipalities/{municipality_id}",
    response_model=MunicipalityOut,
    responses=responses(404, 422),
)
def read_municipality(
    municipality_id: str, session: SessionDep, caller: RegionReader, year: int | None = YearQuery
):
    m = scope.get(session, t.Municipality, municipality_id)
    if m is None:
        raise not_found("municipality", municipality_id)
    return municipality_out(session, m, year or today().year)


@router.put(
    "/municipalities/{municipality_id}/quotas/{year}",
    response_model=MunicipalityOut,
    responses=responses(404, 422),
)
def set_quota(
    municipality_id: str,
    year: Annotated[int, Path(ge=2000, le=2100)],
    body: QuotaIn,
    session: SessionDep,
    caller: CoordinatorOrAdmin,
):
    m = scope.get(session, t.Municipality, municipality_id)
    if m is None:
        raise not_found("municipality", municipality_id)
    session.merge(
        t.MunicipalityQuota(
            region_id=m.region_id, municipality_id=m.id, year=year, quota=body.quota
        )
    )
    record(session, caller, "quota.set", "municipality", m.id, year=year, quota=body.quota)
    session.commit()
    return municipality_out(session, m, year)


@router.get("/corporations", response_model=list[CorporationOut])
def list_corporations(session: SessionDep, caller: AnyRole):
    return session.scalars(select(t.Corporation).order_by(t.Corporation.id)).all()


@router.post(
    "/corporations",
    response_model=CorporationOut,
    status_code=201,
    responses=responses(409, 422),
)
def create_corporation(body: CorporationIn, session: SessionDep, caller: Admin):
    if scope.get(session, t.Corporation, body.id):
        raise conflict(f"Corporation {body.id!r} already exists.")
    row = t.Corporation(**body.model_dump())
    session.add(row)
    record(session, caller, "corporation.created", "corporation", row.id, quota=row.quota)
    session.commit()
    return row


@router.get("/complexes", response_model=list[ComplexOut])
def list_complexes(session: SessionDep, caller: AnyRole):
    return session.scalars(select(t.Complex).order_by(t.Complex.id)).all()


@router.post(
    "/complexes", response_model=ComplexOut, status_code=201, responses=responses(409, 422)
)
def create_complex(body: ComplexIn, session: SessionDep, caller: Admin):
    if scope.get(session, t.Complex, body.id):
        raise conflict(f"Complex {body.id!r} already exists.")
    if scope.get(session, t.Municipality, body.municipality_id) is None:
        raise ServiceProblem(422, f"There is no municipality {body.municipality_id!r}.")
    row = t.Complex(**body.model_dump())
    _check_complex(session, row)
    session.add(row)
    record(session, caller, "complex.created", "complex", row.id, **body.model_dump())
    session.commit()
    return row


@router.get("/complexes/{complex_id}", response_model=ComplexOut, responses=responses(404, 422))
def read_complex(complex_id: str, session: SessionDep, caller: AnyRole):
    row = scope.get(session, t.Complex, complex_id)
    if row is None:
        raise not_found("complex", complex_id)
    return row


@router.patch("/complexes/{complex_id}", response_model=ComplexOut, responses=responses(404, 422))
def update_complex(
    complex_id: str, body: ComplexUpdate, session: SessionDep, caller: CoordinatorOrAdmin
):
    """Correct a building's composition (for example after residents moved out)."""
    row = scope.get(session, t.Complex, complex_id)
    if row is None:
        raise not_found("complex", complex_id)
    changes = {
        field: value
        for field, value in body.model_dump(exclude_unset=True).items()
        if getattr(row, field) != value
    }
    if not changes:
        return row  # nothing changes: nothing to record
    optional = {"max_vulnerable_share", "name", *_RULES_12_14}
    for field, value in changes.items():
        if value is None and field not in optional:
            raise ServiceProblem(422, f"{field} cannot be empty.")
        setattr(row, field, value)
    _check_complex(session, row)
    if row.vulnerable_residents > row.units_total:
        raise ServiceProblem(
            422,
            f"vulnerable_residents ({row.vulnerable_residents}) exceeds units_total "
            f"({row.units_total}).",
        )
    record(session, caller, "complex.changed", "complex", row.id, **changes)
    session.commit()
    return row


_RULES_12_14 = (
    "group_max_share",
    "group_residents",
    "max_vulnerable_per_staircase",
    "staircase_vulnerable_residents",
    "neighbourhood_id",
)


def _check_complex(session, row: t.Complex) -> None:
    """What the contract checks across tables, for one complex: its neighbourhood exists and
    lies in its municipality; group_residents names only capped groups."""
    if row.neighbourhood_id is not None:
        nb = scope.get(session, t.Neighbourhood, row.neighbourhood_id)
        if nb is None:
            raise ServiceProblem(422, f"There is no neighbourhood {row.neighbourhood_id!r}.")
        if nb.municipality_id != row.municipality_id:
            raise ServiceProblem(
                422,
                f"Neighbourhood {nb.id!r} lies in {nb.municipality_id!r}, not in the complex's "
                f"municipality {row.municipality_id!r}.",
            )
    unknown = sorted(set(row.group_residents or {}) - set(row.group_max_share or {}))
    if unknown:
        raise ServiceProblem(
            422, f"group_residents names group(s) {unknown} that group_max_share does not cap."
        )


@router.get("/neighbourhoods", response_model=list[NeighbourhoodOut])
def list_neighbourhoods(session: SessionDep, caller: AnyRole):
    return session.scalars(select(t.Neighbourhood).order_by(t.Neighbourhood.id)).all()


@router.post(
    "/neighbourhoods",
    response_model=NeighbourhoodOut,
    status_code=201,
    responses=responses(409, 422),
)
def create_neighbourhood(body: NeighbourhoodIn, session: SessionDep, caller: Admin):
    if scope.get(session, t.Neighbourhood, body.id):
        raise conflict(f"Neighbourhood {body.id!r} already exists.")
    if scope.get(session, t.Municipality, body.municipality_id) is None:
        raise ServiceProblem(422, f"There is no municipality {body.municipality_id!r}.")
    row = t.Neighbourhood(**body.model_dump())
    session.add(row)
    record(session, caller, "neighbourhood.created", "neighbourhood", row.id, quota=row.quota)
    session.commit()
    return row


def _provider_out(session, provider: t.SupportProvider) -> SupportProviderOut:
    places = session.scalars(
        select(t.SupportPlaces)
        .where(t.SupportPlaces.provider_id == provider.id)
        .order_by(t.SupportPlaces.municipality_id)
    ).all()
    return SupportProviderOut(
        id=provider.id,
        name=provider.name,
        capacity=[{"municipality_id": p.municipality_id, "places": p.places} for p in places],
    )


@router.get("/support-providers", response_model=list[SupportProviderOut])
def list_support_providers(session: SessionDep, caller: RegionReader):
    """Providers and their places: region set-up, never which client has which provider."""
    rows = session.scalars(select(t.SupportProvider).order_by(t.SupportProvider.id)).all()
    return [_provider_out(session, p) for p in rows]


@router.put(
    "/support-providers/{provider_id}",
    response_model=SupportProviderOut,
    responses=responses(404, 422),
)
def set_support_provider(
    provider_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: SupportProviderIn,
    session: SessionDep,
    caller: CoordinatorOrAdmin,
):
    """Create a provider or replace its name and places (per municipality, this year)."""
    if body.id != provider_id:
        raise ServiceProblem(422, f"The body's id {body.id!r} is not {provider_id!r}.")
    known = set(session.scalars(select(t.Municipality.id)))
    unknown = sorted({c.municipality_id for c in body.capacity} - known)
    if unknown:
        raise ServiceProblem(422, f"There is no municipality {unknown[0]!r}.")
    row = scope.get(session, t.SupportProvider, provider_id)
    if row is None:
        row = t.SupportProvider(id=provider_id, name=body.name)
        session.add(row)
    row.name = body.name
    session.flush()
    for old in session.scalars(
        select(t.SupportPlaces).where(t.SupportPlaces.provider_id == provider_id)
    ):
        session.delete(old)
    session.flush()
    for c in body.capacity:
        session.add(t.SupportPlaces(provider_id=provider_id, **c.model_dump()))
    record(
        session,
        caller,
        "support_provider.set",
        "support_provider",
        provider_id,
        places={c.municipality_id: c.places for c in body.capacity},
    )
    session.commit()
    return _provider_out(session, row)
