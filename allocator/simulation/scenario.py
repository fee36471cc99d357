"""The scenario file: a base region, arrival models, offer behaviour, policy, horizon, seeds and
variants, validated by pydantic with errors that name where in the file the problem is.

A variant is the base with changes: ``set`` (dotted path -> value), ``scale`` (dotted path ->
factor) and ``add`` (dotted path of a list -> rows appended). A path step into a list of rows
with ids picks the row by id (``region.municipalities.hoorn.yearly_quota``); a step that is not
an id or index applies to every row (``scale: {region.municipalities.yearly_quota: 1.2}``).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: Every policy, in report order. ``practice``: today's practice (municipality and corporation
#: fixed at intake, longest waiting first in that queue); ``fcfs``: regional first come, first
#: served; ``optimiser``; ``optimiser_acceptance``: the optimiser that also maximises the expected
#: acceptance of its offers; ``ceiling_arrivals``: knows every arrival, learns answers by offering;
#: ``hindsight``: clairvoyant, knows arrivals and every answer.
POLICIES = (
    "practice",
    "fcfs",
    "optimiser",
    "optimiser_acceptance",
    "ceiling_arrivals",
    "hindsight",
)
PolicyName = Literal[
    "practice", "fcfs", "optimiser", "optimiser_acceptance", "ceiling_arrivals", "hindsight"
]
#: The policies a scenario runs when it names none.
DEFAULT_POLICIES = ("practice", "fcfs", "optimiser", "ceiling_arrivals", "hindsight")
#: Policies that decide week by week without knowing the future.
ONLINE = ("practice", "fcfs", "optimiser", "optimiser_acceptance")
#: Policies that know what will arrive (upper references, not policies a region can run).
CEILINGS = ("ceiling_arrivals", "hindsight")


class ScenarioError(Exception):
    """The scenario file cannot be used; ``issues`` lists every problem with its place."""

    def __init__(self, issues: list[str]):
        self.issues = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{len(self.issues)} problem(s) in the scenario:\n" + "\n".join(
            f"  - {i}" for i in self.issues
        )


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _normalised(shares: dict, what: str) -> dict:
    if not shares:
        raise ValueError(f"{what} must list at least one value")
    if any(v < 0 for v in shares.values()):
        raise ValueError(f"{what} shares cannot be negative")
    total = sum(shares.values())
    if total <= 0:
        raise ValueError(f"{what} shares must add up to more than 0")
    return {k: v / total for k, v in shares.items()}


# --- the base region -------------------------------------------------------------------------


class MunicipalitySpec(_Spec):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    population: int | None = Field(default=None, ge=0)
    yearly_quota: int | None = Field(
        default=None,
        ge=0,
        description="Placements per year; unset: a share of region.yearly_quota by population.",
    )
    location_km: tuple[float, float] | None = Field(
        default=None, description="(x, y) in km, for the distance term of the acceptance model"
    )


class CorporationSpec(_Spec):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    yearly_quota: int | None = Field(default=None, ge=0)


class ComplexSpec(_Spec):
    id: str = Field(min_length=1)
    name: str | None = None
    municipality: str
    corporation: str = Field(description="The owner; vacancies of its streams arise here.")
    units_total: int = Field(ge=1)
    vulnerable_residents: int = Field(ge=0)
    max_vulnerable_share: float | None = Field(default=None, ge=0, le=1)
    # rules 12-14 (the contract's complex fields, DOMAIN.md)
    group_max_share: dict[str, float] | None = Field(
        default=None, description="Rule 12: target group → its largest share of units_total."
    )
    group_residents: dict[str, int] | None = Field(
        default=None, description="Rule 12: households of each capped group living there now."
    )
    max_vulnerable_per_staircase: int | None = Field(default=None, ge=0, description="Rule 13.")
    staircases: dict[str, int] | None = Field(
        default=None,
        description="Rule 13: staircase id → vulnerable households there now; vacancies arise "
        "in these staircases.",
    )
    neighbourhood: str | None = Field(default=None, description="Rule 14: its neighbourhood.")

    @model_validator(mode="after")
    def _fits(self) -> ComplexSpec:
        if self.vulnerable_residents > self.units_total:
            raise ValueError("vulnerable_residents exceeds units_total")
        if any(not 0 <= v <= 1 for v in (self.group_max_share or {}).values()):
            raise ValueError("group_max_share: every share must lie in [0, 1]")
        if any(
            v < 0
            for v in (*(self.group_residents or {}).values(), *(self.staircases or {}).values())
        ):
            raise ValueError("group_residents and staircases count households: at least 0")
        unknown = sorted(set(self.group_residents or {}) - set(self.group_max_share or {}))
        if unknown:
            raise ValueError(f"group_residents names group(s) {unknown} without a group_max_share")
        if self.max_vulnerable_per_staircase is not None and not self.staircases:
            raise ValueError("max_vulnerable_per_staircase needs the complex's staircases")
        return self


class NeighbourhoodSpec(_Spec):
    """Rule 14: a neighbourhood and its placements per year."""

    id: str = Field(min_length=1)
    name: str | None = None
    municipality: str
    yearly_quota: int = Field(ge=0)


class SupportProviderSpec(_Spec):
    """Rule 15: a provider of ambulant support and its places per year per municipality."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    yearly_places: dict[str, int] = Field(description="municipality id → places per year")

    @model_validator(mode="after")
    def _places(self) -> SupportProviderSpec:
        if any(v < 0 for v in self.yearly_places.values()):
            raise ValueError("yearly_places: places are at least 0")
        return self


class Region(_Spec):
    municipalities: list[MunicipalitySpec] = Field(min_length=1)
    corporations: list[CorporationSpec] = Field(min_length=1)
    complexes: list[ComplexSpec] = Field(min_length=1)
    neighbourhoods: list[NeighbourhoodSpec] = Field(default_factory=list, description="Rule 14.")
    support_providers: list[SupportProviderSpec] = Field(
        default_factory=list, description="Rule 15."
    )
    yearly_quota: int | None = Field(
        default=None, ge=0, description="Regional placements per year, split by population."
    )
    resident_moves_per_year: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of a building's vulnerable households moving out per year. With 0 "
        "buildings only fill up; with more the hindsight ceiling is approximate.",
    )
    prorate_partial_years: bool = Field(
        default=True,
        description="A calendar year the horizon covers only in part gets that part of the "
        "yearly quotas (rounded half up), not the whole year's.",
    )


# --- arrivals ---------------------------------------------------------------------------------


class RentLimit(_Spec):
    share_with_limit: float = Field(default=0.8, ge=0, le=1)
    small_household: float = Field(default=713.0, ge=0, description="1-2 persons, euro/month")
    large_household: float = Field(default=732.0, ge=0, description="3+ persons, euro/month")
    spread: float = Field(default=25.0, ge=0, description="standard deviation around the cap")


class PreferencePattern(_Spec):
    none_share: float = Field(default=0.2, ge=0, le=1, description="list no municipality")
    count_shares: dict[int, float] = Field(
        default_factory=lambda: {1: 0.45, 2: 0.35, 3: 0.20},
        description="how many municipalities a client ranks",
    )
    weight: Literal["population", "equal"] = "population"
    exclude_share: float = Field(default=0.1, ge=0, le=1)

    @model_validator(mode="after")
    def _shares(self) -> PreferencePattern:
        object.__setattr__(self, "count_shares", _normalised(self.count_shares, "count_shares"))
        if min(self.count_shares) < 1:
            raise ValueError("count_shares keys must be 1 or more")
        return self


class ClientArrivals(_Spec):
    per_week: float = Field(ge=0, description="mean ready clients per week (Poisson)")
    initial_backlog: int = Field(default=0, ge=0, description="clients already waiting")
    initial_wait_weeks: float = Field(
        default=20.0, ge=0, description="mean weeks the initial backlog has waited"
    )
    target_groups: dict[str, float] = Field(
        default_factory=lambda: {"BW": 0.5, "MO": 0.35, "jeugd": 0.15}
    )
    household_sizes: dict[int, float] = Field(
        default_factory=lambda: {1: 0.70, 2: 0.15, 3: 0.10, 4: 0.03, 5: 0.02}
    )
    needs_accessible: float = Field(default=0.08, ge=0, le=1)
    rent_limit: RentLimit = Field(default_factory=RentLimit)
    preferences: PreferencePattern = Field(default_factory=PreferencePattern)
    leave_per_week: float = Field(
        default=0.0, ge=0, le=1, description="chance a waiting client leaves the list in a week"
    )
    leave_per_week_after_refusal: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="the same chance once the client has refused an offer; unset: leave_per_week",
    )
    urgent_share: float = Field(default=0.0, ge=0, le=1, description="clients flagged urgent")
    urgent_priority_weeks: float = Field(
        default=26.0,
        ge=0,
        description="an urgent client is treated, by every policy, as if ready this many weeks "
        "earlier (the documented priority rule); KPIs count their real waiting time",
    )
    support_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Rule 15: share of clients with a support provider (one that works where "
        "they most want to live).",
    )

    @model_validator(mode="after")
    def _shares(self) -> ClientArrivals:
        object.__setattr__(self, "target_groups", _normalised(self.target_groups, "target_groups"))
        sizes = _normalised(self.household_sizes, "household_sizes")
        if min(sizes) < 1:
            raise ValueError("household_sizes keys must be 1 or more")
        object.__setattr__(self, "household_sizes", sizes)
        return self


class VacancyStream(_Spec):
    municipality: str
    corporation: str
    per_week: float = Field(ge=0, description="mean vacancies per week for uitstromers (Poisson)")


class UnitTypes(_Spec):
    rooms: dict[int, float] = Field(default_factory=lambda: {1: 0.30, 2: 0.35, 3: 0.25, 4: 0.10})
    rent_base: float = Field(default=590.0, ge=0)
    rent_per_room: float = Field(default=30.0)
    rent_spread: float = Field(default=120.0, ge=0)
    rent_min: float = Field(default=350.0, ge=0)
    rent_max: float = Field(default=1000.0, ge=0)
    accessible_share: float = Field(default=0.15, ge=0, le=1)
    reserved_share: float = Field(default=0.10, ge=0, le=1)
    reserved_for: list[list[str]] = Field(
        default_factory=lambda: [["jeugd"], ["BW"], ["MO"], ["BW", "MO"]]
    )

    @model_validator(mode="after")
    def _check(self) -> UnitTypes:
        object.__setattr__(self, "rooms", _normalised(self.rooms, "rooms"))
        if self.rent_max < self.rent_min:
            raise ValueError("rent_max is below rent_min")
        if self.reserved_share > 0 and not self.reserved_for:
            raise ValueError("reserved_for is empty while reserved_share > 0")
        return self


class VacancyArrivals(_Spec):
    streams: list[VacancyStream] = Field(min_length=1)
    unit_types: UnitTypes = Field(default_factory=UnitTypes)
    open_weeks: int = Field(
        default=4,
        ge=1,
        description="weeks a vacancy waits for an uitstromer before regular letting",
    )


# --- behaviour and policy ---------------------------------------------------------------------


class AcceptanceSpec(_Spec):
    """Pair-dependent answers: on the log-odds scale, added to the group's base probability
    (``accept_probability`` / ``by_target_group``). All zero: the fixed probability, exactly."""

    rank: float = Field(default=0.0, description="per preference rank beyond the first")
    rent_over_limit: float = Field(
        default=0.0, description="per 10 percentage points of rent / max_rent above `rent_from`"
    )
    rent_from: float = Field(default=0.8, ge=0, le=1)
    distance: float = Field(
        default=0.0, description="per 10 km from the client's first municipality (location_km)"
    )


class Offers(_Spec):
    accept_probability: float = Field(default=0.85, ge=0, le=1)
    by_target_group: dict[str, float] = Field(default_factory=dict)
    acceptance: AcceptanceSpec = Field(default_factory=AcceptanceSpec)
    leave_after_refusals: int | None = Field(
        default=None, ge=1, description="a client leaves the pool after this many refusals"
    )

    @model_validator(mode="after")
    def _probabilities(self) -> Offers:
        bad = [g for g, p in self.by_target_group.items() if not 0 <= p <= 1]
        if bad:
            raise ValueError(f"by_target_group probabilities outside [0, 1] for {bad}")
        return self


class SimPolicy(_Spec):
    max_vulnerable_share: float = Field(default=0.3, ge=0, le=1)
    objective: list[Literal["placed", "waiting_days", "rank_sum", "expected_acceptance"]] = Field(
        default_factory=lambda: ["placed", "waiting_days", "rank_sum"]
    )
    acceptance_objective: list[
        Literal["placed", "waiting_days", "rank_sum", "expected_acceptance"]
    ] = Field(
        default_factory=lambda: ["placed", "expected_acceptance", "waiting_days", "rank_sum"],
        description="objective of the optimiser_acceptance policy; it gives the solver each "
        "pair's acceptance chance from the scenario's acceptance model",
    )
    round_weeks: int = Field(default=1, ge=1, description="weeks between allocation rounds")
    solver_time_limit: float = Field(default=10.0, gt=0, description="seconds per round")


class ScenarioConfig(_Spec):
    """One fully resolved variant: everything the engine needs."""

    start: dt.date = dt.date(2026, 1, 5)
    horizon_weeks: int = Field(default=52, ge=1, le=520)
    region: Region
    clients: ClientArrivals
    vacancies: VacancyArrivals
    offers: Offers = Field(default_factory=Offers)
    policy: SimPolicy = Field(default_factory=SimPolicy)

    @model_validator(mode="after")
    def _references(self) -> ScenarioConfig:
        problems: list[str] = []
        region = self.region
        for table in (
            "municipalities",
            "corporations",
            "complexes",
            "neighbourhoods",
            "support_providers",
        ):
            seen: set[str] = set()
            for row in getattr(region, table):
                if row.id in seen:
                    problems.append(f"region.{table}.{row.id}: duplicate id")
                seen.add(row.id)
        munis = {m.id for m in region.municipalities}
        corps = {c.id for c in region.corporations}
        for cx in region.complexes:
            if cx.municipality not in munis:
                problems.append(
                    f"region.complexes.{cx.id}.municipality: unknown municipality "
                    f"{cx.municipality!r}"
                )
            if cx.corporation not in corps:
                problems.append(
                    f"region.complexes.{cx.id}.corporation: unknown corporation {cx.corporation!r}"
                )
        problems += _rule_12_15_references(region, munis)
        owned = {(cx.municipality, cx.corporation) for cx in region.complexes}
        for i, s in enumerate(self.vacancies.streams):
            where = f"vacancies.streams[{i}]"
            if s.municipality not in munis:
                problems.append(f"{where}.municipality: unknown municipality {s.municipality!r}")
            elif s.corporation not in corps:
                problems.append(f"{where}.corporation: unknown corporation {s.corporation!r}")
            elif (s.municipality, s.corporation) not in owned:
                problems.append(
                    f"{where}: corporation {s.corporation!r} owns no complex in {s.municipality!r}"
                )
        if region.yearly_quota is None:
            missing = [m.id for m in region.municipalities if m.yearly_quota is None]
            if missing:
                problems.append(
                    f"region.yearly_quota: not set, and municipalities {missing} have no "
                    "yearly_quota of their own"
                )
        elif any(m.yearly_quota is None and m.population is None for m in region.municipalities):
            problems.append(
                "region.municipalities: a municipality without yearly_quota needs a population "
                "to take its share of region.yearly_quota"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def yearly_quotas(self) -> dict[str, int]:
        """Per municipality: its own yearly_quota, or its share of the regional quota by
        population (largest remainder) among those without one."""
        munis = self.region.municipalities
        fixed = {m.id: m.yearly_quota for m in munis if m.yearly_quota is not None}
        rest = [m for m in munis if m.yearly_quota is None]
        if rest:
            total = max(0, (self.region.yearly_quota or 0) - sum(fixed.values()))
            weights = [m.population or 0 for m in rest]
            wsum = sum(weights) or 1
            exact = [total * w / wsum for w in weights]
            seats = [math.floor(x) for x in exact]
            order = sorted(range(len(rest)), key=lambda i: (-(exact[i] - seats[i]), i))
            for i in order[: total - sum(seats)]:
                seats[i] += 1
            fixed.update({m.id: s for m, s in zip(rest, seats, strict=True)})
        return {m.id: fixed[m.id] for m in munis}

    def quotas_for_year(self, year: int) -> tuple[dict[str, int], dict[str, int | None]]:
        """Municipal and corporation quotas of one calendar year: the yearly quotas, pro-rated
        (rounded half up) to the part of the year the horizon covers when
        ``region.prorate_partial_years`` is set."""
        munis = self.yearly_quotas()
        corps = {c.id: c.yearly_quota for c in self.region.corporations}
        share = self.year_share(year) if self.region.prorate_partial_years else 1.0

        def part(q: int) -> int:
            return math.floor(q * share + 0.5)

        return (
            {m: part(q) for m, q in munis.items()},
            {c: None if q is None else part(q) for c, q in corps.items()},
        )

    def rule_quotas_for_year(self, year: int) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Rules 14 and 15 for one calendar year: each neighbourhood's quota and each (provider,
        municipality)'s support places, pro-rated like the municipal quotas."""
        share = self.year_share(year) if self.region.prorate_partial_years else 1.0

        def part(q: int) -> int:
            return math.floor(q * share + 0.5)

        return (
            {nb.id: part(nb.yearly_quota) for nb in self.region.neighbourhoods},
            {
                (p.id, m): part(q)
                for p in self.region.support_providers
                for m, q in p.yearly_places.items()
            },
        )

    def year_share(self, year: int) -> float:
        """The part of calendar year ``year`` inside the horizon (0 to 1)."""
        first, after = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
        end = self.start + dt.timedelta(weeks=self.horizon_weeks)
        covered = (min(after, end) - max(first, self.start)).days
        return max(0, covered) / (after - first).days


def _rule_12_15_references(region: Region, munis: set[str]) -> list[str]:
    """Neighbourhoods and providers name known municipalities; a complex's neighbourhood lies in
    the complex's municipality."""
    problems = []
    nb_muni = {nb.id: nb.municipality for nb in region.neighbourhoods}
    for nb in region.neighbourhoods:
        if nb.municipality not in munis:
            problems.append(
                f"region.neighbourhoods.{nb.id}.municipality: unknown municipality "
                f"{nb.municipality!r}"
            )
    for p in region.support_providers:
        for m in p.yearly_places:
            if m not in munis:
                problems.append(
                    f"region.support_providers.{p.id}.yearly_places: unknown municipality {m!r}"
                )
    for cx in region.complexes:
        if cx.neighbourhood is None:
            continue
        where = f"region.complexes.{cx.id}.neighbourhood"
        if cx.neighbourhood not in nb_muni:
            problems.append(f"{where}: unknown neighbourhood {cx.neighbourhood!r}")
        elif nb_muni[cx.neighbourhood] != cx.municipality:
            problems.append(
                f"{where}: {cx.neighbourhood!r} lies in {nb_muni[cx.neighbourhood]!r}, not in "
                f"{cx.municipality!r}"
            )
    return problems


class Variant(_Spec):
    name: str = Field(min_length=1)
    description: str = ""
    set: dict[str, Any] = Field(default_factory=dict)
    scale: dict[str, float] = Field(default_factory=dict)
    add: dict[str, list[Any]] = Field(default_factory=dict)


class ScenarioFile(_Spec):
    """The top level of a scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    seeds: list[int] | None = Field(default=None, min_length=1)
    replications: int = Field(default=30, ge=1, le=1000, description="seeds 1..n unless `seeds`")
    policies: list[PolicyName] = Field(default_factory=lambda: list(DEFAULT_POLICIES), min_length=1)
    variants: list[Variant] = Field(default_factory=list)
    sweep: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted path -> values, for `scenario sweep`"
    )
    # everything else is the base ScenarioConfig; checked there
    model_config = ConfigDict(extra="allow", frozen=True)


class Scenario(BaseModel):
    """A loaded scenario: the base and every variant, each resolved and validated."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    seeds: list[int]
    policies: list[PolicyName]
    configs: dict[str, ScenarioConfig]  # "base" first, then the variants in file order
    descriptions: dict[str, str]
    sweep: dict[str, list[Any]]
    base_data: dict[str, Any]

    def with_seeds(self, seeds: list[int]) -> Scenario:
        return self.model_copy(update={"seeds": list(seeds)})

    def only(self, names: list[str]) -> Scenario:
        unknown = sorted(set(names) - set(self.configs))
        if unknown:
            raise ScenarioError([f"unknown variant(s) {unknown}; known: {list(self.configs)}"])
        return self.model_copy(
            update={"configs": {k: v for k, v in self.configs.items() if k in names}}
        )


# --- paths and variants -----------------------------------------------------------------------


def _step(node: Any, key: str, path: str, create: bool) -> tuple[Any, Any]:
    """(container, key) of one step; for a list, the key is an index or a row's id."""
    if isinstance(node, dict):
        if key not in node and not create:
            raise KeyError(f"{path}: no field {key!r}")
        return node, key
    if isinstance(node, list):
        if key.lstrip("-").isdigit():
            i = int(key)
            if not -len(node) <= i < len(node):
                raise KeyError(f"{path}: index {i} out of range")
            return node, i
        for i, row in enumerate(node):
            if isinstance(row, dict) and row.get("id") == key:
                return node, i
        raise KeyError(f"{path}: no row with id {key!r}, and no row has a field of that name")
    raise KeyError(f"{path}: cannot step into {type(node).__name__} with {key!r}")


def _apply(node: Any, keys: list[str], path: str, fn, create: bool) -> None:
    key, rest = keys[0], keys[1:]
    if (
        isinstance(node, list)
        and not key.lstrip("-").isdigit()
        and not any(isinstance(r, dict) and r.get("id") == key for r in node)
        and any(isinstance(r, dict) and key in r for r in node)
    ):
        # not an index or id: every row
        for row in node:
            _apply(row, keys, path, fn, create)
        return
    container, k = _step(node, key, path, create)
    if rest:
        if isinstance(container, dict) and k not in container:
            container[k] = {}  # `set` into a section the file leaves at its defaults
        _apply(container[k], rest, path, fn, create)
    else:
        container[k] = fn(container[k] if (isinstance(container, list) or k in container) else None)


def set_path(data: dict, path: str, value: Any) -> None:
    _apply(data, path.split("."), path, lambda _old: copy.deepcopy(value), create=True)


def scale_path(data: dict, path: str, factor: float) -> None:
    def scaled(old: Any) -> Any:
        if isinstance(old, bool) or not isinstance(old, int | float):
            raise KeyError(f"{path}: cannot scale {old!r}, not a number")
        return round(old * factor) if isinstance(old, int) else old * factor

    _apply(data, path.split("."), path, scaled, create=False)


def add_path(data: dict, path: str, rows: list[Any]) -> None:
    def added(old: Any) -> Any:
        if not isinstance(old, list):
            raise KeyError(f"{path}: not a list")
        return old + copy.deepcopy(rows)

    _apply(data, path.split("."), path, added, create=False)


def apply_variant(base: dict, variant: Variant) -> dict:
    data = copy.deepcopy(base)
    problems = []
    for path, value in variant.set.items():
        try:
            set_path(data, path, value)
        except KeyError as exc:
            problems.append(f"set {exc.args[0]}")
    for path, factor in variant.scale.items():
        try:
            scale_path(data, path, factor)
        except KeyError as exc:
            problems.append(f"scale {exc.args[0]}")
    for path, rows in variant.add.items():
        try:
            add_path(data, path, rows)
        except KeyError as exc:
            problems.append(f"add {exc.args[0]}")
    if problems:
        raise ScenarioError([f"variants.{variant.name}: {p}" for p in problems])
    return data


# --- loading ----------------------------------------------------------------------------------


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_issues(exc: ValidationError, prefix: str) -> list[str]:
    issues = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        where = _loc(tuple(p for p in err["loc"] if p not in ("function-after",)))
        for part in msg.split("; ") if not where else [msg]:
            issues.append(f"{prefix}{where + ': ' if where else ''}{part}")
    return issues


def config_from(data: dict, prefix: str = "") -> ScenarioConfig:
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_pydantic_issues(exc, prefix)) from None


def parse_scenario(data: Any) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(["the scenario file must be a mapping (key: value) at the top level"])
    try:
        top = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_pydantic_issues(exc, "")) from None
    own = set(ScenarioFile.model_fields)
    base = {k: v for k, v in data.items() if k not in own}
    issues: list[str] = []
    configs: dict[str, ScenarioConfig] = {}
    descriptions = {"base": top.description or "the base scenario"}
    try:
        configs["base"] = config_from(base)
    except ScenarioError as exc:
        issues += exc.issues
    for i, variant in enumerate(top.variants):
        if variant.name == "base" or variant.name in descriptions:
            issues.append(f"variants[{i}].name: duplicate variant name {variant.name!r}")
            continue
        descriptions[variant.name] = variant.description
        if "base" not in configs:
            continue  # a broken base breaks every variant; report the base only
        try:
            configs[variant.name] = config_from(
                apply_variant(base, variant), prefix=f"variants.{variant.name}: "
            )
        except ScenarioError as exc:
            issues += exc.issues
    for path in top.sweep:
        if not top.sweep[path]:
            issues.append(f"sweep.{path}: no values")
    if issues:
        raise ScenarioError(issues)
    seeds = top.seeds or list(range(1, top.replications + 1))
    return Scenario(
        name=top.name,
        description=top.description,
        seeds=seeds,
        policies=top.policies,
        configs=configs,
        descriptions=descriptions,
        sweep=top.sweep,
        base_data=base,
    )


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise ScenarioError([f"{path}: not valid YAML{where}: {problem}"]) from None
    return parse_scenario(data)


def grid_point_config(base: dict, point: dict[str, Any]) -> ScenarioConfig:
    """The base with each sweep parameter set to this point's value."""
    variant = Variant(name="sweep point", set=point)
    label = ", ".join(f"{k}={v}" for k, v in point.items())
    return config_from(apply_variant(base, variant), prefix=f"sweep point ({label}): ")
