"""What the API takes and gives. Input rows reuse the contract's own models (``allocator.models``)
so a vacancy or a client means here exactly what it means to the optimiser."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from allocator import models as contract

ClientStatus = Literal["ready", "proposed", "housed", "withdrawn"]
VacancyStatus = Literal["open", "let", "withdrawn"]
OfferStatus = Literal["proposed", "accepted", "refused", "withdrawn", "expired", "let"]
RunStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
IncomeBracket = Literal["below_income_limit", "above_income_limit"]

Text = Field(min_length=1, max_length=200)


#: What the columns hold (``tables.py``), checked the same way on SQLite as on PostgreSQL.
ID_LENGTH, NAME_LENGTH, GROUP_LENGTH, FREE_TEXT_LENGTH = 100, 200, 50, 1000
INT32 = 2**31 - 1
#: Euro per month, household members, rooms: far above any real value, far below overflow.
MAX_RENT, MAX_PERSONS, MAX_ROOMS, MAX_COUNT = 100_000, 50, 50, 1_000_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs, newlines allowed


def _length_of(field: str) -> int:
    if field in ("reason", "status_reason"):
        return FREE_TEXT_LENGTH
    if field in ("target_group", "allowed_groups"):
        return GROUP_LENGTH
    if field == "id" or field.endswith(("_id", "_ids", "_municipalities")):
        return ID_LENGTH
    return NAME_LENGTH


def _fits(value: Any, field: str) -> Any:
    """Raise ValueError when a value cannot be stored as it is: too long, a control character
    (in an id, any; in free text, all but tab and newline), an integer beyond 32 bits, a number
    that is not finite or beyond 10^9."""
    if isinstance(value, str):
        limit = _length_of(field)
        if len(value) > limit:
            raise ValueError(f"at most {limit} characters ({len(value):,} given)")
        pattern = _CONTROL_IN_TEXT if limit == FREE_TEXT_LENGTH else _CONTROL
        if pattern.search(value):
            raise ValueError("holds a control character (such as NUL or a line break)")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > INT32:
            raise ValueError(f"at most {INT32:,}")
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > 1e9:
            raise ValueError("must be a finite number of at most 10^9")
    elif isinstance(value, list | tuple | set):
        for item in value:
            _fits(item, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fits(key, "id")
            _fits(item, field)
    return value


class Stored(BaseModel):
    """Input that is stored: every value must fit its column on every database, so SQLite
    answers the same 422 as PostgreSQL (which would refuse it) and nothing overflows later."""

    @field_validator("*", mode="after")
    @classmethod
    def _fits_its_column(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls.__unchecked__:
            return value
        return _fits(value, info.field_name)

    __unchecked__: ClassVar[frozenset[str]] = frozenset()


class _In(Stored):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- region set-up ------------------------------------------------------------------------


class MunicipalityIn(Stored, contract.Municipality):
    quota: int = Field(ge=0, le=100_000, description="Placements agreed for `year`.")
    year: int | None = Field(
        default=None, ge=2000, le=2100, description="The quota's year; default this year."
    )


class QuotaIn(_In):
    quota: int = Field(ge=0, le=100_000, description="Placements agreed for the year.")


class MunicipalityOut(_Out):
    id: str
    name: str
    population: int | None
    year: int
    quota: int = Field(description="Agreed for the year; 0 when no quota was set.")
    used: int = Field(description="Let plus accepted this year.")
    let: int
    accepted: int
    left: int


class CorporationIn(Stored, contract.Corporation):
    model_config = ConfigDict(allow_inf_nan=False)


class CorporationOut(_Out):
    id: str
    name: str
    quota: int | None


class ComplexIn(Stored, contract.Complex):
    model_config = ConfigDict(allow_inf_nan=False)


class ComplexUpdate(_In):
    name: str | None = Field(default=None, max_length=200)
    units_total: int | None = Field(default=None, ge=1, le=100_000)
    vulnerable_residents: int | None = Field(default=None, ge=0, le=100_000)
    max_vulnerable_share: float | None = Field(default=None, ge=0, le=1)
    # rules 12-14: null clears a field
    group_max_share: dict[str, contract.Share] | None = None
    group_residents: dict[str, contract.Count] | None = None
    max_vulnerable_per_staircase: int | None = Field(default=None, ge=0, le=100_000)
    staircase_vulnerable_residents: dict[str, contract.Count] | None = None
    neighbourhood_id: str | None = Field(default=None, max_length=100)


class ComplexOut(_Out):
    id: str
    municipality_id: str
    name: str | None
    units_total: int
    vulnerable_residents: int
    max_vulnerable_share: float | None
    group_max_share: dict[str, float] | None = None
    group_residents: dict[str, int] | None = None
    max_vulnerable_per_staircase: int | None = None
    staircase_vulnerable_residents: dict[str, int] | None = None
    neighbourhood_id: str | None = None


class NeighbourhoodIn(contract.Neighbourhood):
    """Rule 14. ``quota``: placements agreed for the year (a run gets it minus this year's lets)."""

    model_config = ConfigDict(allow_inf_nan=False)


class NeighbourhoodOut(_Out):
    id: str
    municipality_id: str
    name: str | None
    quota: int


class SupportProviderIn(contract.SupportProvider):
    """Rule 15. ``capacity``: places for new clients this year per municipality (a run gets them
    minus this year's lets of the provider's clients there)."""

    model_config = ConfigDict(allow_inf_nan=False)


class SupportProviderOut(BaseModel):
    id: str
    name: str
    capacity: list[contract.SupportPlaces]


class PolicyIn(_In):
    name: str = Text
    max_vulnerable_share: float = Field(default=0.3, ge=0, le=1)
    objective: list[contract.ObjectiveLevel] = Field(
        default_factory=lambda: list(contract.DEFAULT_OBJECTIVE), min_length=1, max_length=3
    )


class PolicyOut(_Out):
    name: str
    max_vulnerable_share: float
    objective: list[str]


# --- vacancies ----------------------------------------------------------------------------


class VacancyIn(Stored, contract.Unit):
    """A vacancy as a corporation reports it: the contract's unit row."""

    model_config = ConfigDict(allow_inf_nan=False)

    rooms: int = Field(ge=0, le=MAX_ROOMS)
    rent: float = Field(ge=0, le=MAX_RENT, description="Euro per month.")
    min_occupants: int = Field(default=1, ge=1, le=MAX_PERSONS)
    max_occupants: int = Field(ge=1, le=MAX_PERSONS)

    @field_validator("id", mode="after")
    @classmethod
    def _no_separator(cls, value: str) -> str:
        # a "/" would make a qualified unit reference ("corporation/id", units.py) ambiguous
        if "/" in value:
            raise ValueError('a unit id holds no "/"')
        return value


class VacancyOut(_Out):
    id: str
    complex_id: str
    corporation_id: str
    rooms: int
    rent: float
    accessible: bool
    min_occupants: int
    max_occupants: int
    allowed_groups: list[str] | None
    staircase_id: str | None = None
    status: VacancyStatus
    status_reason: str | None
    submitted_at: dt.datetime
    closed_at: dt.datetime | None


class WithdrawIn(_In):
    reason: str = Field(min_length=1, max_length=1000, examples=["let through the waiting list"])


class UploadResult(BaseModel):
    created: int
    vacancy_ids: list[str]


# --- clients ------------------------------------------------------------------------------


class ClientIn(Stored, contract.Client):
    """A client as the coordinator registers them. ``id`` is a pseudonym, never a name."""

    model_config = ConfigDict(allow_inf_nan=False)

    household_size: int = Field(ge=1, le=MAX_PERSONS)
    max_rent: float | None = Field(default=None, ge=0, le=MAX_RENT)
    income_bracket: IncomeBracket | None = Field(
        default=None, description="For passend toewijzen; shown to the corporation of an offer."
    )
    support: bool = Field(default=False, description="Begeleiding after the move, yes or no.")
    support_contact: str | None = Field(default=None, max_length=200)


class ClientUpdate(_In):
    household_size: int | None = Field(default=None, ge=1, le=50)
    max_rent: float | None = Field(default=None, ge=0)
    needs_accessible: bool | None = None
    preferred_municipalities: list[str] | None = Field(default=None, max_length=100)
    excluded_municipalities: list[str] | None = Field(default=None, max_length=100)
    target_group: str | None = Field(default=None, min_length=1, max_length=50)
    income_bracket: IncomeBracket | None = None
    support: bool | None = None
    support_contact: str | None = Field(default=None, max_length=200)
    support_provider_id: str | None = Field(default=None, max_length=100)


class ClientOut(_Out):
    id: str
    household_size: int
    max_rent: float | None
    needs_accessible: bool
    preferred_municipalities: list[str]
    excluded_municipalities: list[str]
    target_group: str
    ready_since: dt.date
    income_bracket: str | None
    support: bool
    support_contact: str | None
    support_provider_id: str | None = None
    status: ClientStatus
    registered_at: dt.datetime
    left_at: dt.datetime | None = None
    erased_at: dt.datetime | None = Field(
        default=None, description="When the personal fields were erased (retention, AVG art. 17)."
    )
    refused_units: list[str] = Field(default_factory=list)


class AuditEventOut(_Out):
    id: int
    at: dt.datetime
    actor: str
    actor_role: str
    action: str
    entity: str
    entity_id: str
    details: dict[str, Any]


# --- runs and scenarios -------------------------------------------------------------------


class RunIn(_In):
    method: Literal["auto", "lp", "parts", "cp-sat"] = "auto"
    time_limit_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="Default: the service's RUN_TIME_LIMIT_SECONDS."
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class RunOut(_Out):
    id: int
    kind: Literal["allocation", "scenario"]
    status: RunStatus
    requested_by: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    input_hash: str = Field(description="SHA-256 of the instance and solver settings.")
    solver_version: str
    solver_settings: dict[str, Any]
    clients: int = Field(description="Clients in the run's instance.")
    units: int = Field(description="Units in the run's instance.")
    placed: int | None = None
    error: dict[str, Any] | None = None


class ScenarioIn(_In):
    """A what-if over the current state: other quotas or another Magic Mix share."""

    quotas: dict[str, Annotated[int, Field(ge=0, le=MAX_COUNT)]] = Field(
        default_factory=dict, description="Municipality id to the quota to try.", max_length=1000
    )
    max_vulnerable_share: float | None = Field(default=None, ge=0, le=1)
    time_limit_seconds: float | None = Field(default=None, gt=0, le=3600)


class ScenarioOut(BaseModel):
    """A scenario's outcome in aggregates only: no client appears in it."""

    run: RunOut
    objective: contract.ObjectiveValues | None = None
    unplaced: int | None = None
    summaries: contract.Summaries | None = None


# --- scenario runs (what-if simulations) --------------------------------------------------


class ScenarioRunIn(_In):
    """A scenario file (``allocator scenario run``'s format), and optionally fewer seeds or
    variants than it names. Synthetic arrival models only: no personal data."""

    # the scenario is checked by its own model and the work bounds (routers/scenario_runs.py)
    __unchecked__: ClassVar[frozenset[str]] = frozenset({"scenario"})

    # YAML is whitespace-sensitive: the text is kept as it is
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    scenario: dict[str, Any] | str = Field(
        description="The scenario: a JSON object, or the text of a YAML scenario file "
        "(scenarios/westfriesland.yaml shows every field)."
    )
    seeds: int | None = Field(
        default=None, ge=1, le=1000, description="Replications: seeds 1..n instead of the file's."
    )
    variants: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Only these variants (by name; `base` is the base scenario).",
    )
    time_limit_seconds: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="Wall-clock limit of the whole simulation. Default: "
        "SCENARIO_RUN_TIME_LIMIT_SECONDS; at most MAX_SCENARIO_RUN_TIME_LIMIT_SECONDS.",
    )


class ScenarioRunOut(_Out):
    id: int
    name: str = Field(description="The scenario's name.")
    status: RunStatus
    requested_by: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    input_hash: str = Field(description="SHA-256 of the scenario, seeds and variants.")
    software_version: str
    seeds: list[int]
    variants: list[str] = Field(description="The variants simulated, `base` first.")
    size: int = Field(description="Seeds x variants x weeks: what MAX_SCENARIO_SIZE bounds.")
    time_limit_seconds: float
    tasks_total: int = Field(description="Variant x seed simulations in the run.")
    tasks_done: int
    plots: list[str] = Field(
        default_factory=list, description="Names of the plots at `plots/{name}.png` when done."
    )
    error: dict[str, Any] | None = None


class ScenarioKpi(BaseModel):
    """One KPI of one variant and policy, over the seeds. ``group`` is ``all`` or a breakdown
    (``target_group=BW``, ``municipality=hoorn``, ``2026/hoorn``, ``week=12``...)."""

    variant: str
    policy: str
    kpi: str
    group: str
    n: int = Field(description="Seeds.")
    mean: float | None
    std: float | None
    ci_low: float | None = Field(description="95% confidence interval over seeds.")
    ci_high: float | None


# --- offers -------------------------------------------------------------------------------


class Pair(_In):
    client_id: str = Field(min_length=1, max_length=100)
    unit_id: str = Field(
        min_length=1,
        max_length=100,
        description="The unit's id, or its reference in a run (``corporation/id``).",
    )
    corporation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The unit's corporation: needed when more than one corporation of the "
        "region uses the unit id (422 otherwise).",
    )


class OffersFromRunIn(_In):
    client_ids: list[str] | None = Field(
        default=None,
        max_length=10_000,
        description="The proposal lines (by client) to offer; default every line not yet offered.",
    )
    changes: list[Pair] = Field(
        default_factory=list,
        max_length=10_000,
        description="Lines changed by hand: this client gets this unit instead. Checked against "
        "every rule.",
    )
    intended_start_date: dt.date | None = None


class OfferIn(Pair):
    intended_start_date: dt.date | None = None


class RefuseIn(_In):
    reason: str = Field(min_length=1, max_length=1000, examples=["too far from work"])


class OfferOut(_Out):
    id: int
    run_id: int | None
    client_id: str
    corporation_id: str = Field(description="The unit's corporation.")
    unit_id: str
    status: OfferStatus
    by_hand: bool
    refusal_reason: str | None
    intended_start_date: dt.date | None
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None
    let_at: dt.datetime | None


class CorporationOfferOut(BaseModel):
    """An offer as the corporation sees it: only what DOMAIN.md's Privacy section allows."""

    id: int
    case_id: str = Field(description="Pseudonymous, different for every offer.")
    unit_id: str
    status: OfferStatus
    household_size: int
    income_bracket: str | None
    needs_accessible: bool = Field(description="Required dwelling feature.")
    support: bool
    support_contact: str | None
    intended_start_date: dt.date | None
    expires_at: dt.datetime


# --- aggregates and keys ------------------------------------------------------------------


class Aggregates(BaseModel):
    year: int
    municipalities: list[MunicipalityOut]
    clients_by_status: dict[str, int]
    vacancies_by_status: dict[str, int]
    offers_by_status: dict[str, int]
    runs_by_status: dict[str, int]


class ApiKeyIn(_In):
    name: str = Text
    role: Literal["coordinator", "corporation", "planner", "admin"]
    corporation_id: str | None = Field(default=None, description="Required for a corporation.")
    region_id: int | None = Field(
        default=None,
        ge=1,
        le=INT32,
        description="The key's region. A region's admin makes keys of its own region only; an "
        "installation admin names the region, or none for another installation admin.",
    )


class ApiKeyOut(_Out):
    id: int
    region_id: int | None
    name: str
    role: str
    corporation_id: str | None
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is stored.")


class RegionIn(_In):
    name: str = Text


class RegionOut(_Out):
    id: int
    name: str
    created_at: dt.datetime


class Health(BaseModel):
    status: Literal["ok"]
    database: str
