"""The allocation contract of DOMAIN.md as pydantic v2 models.

Field names and meanings are the public contract: other tools depend on them. Fields this product
adds beyond DOMAIN.md are marked "Added:" in their description. Field-level checks live on the
fields; checks that span tables (unknown or duplicate ids) live in ``Instance`` and raise one
``InstanceError`` listing every problem with its table, row and field.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import Counter
from fractions import Fraction
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from allocator.errors import InputIssue, InstanceError

ObjectiveLevel = Literal["placed", "waiting_days", "rank_sum", "expected_acceptance"]
DEFAULT_OBJECTIVE: tuple[ObjectiveLevel, ...] = ("placed", "waiting_days", "rank_sum")
#: Which way each objective level is optimised.
LEVEL_SENSE: dict[str, str] = {
    "placed": "max",
    "waiting_days": "max",
    "rank_sum": "min",
    # Added: the sum of the placed pairs' acceptance chances (instance.acceptance), in
    # thousandths; see allocator/expected_acceptance.py.
    "expected_acceptance": "max",
}

Id = str
#: A share in [0, 1] (rules 10, 12) and a count of households (>= 0), for map fields.
Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


def mix_cap(share, units_total):
    """The contract's Magic Mix cap, floor(share × units_total): the most vulnerable households
    a complex may hold (elementwise for arrays). Rule 10 enforces it.

    Exact: the share is read as the decimal it was written as (``Fraction(str(share))``), so
    0.29 × 100 is 29 and 0.2999999999 × 10 is 2, where float arithmetic gives 28.999... and a
    tolerance would give 3.
    """
    if isinstance(share, float | int | np.floating) and isinstance(units_total, int | np.integer):
        return _exact_floor(float(share), int(units_total))
    shares, totals = np.broadcast_arrays(np.asarray(share, dtype=float), np.asarray(units_total))
    cap = np.array(
        [
            _exact_floor(s, int(t))
            for s, t in zip(shares.ravel().tolist(), totals.ravel().tolist(), strict=True)
        ],
        dtype=np.int64,
    ).reshape(shares.shape)
    return int(cap) if cap.ndim == 0 else cap


@functools.lru_cache(maxsize=1 << 16)
def _exact_floor(share: float, units_total: int) -> int:
    # Cached: explanations ask for the same few (share, size) pairs tens of thousands of times
    # at national scale, and a Fraction costs microseconds.
    return math.floor(Fraction(repr(share)) * units_total)


class _Row(BaseModel):
    # Unknown fields are refused: a misspelt "max_rnt" silently ignored would let a client be
    # offered a dwelling they cannot pay.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    id: Id = Field(min_length=1, description="Identifier, unique within its table.")


class Municipality(_Row):
    name: str = Field(min_length=1)
    quota: int = Field(ge=0, description="Placements allowed in this municipality in this run.")
    population: int | None = Field(
        default=None,
        ge=0,
        description="Added: inhabitants, for splitting a regional quota by population. "
        "Informative only; the optimiser reads `quota`.",
    )


class Corporation(_Row):
    name: str = Field(min_length=1)
    quota: int | None = Field(
        default=None,
        ge=0,
        description="Placements allowed in its units in this run; none if unset.",
    )


class Complex(_Row):
    municipality_id: Id
    units_total: int = Field(ge=1, description="All dwellings in the building.")
    vulnerable_residents: int = Field(ge=0, description="Vulnerable households living there now.")
    max_vulnerable_share: float | None = Field(
        default=None, ge=0, le=1, description="Override of policy.max_vulnerable_share."
    )
    name: str | None = Field(default=None, description="Added: a readable name for reports.")
    # rules 12-14 (all optional: a complex without them means what it meant before)
    group_max_share: dict[str, Share] | None = Field(
        default=None,
        description="Rule 12: target group → its largest share of units_total (composition).",
    )
    group_residents: dict[str, Count] | None = Field(
        default=None,
        description="Rule 12: target group → households of that group living there now. "
        "Every group named must also be in group_max_share.",
    )
    max_vulnerable_per_staircase: int | None = Field(
        default=None, ge=0, description="Rule 13: vulnerable households allowed per staircase."
    )
    staircase_vulnerable_residents: dict[str, Count] | None = Field(
        default=None,
        description="Rule 13: staircase id (a unit's staircase_id in this complex) → vulnerable "
        "households there now. Staircases without a vacancy may be listed.",
    )
    neighbourhood_id: Id | None = Field(
        default=None, description="Rule 14: the neighbourhood (in this complex's municipality)."
    )

    @model_validator(mode="after")
    def _residents_fit(self) -> Complex:
        if self.vulnerable_residents > self.units_total:
            raise ValueError(
                f"vulnerable_residents ({self.vulnerable_residents}) exceeds "
                f"units_total ({self.units_total})"
            )
        return self


class Unit(_Row):
    complex_id: Id
    corporation_id: Id
    rooms: int = Field(ge=0)
    rent: float = Field(ge=0, description="Euro per month.")
    accessible: bool = False
    min_occupants: int = Field(default=1, ge=1)
    max_occupants: int = Field(ge=1)
    allowed_groups: list[str] | None = Field(
        default=None,
        description="Target groups the unit is reserved for. Unset or empty: no reservation.",
    )

    staircase_id: Id | None = Field(
        default=None,
        description="Rule 13: the staircase (portiek, gallery, floor: any part of its complex). "
        "Unset: not limited by rule 13.",
    )

    @field_validator("allowed_groups")
    @classmethod
    def _empty_is_unreserved(cls, value: list[str] | None) -> list[str] | None:
        return value or None

    @model_validator(mode="after")
    def _occupants_order(self) -> Unit:
        if self.max_occupants < self.min_occupants:
            raise ValueError(
                f"max_occupants ({self.max_occupants}) is below "
                f"min_occupants ({self.min_occupants})"
            )
        return self


class Client(_Row):
    id: Id = Field(min_length=1, description="A pseudonym, never a name.")
    household_size: int = Field(ge=1)
    max_rent: float | None = Field(default=None, ge=0)
    needs_accessible: bool = False
    preferred_municipalities: list[Id] = Field(
        default_factory=list, description="Ranked, first = rank 1. Empty: every non-excluded one."
    )
    excluded_municipalities: list[Id] = Field(default_factory=list)
    target_group: str = Field(min_length=1, description="For example BW, MO, jeugd.")
    ready_since: dt.date
    refused_units: list[Id] = Field(
        default_factory=list,
        description="Units this client refused. May name units that are no longer vacant.",
    )
    support_provider_id: Id | None = Field(
        default=None,
        description="Rule 15: the provider of ambulant support (begeleiding) after the move.",
    )

    @model_validator(mode="after")
    def _preferences_consistent(self) -> Client:
        preferred = set(self.preferred_municipalities)
        if len(preferred) < len(self.preferred_municipalities):
            repeated = [m for m, n in Counter(self.preferred_municipalities).items() if n > 1]
            raise ValueError(f"preferred_municipalities lists {repeated} more than once")
        if self.excluded_municipalities and (
            both := sorted(preferred.intersection(self.excluded_municipalities))
        ):
            raise ValueError(f"municipalities {both} are both preferred and excluded")
        return self


class Neighbourhood(_Row):
    """Rule 14: a part of a municipality with its own quota."""

    municipality_id: Id
    quota: int = Field(ge=0, description="Placements allowed in its complexes in this run.")
    name: str | None = Field(default=None, description="Added: a readable name for reports.")


class SupportPlaces(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    municipality_id: Id
    places: int = Field(ge=0, description="New clients it can support from this run there.")


class SupportProvider(_Row):
    """Rule 15: a provider of ambulant support (begeleiding) and its places per municipality."""

    name: str = Field(min_length=1)
    capacity: list[SupportPlaces] = Field(default_factory=list)

    @model_validator(mode="after")
    def _municipalities_once(self) -> SupportProvider:
        repeated = [
            m for m, n in Counter(c.municipality_id for c in self.capacity).items() if n > 1
        ]
        if repeated:
            raise ValueError(f"capacity lists municipalities {repeated} more than once")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_vulnerable_share: float = Field(default=0.3, ge=0, le=1)
    reference_date: dt.date | None = Field(
        default=None,
        description="The date waiting time is counted to. Unset: the day of the run "
        "(the proposal records the date used).",
    )
    objective: list[ObjectiveLevel] = Field(
        default_factory=lambda: list(DEFAULT_OBJECTIVE),
        description="Added: the lexicographic objective levels in order; levels may be reordered "
        "or dropped, but at least one must reward placing clients (a maximised level such as "
        "placed or waiting_days): with only minimised levels the optimum would place nobody.",
    )

    @field_validator("objective")
    @classmethod
    def _levels_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("objective lists a level more than once")
        if not any(LEVEL_SENSE.get(level) == "max" for level in value):
            raise ValueError(
                "objective needs a level that rewards placing clients (placed or waiting_days); "
                f"with {value or 'no levels'} the optimum would place nobody"
            )
        return value


class PinnedPair(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    client_id: Id = Field(min_length=1)
    unit_id: Id = Field(min_length=1)


class AcceptanceEstimate(BaseModel):
    """Added: the estimated chance that a client accepts an offer of a unit."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    client_id: Id = Field(min_length=1)
    unit_id: Id = Field(min_length=1)
    probability: float = Field(ge=0, le=1)


TABLES = ("municipalities", "corporations", "complexes", "units", "clients")
TABLES = (
    "municipalities",
    "corporations",
    "complexes",
    "units",
    "clients",
    "neighbourhoods",
    "support_providers",
)


#: Tables an instance may leave out (rules 14-15).
OPTIONAL_TABLES = ("neighbourhoods", "support_providers")


def contract_row(model: type[BaseModel], source: Any) -> dict[str, Any]:
    """The fields of a contract table read off any object that has them (a database row, a
    simulated arrival); unset ones are left out so the contract's defaults apply."""
    return {
        name: value
        for name in model.model_fields
        if (value := getattr(source, name, None)) is not None
    }


class Instance(BaseModel):
    """One allocation problem: the region's state and the policy for this run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    municipalities: list[Municipality]
    corporations: list[Corporation] = Field(default_factory=list)
    complexes: list[Complex]
    units: list[Unit]
    clients: list[Client]
    policy: Policy = Field(default_factory=Policy)
    pinned: list[PinnedPair] = Field(default_factory=list)
    acceptance: list[AcceptanceEstimate] = Field(
        default_factory=list,
        description="Added: estimated acceptance chance per (client, unit) pair, for the "
        "`expected_acceptance` objective level. A pair not listed counts as certain (1.0).",
    )
    # "the day of the run" for an unset policy.reference_date, fixed at its first use so that
    # a run across midnight counts every waiting time to one date
    _run_date: dt.date | None = PrivateAttr(default=None)
    neighbourhoods: list[Neighbourhood] = Field(
        default_factory=list, description="Rule 14 (optional table)."
    )
    support_providers: list[SupportProvider] = Field(
        default_factory=list, description="Rule 15 (optional table)."
    )

    @model_validator(mode="after")
    def _references(self) -> Instance:
        issues = reference_issues(self) + _acceptance_issues(self)
        if issues:
            raise InstanceError(issues)
        return self

    # Lookups are cached on first use; the model is frozen so they never go stale.
    def _index(self, table: str) -> dict[Id, Any]:
        cache = self.__dict__.setdefault("_lookup_cache", {})
        if table not in cache:
            cache[table] = {row.id: row for row in getattr(self, table)}
        return cache[table]

    def municipality(self, id_: Id) -> Municipality:
        return self._index("municipalities")[id_]

    def corporation(self, id_: Id) -> Corporation:
        return self._index("corporations")[id_]

    def complex(self, id_: Id) -> Complex:
        return self._index("complexes")[id_]

    def unit(self, id_: Id) -> Unit:
        return self._index("units")[id_]

    def client(self, id_: Id) -> Client:
        return self._index("clients")[id_]

    def neighbourhood(self, id_: Id) -> Neighbourhood:
        return self._index("neighbourhoods")[id_]

    def support_provider(self, id_: Id) -> SupportProvider:
        return self._index("support_providers")[id_]

    def has(self, table: str, id_: Id) -> bool:
        return id_ in self._index(table)

    def unit_municipality_id(self, unit: Unit) -> Id:
        return self.complex(unit.complex_id).municipality_id

    def mix_share(self, complex_: Complex) -> float:
        if complex_.max_vulnerable_share is not None:
            return complex_.max_vulnerable_share
        return self.policy.max_vulnerable_share

    def reference_date(self) -> dt.date:
        """``policy.reference_date``, or else the day of the run: resolved once per instance
        (and kept by ``with_changes``), never re-read from the clock."""
        if self.policy.reference_date is not None:
            return self.policy.reference_date
        if self._run_date is None:
            self._run_date = dt.date.today()
        return self._run_date

    def waiting_days(self, client: Client) -> int:
        return max(0, (self.reference_date() - client.ready_since).days)

    def preference_rank(self, client: Client, municipality_id: Id) -> int:
        """Rank 1 is the first-listed municipality; an empty list is rank 1 everywhere."""
        if not client.preferred_municipalities:
            return 1
        return client.preferred_municipalities.index(municipality_id) + 1

    def with_changes(self, **changes: Any) -> Instance:
        """A validated copy with some top-level fields replaced (for what-if re-solves)."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(changes)
        changed = Instance(**data)
        changed._run_date = self._run_date
        return changed


def _get(row: Any, field: str, default: Any = None) -> Any:
    if isinstance(row, dict):
        return row.get(field, default)
    return getattr(row, field, default)


def _rows(source: Any, table: str) -> list[Any]:
    rows = _get(source, table, None) or []
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(source, dict) else rows


def reference_issues(source: Instance | dict[str, Any]) -> list[InputIssue]:
    """Duplicate ids and references to rows that do not exist, across all tables.

    Works on a validated ``Instance`` and, best effort, on raw data, so that a file with both a
    bad value and a bad reference reports both at once.
    """
    issues: list[InputIssue] = []

    def ids(table: str) -> set[str] | None:
        # a table that is missing altogether is reported on its own; do not echo it per row
        if isinstance(source, dict) and not isinstance(source.get(table), list):
            # an optional table left out is empty; a required one is reported on its own
            return set() if table in OPTIONAL_TABLES and table not in source else None
        return {_get(r, "id") for r in _rows(source, table)}

    for table in TABLES:
        seen: set[str] = set()
        for row in _rows(source, table):
            row_id = _get(row, "id")
            if row_id in seen:
                issues.append(InputIssue(table, row_id, "id", "duplicate id"))
            seen.add(row_id)
    municipalities, corporations = ids("municipalities"), ids("corporations")
    complexes, units, clients = ids("complexes"), ids("units"), ids("clients")

    def refers(table: str, row: Any, field: str, target: set[str] | None, noun: str) -> None:
        value = _get(row, field)
        if target is not None and isinstance(value, str) and value not in target:
            issues.append(InputIssue(table, _get(row, "id"), field, f"unknown {noun} id {value!r}"))

    for cx in _rows(source, "complexes"):
        refers("complexes", cx, "municipality_id", municipalities, "municipality")
    for unit in _rows(source, "units"):
        refers("units", unit, "complex_id", complexes, "complex")
        refers("units", unit, "corporation_id", corporations, "corporation")
    for client in _rows(source, "clients"):
        for field in ("preferred_municipalities", "excluded_municipalities"):
            values = _get(client, field) or []
            for m in values if isinstance(values, list) else []:
                if municipalities is not None and isinstance(m, str) and m not in municipalities:
                    issues.append(
                        InputIssue(
                            "clients", _get(client, "id"), field, f"unknown municipality id {m!r}"
                        )
                    )
    issues += _rule_12_15_issues(source, ids)
    pinned_clients: set[str] = set()
    pinned_units: set[str] = set()
    for i, pair in enumerate(_rows(source, "pinned")):
        row = f"#{i}"
        client_id, unit_id = _get(pair, "client_id"), _get(pair, "unit_id")
        if clients is not None and client_id not in clients:
            issues.append(
                InputIssue("pinned", row, "client_id", f"unknown client id {client_id!r}")
            )
        elif client_id in pinned_clients:
            issues.append(
                InputIssue("pinned", row, "client_id", f"client {client_id!r} pinned twice")
            )
        if units is not None and unit_id not in units:
            issues.append(InputIssue("pinned", row, "unit_id", f"unknown unit id {unit_id!r}"))
        elif unit_id in pinned_units:
            issues.append(InputIssue("pinned", row, "unit_id", f"unit {unit_id!r} pinned twice"))
        pinned_clients.add(client_id)
        pinned_units.add(unit_id)
    return issues


def _acceptance_issues(instance: Instance) -> list[InputIssue]:
    """Unknown or repeated pairs in ``acceptance`` (its probabilities are checked per field)."""
    issues = []
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(instance.acceptance):
        for field, table in (("client_id", "clients"), ("unit_id", "units")):
            if not instance.has(table, getattr(row, field)):
                issues.append(
                    InputIssue(
                        "acceptance",
                        f"#{i}",
                        field,
                        f"unknown {table[:-1]} id {getattr(row, field)!r}",
                    )
                )
        key = (row.client_id, row.unit_id)
        if key in seen:
            issues.append(InputIssue("acceptance", f"#{i}", "unit_id", "pair listed twice"))
        seen.add(key)
    return issues


def _rule_12_15_issues(source: Any, ids) -> list[InputIssue]:
    """Unknown ids in the fields of rules 12-15, and a neighbourhood in another municipality than
    its complex. (A staircase is named by its units; ``staircase_vulnerable_residents`` may name
    staircases without a vacancy in this run.)"""
    issues: list[InputIssue] = []
    neighbourhoods = {
        _get(n, "id"): _get(n, "municipality_id") for n in _rows(source, "neighbourhoods")
    }
    municipalities, providers = ids("municipalities"), ids("support_providers")
    for nb in _rows(source, "neighbourhoods"):
        value = _get(nb, "municipality_id")
        if municipalities is not None and isinstance(value, str) and value not in municipalities:
            issues.append(
                InputIssue(
                    "neighbourhoods",
                    _get(nb, "id"),
                    "municipality_id",
                    f"unknown municipality id {value!r}",
                )
            )
    for cx in _rows(source, "complexes"):
        row, nb = _get(cx, "id"), _get(cx, "neighbourhood_id")
        if isinstance(nb, str) and ids("neighbourhoods") is not None:
            if nb not in neighbourhoods:
                issues.append(
                    InputIssue(
                        "complexes", row, "neighbourhood_id", f"unknown neighbourhood id {nb!r}"
                    )
                )
            elif neighbourhoods[nb] != _get(cx, "municipality_id"):
                issues.append(
                    InputIssue(
                        "complexes",
                        row,
                        "neighbourhood_id",
                        f"neighbourhood {nb!r} lies in municipality {neighbourhoods[nb]!r}, "
                        f"not in the complex's {_get(cx, 'municipality_id')!r}",
                    )
                )
        residents, shares = _get(cx, "group_residents"), _get(cx, "group_max_share") or {}
        if isinstance(residents, dict) and isinstance(shares, dict):
            for group in sorted(set(residents) - set(shares)):
                issues.append(
                    InputIssue(
                        "complexes",
                        row,
                        "group_residents",
                        f"unknown group {group!r}: group_max_share does not cap it",
                    )
                )
    for client in _rows(source, "clients"):
        value = _get(client, "support_provider_id")
        if providers is not None and isinstance(value, str) and value not in providers:
            issues.append(
                InputIssue(
                    "clients",
                    _get(client, "id"),
                    "support_provider_id",
                    f"unknown support provider id {value!r}",
                )
            )
    for provider in _rows(source, "support_providers"):
        capacity = _get(provider, "capacity") or []
        for i, place in enumerate(capacity if isinstance(capacity, list) else []):
            value = _get(place, "municipality_id")
            if (
                municipalities is not None
                and isinstance(value, str)
                and value not in municipalities
            ):
                issues.append(
                    InputIssue(
                        "support_providers",
                        _get(provider, "id"),
                        f"capacity.{i}.municipality_id",
                        f"unknown municipality id {value!r}",
                    )
                )
    return issues


def parse_instance(data: Any, row_labels: dict[str, list[str]] | None = None) -> Instance:
    """Validate raw data into an ``Instance``; every problem becomes an ``InputIssue``.

    ``row_labels`` maps a table to a label per row (for example the CSV line) used when a row has
    no usable id.
    """
    try:
        return Instance.model_validate(data)
    except ValidationError as exc:
        issues = _issues_from_pydantic(exc, data, row_labels or {})
        if isinstance(data, dict):
            issues += [i for i in reference_issues(data) if i not in issues]
        raise InstanceError(issues) from None


def _issues_from_pydantic(
    exc: ValidationError, data: Any, row_labels: dict[str, list[str]]
) -> list[InputIssue]:
    issues = []
    for err in exc.errors():
        loc = list(err["loc"])
        table = str(loc.pop(0)) if loc else "instance"
        row = None
        if loc and isinstance(loc[0], int):
            index = loc.pop(0)
            row = _row_label(data, table, index, row_labels)
        field = ".".join(str(part) for part in loc) or None
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if err["type"] == "missing" and field is None and row is None:
            message = "table is missing"
        issues.append(InputIssue(table, row, field, message))
    return issues


def _row_label(data: Any, table: str, index: int, row_labels: dict[str, list[str]]) -> str:
    labels = row_labels.get(table)
    label = labels[index] if labels and index < len(labels) else f"#{index}"
    try:
        row_id = data[table][index].get("id")
    except (TypeError, KeyError, IndexError, AttributeError):
        row_id = None
    if isinstance(row_id, str) and row_id.strip():
        return row_id.strip() if labels is None else f"{row_id.strip()} ({label})"
    return label


# ----------------------------------------------------------------------------------------------
# The proposal


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Assignment(_Out):
    client_id: Id
    unit_id: Id
    municipality_id: Id
    complex_id: Id
    corporation_id: Id
    pinned: bool = Field(description="Kept from the input's pinned pairs (an accepted offer).")
    waiting_days: int
    preference_rank: int = Field(description="1 = the client's first-listed municipality.")
    eligible_units: int = Field(description="Units this client could have had under rules 2-7.")
    explanation: str


#: Why a client is not placed. Besides these, each registered group limit has its own code
#: (``municipality_quota``, ``corporation_quota``, ``mix_cap``, ``group_share``, ``staircase``,
#: ``neighbourhood_quota``, ``support_places``).
REASON_CODES = (
    "no_eligible_unit",
    "cannot_be_placed",
    "closed_before_run",
    "taken_by_pinned",
    "equally_good",
    "taken_by_longer_waiting",
    "taken_to_place_more",
    "blocked_together",
    "not_chosen",
)
ReasonCode = str


class LimitRef(_Out):
    """One group limit's group, as a proposal names it."""

    code: str = Field(description="The limit's reason code (as in summaries.limits).")
    group: str = Field(description="The group's row, as in a limit reason's `names`.")


class UnplacedReason(_Out):
    code: ReasonCode = Field(
        description="cannot_be_placed: every eligible unit is without room from the start of "
        "this run; closed_before_run: some are; taken_by_pinned, equally_good (an equally good "
        "proposal could place this client instead of the holder), taken_by_longer_waiting, "
        "taken_to_place_more: held by someone; a limit's code (municipality_quota, "
        "corporation_quota, mix_cap, group_share, staircase, neighbourhood_quota, "
        "support_places): that full limit alone blocks `count` units; blocked_together: "
        "several full limits block the same units; not_chosen; no_eligible_unit."
    )
    message: str
    count: int = Field(
        description="Units this reason applies to. Over all reasons but a limit's `together`, "
        "each eligible unit is counted once: the counts add up to eligible_units."
    )
    together: int = Field(
        default=0,
        description="For a limit: units it blocks only together with other full limits "
        "(counted in blocked_together).",
    )
    names: list[str] = Field(
        default_factory=list,
        description="The rule rows that bind (a municipality, corporation, complex, "
        "complex/group, complex/staircase, neighbourhood or provider/municipality), or for "
        "taken units the ids of the units.",
    )
    closed_by: list[LimitRef] = Field(
        default_factory=list,
        description="For closed_before_run and cannot_be_placed: the limits without room from "
        "the start of this run that close these units.",
    )


class Unplaced(_Out):
    client_id: Id
    waiting_days: int
    eligible_units: int
    removed_by_rule: dict[str, int] = Field(
        default_factory=dict,
        description="Per eligibility rule: the units it removes on its own (no other rule "
        "removes them), out of all units.",
    )
    removed_with_others: dict[str, int] = Field(
        default_factory=dict,
        description="Per eligibility rule: the units it removes that other rules remove too.",
    )
    reasons: list[UnplacedReason]


class ObjectiveValues(_Out):
    placed: int
    waiting_days: int
    rank_sum: int
    expected_acceptance: int | None = Field(
        default=None,
        description="Added: thousandths of expected acceptances of the placed pairs, when the "
        "objective names the level (left out otherwise).",
    )

    def __repr_args__(self):
        return [
            (k, v)
            for k, v in super().__repr_args__()
            if not (k == "expected_acceptance" and v is None)
        ]

    @model_serializer(mode="wrap")
    def _without_unused_level(self, handler):
        data = handler(self)
        if data.get("expected_acceptance") is None:
            data.pop("expected_acceptance", None)
        return data

    def as_tuple(self, levels: list[str] | tuple[str, ...] = DEFAULT_OBJECTIVE) -> tuple[int, ...]:
        """Values oriented so that larger is better on every level, for comparing proposals."""
        return tuple(
            getattr(self, lv) if LEVEL_SENSE[lv] == "max" else -getattr(self, lv) for lv in levels
        )


class LevelFacts(_Out):
    level: ObjectiveLevel
    status: Literal["optimal", "feasible", "not_solved"]
    value: int | None
    bound: float | None
    gap: float | None = Field(description="|bound - value| / max(1, |value|).")
    wall_seconds: float


class PartFacts(_Out):
    """One independent part of the instance and the path that solved it."""

    part: int
    clients: int
    units: int
    pairs: int
    path: Literal["assignment", "flow", "regions", "lp", "cp-sat", "lp+cp-sat", "greedy"] = Field(
        description="assignment: no cap could bind, a plain assignment (Hungarian method); "
        "flow: the nested min-cost flow met every corporation quota; regions: region by region "
        "with the caps that join them split into budgets (allocator.linked); lp: the LP "
        "relaxation was integral at every level; cp-sat: solved by CP-SAT (after a fractional LP "
        "level for lp+cp-sat); greedy: time ran out before this part was solved."
    )
    proven: bool
    seconds: float


class SolverFacts(_Out):
    engine: str
    version: str
    method: str = Field(description="auto (split, flow, LP, CP-SAT where needed) or cp-sat.")
    parameters: dict[str, Any]
    eligible_pairs: int
    eligibility_seconds: float
    build_seconds: float
    solve_seconds: float
    levels: list[LevelFacts]
    paths: dict[str, int] = Field(default_factory=dict, description="Parts solved by each path.")
    parts: list[PartFacts] = Field(default_factory=list)
    note: str | None = None


class MunicipalitySummary(_Out):
    municipality_id: Id
    name: str
    quota: int
    used: int
    left: int


class CorporationSummary(_Out):
    corporation_id: Id
    name: str
    quota: int | None
    used: int
    left: int | None


class ComplexSummary(_Out):
    complex_id: Id
    municipality_id: Id
    units_total: int
    cap: int
    vulnerable_before: int
    vulnerable_after: int


class LimitSummary(_Out):
    """One group of rules 12-15 (and any other registered group limit): its room at the start of
    this run, and how much of it the proposal uses."""

    rule: int
    code: str = Field(
        description="group_share (rule 12), staircase (13), neighbourhood_quota (14), "
        "support_places (15)."
    )
    group: str = Field(
        description="complex/group, complex/staircase, neighbourhood, provider/municipality."
    )
    title: str
    room: int = Field(description="Placements the group could take in this run.")
    used: int
    left: int


class Summaries(_Out):
    municipalities: list[MunicipalitySummary]
    corporations: list[CorporationSummary]
    complexes: list[ComplexSummary]
    limits: list[LimitSummary] = Field(
        default_factory=list,
        description="Group shares per building, staircases, neighbourhood quotas and support "
        "places: room, used, left.",
    )


class ProposalFairness(_Out):
    """Added: how fair the proposal is to those who waited (allocator/fairness.py)."""

    justified_envy: int = Field(
        description="Pairs (client, unit): the client is left unplaced, is eligible for the unit, "
        "and waited longer than the client who gets it, and giving the unit to the client instead "
        "keeps every quota and cap (allocator/fairness.py)."
    )
    envy_examples: list[str] = Field(default_factory=list)
    median_wait_placed_by_municipality: dict[str, float] = Field(default_factory=dict)
    median_wait_placed_by_target_group: dict[str, float] = Field(default_factory=dict)
    longest_waiting_unplaced: list[dict[str, Any]] = Field(default_factory=list)


class Proposal(_Out):
    """The optimiser's answer. A proposal: every line is for a person to confirm or change."""

    status: Literal["optimal", "feasible"] = Field(
        description="optimal: every objective level proven optimal. feasible: the best found "
        "within the time limit, not proven."
    )
    proven: bool
    reference_date: dt.date
    objective_levels: list[ObjectiveLevel]
    assignments: list[Assignment]
    unplaced: list[Unplaced]
    objective: ObjectiveValues
    solver: SolverFacts
    summaries: Summaries | None = None
    fairness: ProposalFairness | None = None


class ProposedPair(BaseModel):
    """The minimum a proposal must say for validation: who goes where."""

    model_config = ConfigDict(extra="ignore")

    client_id: Id
    unit_id: Id


class ProposalPairs(BaseModel):
    """A proposal as far as ``validate`` needs it; extra fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    assignments: list[ProposedPair]
