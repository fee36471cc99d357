"""The database schema (SQLAlchemy 2). Alembic migrations in ``migrations/`` create it; these
classes must stay in step with them (``tests/service/test_migrations.py`` compares the two)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Timestamps in UTC on every database: SQLite hands back naive datetimes otherwise."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON}


class Region(Base):
    """A region (a *regio* of municipalities with its agreement): every record of the region's
    state belongs to exactly one, and every key but an installation admin's too."""

    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Scoped:
    """A table with a ``region_id``: a request's session sees only its caller's region's rows
    (``scope.py``). None here: a row of the installation (an installation admin's key, an
    event of the installation)."""

    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)


class InRegion(Scoped):
    """A record of one region. Requests only ever see and change the records of their caller's
    region: ``scope.py`` adds the criterion to every query of the request's session, and sets
    the region of every new record."""

    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)


def region_key(*columns: str) -> PrimaryKeyConstraint:
    """A record's identity within its region: ids are the region's own, so two regions may
    both have a municipality "0405" or a client "C001" (and a new id says nothing about the
    ids of other regions)."""
    return PrimaryKeyConstraint("region_id", *columns)


def in_region(columns: tuple[str, ...], table: str, *, ondelete: str | None = None):
    """A reference to a record of the same region: (region_id, its id), so no row ever points
    into another region."""
    return ForeignKeyConstraint(
        ("region_id", *columns),
        (f"{table}.region_id", f"{table}.id"),
        ondelete=ondelete,
    )


def the_vacancy(source: Any):
    """The join condition from an offer (``source``) to its vacancy: the same region, the same
    corporation and that unit id (unit ids are each corporation's own)."""
    return (
        (Vacancy.region_id == source.region_id)
        & (Vacancy.corporation_id == source.corporation_id)
        & (Vacancy.id == source.unit_id)
    )


def same_record(target: Any, source: Any, column: str):
    """The join condition from ``source.column`` to the record of ``target`` it names: the
    same region and that id."""
    return (target.region_id == source.region_id) & (target.id == getattr(source, column))


#: Offer states in which the unit and the client are taken.
OPEN_OFFER_STATES = ("proposed", "accepted")
_OPEN_OFFER = "status IN ('proposed', 'accepted')"


class ApiKey(Scoped, Base):
    __tablename__ = "api_keys"
    __table_args__ = (in_region(("corporation_id",), "corporations"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # region_id none: an admin of the whole installation (regions and keys, no region's data)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    corporation_id: Mapped[str | None] = mapped_column(String(100))
    # SHA-256 of the key: keys are 256-bit random strings, so a fast hash cannot be brute-forced
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(
        String(16)
    )  # shown in lists so a person can tell keys apart
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class RegionPolicy(Base):
    """A region's policy (one row per region, its id the region's): what the contract's
    ``policy`` holds between runs."""

    __tablename__ = "region_policy"
    id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    max_vulnerable_share: Mapped[float] = mapped_column(Float, default=0.3)
    objective: Mapped[list[str]] = mapped_column(JSON)


class Municipality(InRegion, Base):
    __tablename__ = "municipalities"
    __table_args__ = (region_key("id"),)
    id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    population: Mapped[int | None]


class MunicipalityQuota(InRegion, Base):
    __tablename__ = "municipality_quotas"
    __table_args__ = (
        region_key("municipality_id", "year"),
        in_region(("municipality_id",), "municipalities"),
    )
    municipality_id: Mapped[str] = mapped_column(String(100))
    year: Mapped[int]
    quota: Mapped[int]


class Corporation(InRegion, Base):
    __tablename__ = "corporations"
    __table_args__ = (region_key("id"),)
    id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    quota: Mapped[int | None] = mapped_column(doc="Placements per year in its units; none: no cap")


class Neighbourhood(InRegion, Base):
    """Rule 14: a part of a municipality with a quota of its own (placements per year; a run
    gets the year's quota minus the lets, like a municipality)."""

    __tablename__ = "neighbourhoods"
    __table_args__ = (region_key("id"), in_region(("municipality_id",), "municipalities"))
    id: Mapped[str] = mapped_column(String(100))
    municipality_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    quota: Mapped[int]


class SupportProvider(InRegion, Base):
    """Rule 15: a provider of ambulant support (begeleiding) after the move."""

    __tablename__ = "support_providers"
    __table_args__ = (region_key("id"),)
    id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))


class SupportPlaces(InRegion, Base):
    """Rule 15: new clients a provider can support in a municipality this year (a run gets the
    places minus the lets of its clients there this year)."""

    __tablename__ = "support_places"
    __table_args__ = (
        region_key("provider_id", "municipality_id"),
        in_region(("provider_id",), "support_providers", ondelete="CASCADE"),
        in_region(("municipality_id",), "municipalities"),
    )
    provider_id: Mapped[str] = mapped_column(String(100))
    municipality_id: Mapped[str] = mapped_column(String(100))
    places: Mapped[int]


class Complex(InRegion, Base):
    __tablename__ = "complexes"
    __table_args__ = (
        region_key("id"),
        in_region(("municipality_id",), "municipalities"),
        in_region(("neighbourhood_id",), "neighbourhoods"),
    )
    id: Mapped[str] = mapped_column(String(100))
    municipality_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    units_total: Mapped[int]
    vulnerable_residents: Mapped[int]
    max_vulnerable_share: Mapped[float | None] = mapped_column(Float)
    # rules 12-14 (see the contract's Complex)
    group_max_share: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    group_residents: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    max_vulnerable_per_staircase: Mapped[int | None]
    staircase_vulnerable_residents: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    neighbourhood_id: Mapped[str | None] = mapped_column(String(100))


class Vacancy(InRegion, Base):
    """A unit offered by a corporation: the contract's ``units`` row plus its life cycle. Its id
    is its corporation's own (corporations number their units independently): two
    corporations of a region may both have a unit "1001", and a corporation's answers never
    depend on another's ids."""

    __tablename__ = "vacancies"
    __table_args__ = (
        region_key("corporation_id", "id"),
        in_region(("complex_id",), "complexes"),
        in_region(("corporation_id",), "corporations"),
    )
    id: Mapped[str] = mapped_column(String(100))
    complex_id: Mapped[str] = mapped_column(String(100))
    corporation_id: Mapped[str] = mapped_column(String(100), index=True)
    rooms: Mapped[int]
    rent: Mapped[float] = mapped_column(Float)
    accessible: Mapped[bool] = mapped_column(Boolean)
    min_occupants: Mapped[int]
    max_occupants: Mapped[int]
    allowed_groups: Mapped[list[str] | None] = mapped_column(JSON)
    staircase_id: Mapped[str | None] = mapped_column(String(100))  # rule 13
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, let, withdrawn
    status_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]


class Client(InRegion, Base):
    """A client's dossier. ``id`` is a pseudonym; the service stores no names."""

    __tablename__ = "clients"
    __table_args__ = (region_key("id"), in_region(("support_provider_id",), "support_providers"))
    id: Mapped[str] = mapped_column(String(100))
    household_size: Mapped[int]
    max_rent: Mapped[float | None] = mapped_column(Float)
    needs_accessible: Mapped[bool] = mapped_column(Boolean)
    preferred_municipalities: Mapped[list[str]] = mapped_column(JSON)
    excluded_municipalities: Mapped[list[str]] = mapped_column(JSON)
    target_group: Mapped[str] = mapped_column(String(50))
    ready_since: Mapped[dt.date] = mapped_column(Date)
    income_bracket: Mapped[str | None] = mapped_column(String(30))
    support: Mapped[bool] = mapped_column(Boolean, default=False)  # begeleiding yes/no
    support_contact: Mapped[str | None] = mapped_column(String(200))
    # rule 15; never shown to a corporation (only `support` yes/no and the contact are)
    support_provider_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="ready")
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # housed or withdrawn since; after the retention period its personal fields are erased
    left_at: Mapped[dt.datetime | None]
    erased_at: Mapped[dt.datetime | None]


class Refusal(InRegion, Base):
    """A unit a client refused; never offered to that client again (rule 6). The unit may be
    gone from the vacancies (let since), or not be known yet (a refusal registered with the
    client), so there is no foreign key on it. ``corporation_id`` "": the refusal names the unit
    id only, and holds for every corporation's unit with that id."""

    __tablename__ = "refusals"
    __table_args__ = (
        region_key("client_id", "corporation_id", "unit_id"),
        in_region(("client_id",), "clients"),
    )
    client_id: Mapped[str] = mapped_column(String(100))
    corporation_id: Mapped[str] = mapped_column(String(100), server_default="")
    unit_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    refused_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Run(InRegion, Base):
    """An allocation run or a planner's scenario: the input, how it was solved, the answer."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="allocation")  # or scenario
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    input_hash: Mapped[str] = mapped_column(String(64))
    instance: Mapped[dict[str, Any]] = mapped_column(JSON)
    solver_settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    solver_version: Mapped[str] = mapped_column(String(200))
    scenario: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when a worker takes the run; only that worker may finish it (see jobs.py). The worker
    # renews the lease while it works; a run whose lease ran out is interrupted.
    worker_token: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None]


class ScenarioRun(InRegion, Base):
    """A planner's what-if simulation (``allocator.simulation``): the scenario as submitted, how
    it is run, and its results. Synthetic arrivals only: no personal data in or out."""

    __tablename__ = "scenario_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    # the scenario file's content as JSON (YAML is read into the same structure)
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_hash: Mapped[str] = mapped_column(String(64))
    seeds: Mapped[list[int]] = mapped_column(JSON)
    variants: Mapped[list[str]] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(Integer, doc="seeds x variants x weeks")
    time_limit_seconds: Mapped[float] = mapped_column(Float)
    software_version: Mapped[str] = mapped_column(String(200))
    tasks_total: Mapped[int] = mapped_column(Integer)
    tasks_done: Mapped[int] = mapped_column(Integer, default=0)
    kpis: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    report: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when a worker takes the run; only that worker may finish it (see jobs.py). The worker
    # renews the lease while it works; a run whose lease ran out is interrupted.
    worker_token: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None]


class ScenarioRunPlot(Base):
    """A PNG of a finished scenario run, written in the same transaction as its KPIs."""

    __tablename__ = "scenario_run_plots"
    run_id: Mapped[int] = mapped_column(
        ForeignKey("scenario_runs.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)


class Offer(InRegion, Base):
    __tablename__ = "offers"
    __table_args__ = (
        # A unit, and a client, is in at most one open offer: enforced here, in the database,
        # so that concurrent requests cannot both succeed.
        Index(
            "uq_offers_open_unit",
            "region_id",
            "corporation_id",
            "unit_id",
            unique=True,
            sqlite_where=text(_OPEN_OFFER),
            postgresql_where=text(_OPEN_OFFER),
        ),
        Index(
            "uq_offers_open_client",
            "region_id",
            "client_id",
            unique=True,
            sqlite_where=text(_OPEN_OFFER),
            postgresql_where=text(_OPEN_OFFER),
        ),
        in_region(("client_id",), "clients"),
        # the vacancy: unit ids are each corporation's own
        ForeignKeyConstraint(
            ("region_id", "corporation_id", "unit_id"),
            ("vacancies.region_id", "vacancies.corporation_id", "vacancies.id"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    corporation_id: Mapped[str] = mapped_column(String(100))  # the unit's
    unit_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    by_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    intended_start_date: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    let_at: Mapped[dt.datetime | None]


class AuditEvent(Scoped, Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # region_id none: an event of the installation (a region made, an installation key)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
