"""The simulation: weekly rounds of arrivals, drop-outs, a proposal, answers to offers and
move-ins for the online policies; and the two ceilings, which know what will arrive.

Online policies (``simulate``), each round on a contract ``Instance`` of the simulated state:

- ``practice``: today's practice as the seed article describes it. At intake the coordinator fixes
  one municipality (the client's first choice; with no choice, the one with the most quota left
  for its waiting clients) and registers the client with one corporation there (the one with the
  fewest registered clients per expected vacancy). Each corporation offers its vacancies in that
  municipality to its own queue, longest waiting first, one offer per client at a time.
- ``fcfs``: regional first come, first served: the longest-waiting client takes the first suitable
  vacancy anywhere in the region.
- ``optimiser`` and ``optimiser_acceptance`` (the optimiser that also maximises the expected
  acceptance of its offers, ``policy.acceptance_objective``).

Every proposed pair is offered; the answer is fixed by the seed per (client, unit) pair, the same
under every policy. An accepted unit is let; a refused unit is never offered to that client
again. A vacancy nobody took within ``open_weeks`` goes to regular letting. A waiting client may
leave the list (``clients.leave_per_week``; a draw per client and week, the same under every
policy). Urgent clients are treated by every policy as ready ``urgent_priority_weeks`` earlier.
Quotas start afresh every calendar year, pro-rated for a partial year.

Rules 12-15, where the scenario sets them, hold under every policy alike: each round's instance
carries the complexes' group shares and staircases with their residents, the neighbourhoods with
this year's quota left and the support providers with this year's places left
(``RuleState``); the optimiser solves with them, and practice and FCFS take a pair only while
every registered cap of the core has room (``allocator.greedy``). A placement adds to its
building's group and staircase residents; neighbourhood quotas and support places start afresh
every calendar year like the municipal quotas. Residents moving out lower only the building's
vulnerable count (which group or staircase they leave is not drawn), so groups and staircases
only fill up: their caps bind at least as hard as in reality.

Ceilings (``hindsight``, ``ceiling_arrivals``) solve one instance per quota year with every
arrival known and ignore the round cadence (a pair may be matched as soon as both exist).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from allocator.columns import Columns, build_columns
from allocator.eligibility import EligiblePairs, eligible_pairs
from allocator.fairness import justified_envy_pairs
from allocator.greedy import first_come_first_served
from allocator.models import Instance, Unit, contract_row, mix_cap
from allocator.simulation.arrivals import (
    Arrivals,
    ClientArrival,
    VacancyArrival,
    acceptance_chance,
    accepts,
    answer_uniform,
    leave_uniform,
    week_date,
)
from allocator.simulation.scenario import ScenarioConfig
from allocator.simulation.table import NO_MUNICIPALITY
from allocator.solver import SolverSettings, solve


@dataclass(frozen=True)
class RoundRecord:
    week: int
    year: int
    arrived_clients: int
    arrived_vacancies: int
    offers: int
    placed: int
    refused: int
    left: int  # clients who left the list this week (drop-out or too many refusals)
    lost: int  # vacancies gone to regular letting
    backlog: int  # ready clients waiting at the end of the round
    open_vacancies: int
    envy: int = 0  # justified-envy pairs in this round's allocation


@dataclass(frozen=True)
class Placement:
    client_id: str
    unit_id: str
    week: int
    year: int
    municipality: str
    complex_id: str
    corporation: str
    target_group: str
    waiting_days: int


@dataclass(frozen=True)
class Outcome:
    """One client's time to a home: ``days`` from ready to moving in (``housed``), or to leaving
    the list or the end of the horizon (censored)."""

    client_id: str
    target_group: str
    municipality: str  # first-listed municipality, or "none"
    urgent: bool
    days: int
    housed: bool
    left: bool


@dataclass
class RunResult:
    policy: str
    seed: int
    placements: list[Placement]
    rounds: list[RoundRecord]
    still_waiting: list[tuple[str, str, int]]  # client id, target group, days waited at the end
    yearly_quota: dict[str, int]
    corporation_quota: dict[str, int | None]
    max_share: dict[str, float]  # highest vulnerable share per complex during the run
    seconds: float
    refusals: int = 0
    lost: int = 0
    left: int = 0
    offered_vacancies: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    quota_by_year: dict[int, dict[str, int]] = field(default_factory=dict)
    peak_vulnerable: dict[str, int] = field(default_factory=dict)
    caps: dict[str, int] = field(default_factory=dict)  # each building's own cap (households)
    vacancy_days_lost_to_refusals: int = 0
    envy: int = 0
    proven: bool | None = None  # ceilings: every yearly solve proven optimal
    offers: int = 0
    # (instance, allocation) of every round, kept only when asked (for tests)
    trace: list[tuple[Instance, list[tuple[str, str]]]] = field(default_factory=list)

    @property
    def placed(self) -> int:
        return len(self.placements)


@dataclass
class RuleState:
    """Rules 12-15 as a run goes: residents per capped group and per staircase of each building
    (rising with placements), and this calendar year's neighbourhood quotas and support places
    left. Empty for a scenario without them."""

    group: dict[str, dict[str, int]]  # complex -> capped group -> residents
    stairs: dict[str, dict[str, int]]  # complex -> staircase -> vulnerable residents
    neighbourhood_of: dict[str, str]  # complex -> neighbourhood
    municipality_of: dict[str, str]  # complex -> municipality
    neighbourhood_left: dict[str, int] = field(default_factory=dict)
    support_left: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def start(cls, config: ScenarioConfig) -> RuleState:
        cxs = config.region.complexes
        return cls(
            group={
                cx.id: {g: (cx.group_residents or {}).get(g, 0) for g in cx.group_max_share}
                for cx in cxs
                if cx.group_max_share
            },
            stairs={cx.id: dict(cx.staircases) for cx in cxs if cx.staircases},
            neighbourhood_of={cx.id: cx.neighbourhood for cx in cxs if cx.neighbourhood},
            municipality_of={cx.id: cx.municipality for cx in cxs},
        )

    def new_year(self, config: ScenarioConfig, year: int) -> None:
        self.neighbourhood_left, self.support_left = config.rule_quotas_for_year(year)

    def place(self, client: ClientArrival, unit: VacancyArrival) -> None:
        cx = unit.complex_id
        if client.target_group in self.group.get(cx, {}):
            self.group[cx][client.target_group] += 1
        if unit.staircase_id is not None and cx in self.stairs:
            self.stairs[cx][unit.staircase_id] = self.stairs[cx].get(unit.staircase_id, 0) + 1
        if cx in self.neighbourhood_of:
            self.neighbourhood_left[self.neighbourhood_of[cx]] -= 1
        key = (client.support_provider_id, self.municipality_of[cx])
        if key in self.support_left:
            self.support_left[key] -= 1


def _complex_rules(cx, rules: RuleState) -> dict:
    """A complex's rule 12-14 fields in the contract (none for a complex without them)."""
    row: dict = {}
    if cx.group_max_share:
        row["group_max_share"] = dict(cx.group_max_share)
        row["group_residents"] = dict(rules.group[cx.id])
    if cx.staircases:
        row["staircase_vulnerable_residents"] = dict(rules.stairs[cx.id])
    if cx.max_vulnerable_per_staircase is not None:
        row["max_vulnerable_per_staircase"] = cx.max_vulnerable_per_staircase
    if cx.neighbourhood:
        row["neighbourhood_id"] = cx.neighbourhood
    return row


def _rule_tables(config: ScenarioConfig, rules: RuleState) -> dict:
    """The neighbourhoods and support providers with what is left of this year."""
    region, out = config.region, {}
    if region.neighbourhoods:
        out["neighbourhoods"] = [
            {
                "id": nb.id,
                "municipality_id": nb.municipality,
                "quota": max(0, rules.neighbourhood_left.get(nb.id, 0)),
            }
            | ({} if nb.name is None else {"name": nb.name})
            for nb in region.neighbourhoods
        ]
    if region.support_providers:
        out["support_providers"] = [
            {
                "id": p.id,
                "name": p.name,
                "capacity": [
                    {"municipality_id": m, "places": max(0, rules.support_left.get((p.id, m), 0))}
                    for m in p.yearly_places
                ],
            }
            for p in region.support_providers
        ]
    return out


def _client_row(c: ClientArrival, refused: list[str], priority_weeks: float = 0.0) -> dict:
    ready = c.ready_since
    if c.urgent and priority_weeks:
        ready = ready - dt.timedelta(days=round(priority_weeks * 7))
    row = {
        "id": c.id,
        "household_size": c.household_size,
        "needs_accessible": c.needs_accessible,
        "preferred_municipalities": c.preferred,
        "excluded_municipalities": c.excluded,
        "target_group": c.target_group,
        "ready_since": ready,
        "refused_units": refused,
    }
    if c.max_rent is not None:
        row["max_rent"] = c.max_rent
    if c.support_provider_id is not None:
        row["support_provider_id"] = c.support_provider_id
    return row


def build_instance(
    config: ScenarioConfig,
    week: int,
    clients: list[ClientArrival],
    units: list[VacancyArrival],
    vulnerable: dict[str, int],
    muni_left: dict[str, int],
    corp_left: dict[str, int | None],
    refused: dict[str, list[str]],
    *,
    objective: list[str] | None = None,
    acceptance: list[dict] | None = None,
    pinned: list[dict] | None = None,
    rules: RuleState | None = None,
) -> Instance:
    """The contract instance of one round (or of a ceiling's quota year); ``rules`` the state of
    rules 12-15 (their residents and what is left of this year; the scenario's start if unset)."""
    region = config.region
    if rules is None:
        rules = RuleState.start(config)
        rules.new_year(config, week_date(config, week).year)
    return Instance.model_validate(
        {
            "municipalities": [
                {"id": m.id, "name": m.name, "quota": max(0, muni_left[m.id])}
                for m in region.municipalities
            ],
            "corporations": [
                {"id": c.id, "name": c.name}
                | ({} if corp_left[c.id] is None else {"quota": max(0, corp_left[c.id])})
                for c in region.corporations
            ],
            "complexes": [
                {
                    "id": cx.id,
                    "municipality_id": cx.municipality,
                    "units_total": cx.units_total,
                    "vulnerable_residents": min(vulnerable[cx.id], cx.units_total),
                }
                | (
                    {}
                    if cx.max_vulnerable_share is None
                    else {"max_vulnerable_share": cx.max_vulnerable_share}
                )
                | _complex_rules(cx, rules)
                for cx in region.complexes
            ],
            "units": [contract_row(Unit, v) for v in units],
            "clients": [
                _client_row(c, refused.get(c.id, []), config.clients.urgent_priority_weeks)
                for c in clients
            ],
            "policy": {
                "max_vulnerable_share": config.policy.max_vulnerable_share,
                "reference_date": week_date(config, week),
                "objective": list(objective or config.policy.objective),
            },
            "pinned": pinned or [],
            "acceptance": acceptance or [],
        }
        | _rule_tables(config, rules)
    )


def _fcfs_pairs(cols, pairs: EligiblePairs) -> list[tuple[str, str]]:
    chosen = first_come_first_served(cols, pairs)
    return [
        (cols.client_ids[pairs.client[p]], cols.unit_ids[pairs.unit[p]]) for p in chosen.tolist()
    ]


def allocate(
    instance: Instance,
    policy: str,
    settings: SolverSettings,
    registration: dict[str, tuple[str, str | None]] | None = None,
) -> list[tuple[str, str]]:
    """The policy's proposal as (client_id, unit_id) pairs."""
    return allocate_with_pairs(instance, policy, settings, registration)[0]


def allocate_with_pairs(
    instance: Instance,
    policy: str,
    settings: SolverSettings,
    registration: dict[str, tuple[str, str | None]] | None = None,
) -> tuple[list[tuple[str, str]], Columns | None, EligiblePairs | None]:
    """The proposal, with the columns and eligible pairs it was made from (for fairness)."""
    if not instance.clients or not instance.units:
        return [], None, None
    if policy in ("optimiser", "optimiser_acceptance"):
        solution = solve(instance, settings)
        return solution.assignments, solution.columns, solution.pairs
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    if policy == "fcfs":
        return _fcfs_pairs(cols, pairs), cols, pairs
    if policy == "practice":
        return _fcfs_pairs(cols, practice_pairs(cols, pairs, registration or {})), cols, pairs
    raise ValueError(f"unknown online policy {policy!r}")


def practice_pairs(
    cols, pairs: EligiblePairs, registration: dict[str, tuple[str, str | None]]
) -> EligiblePairs:
    """Only the pairs inside each client's registered queue: the unit lies in the municipality
    fixed at intake and belongs to the corporation the client is registered with."""
    inst = cols.instance
    muni = np.array([inst.unit_municipality_id(u) for u in inst.units], dtype=object)
    corp = np.array([u.corporation_id for u in inst.units], dtype=object)
    reg_muni = np.array([registration.get(c, ("", None))[0] for c in cols.client_ids], object)
    reg_corp = np.array([registration.get(c, ("", None))[1] for c in cols.client_ids], object)
    keep = (muni[pairs.unit] == reg_muni[pairs.client]) & (
        corp[pairs.unit] == reg_corp[pairs.client]
    )
    return EligiblePairs(pairs.client[keep], pairs.unit[keep])


def _caps(config: ScenarioConfig) -> dict[str, int]:
    share = config.policy.max_vulnerable_share
    return {
        cx.id: mix_cap(
            share if cx.max_vulnerable_share is None else cx.max_vulnerable_share, cx.units_total
        )
        for cx in config.region.complexes
    }


def _first_municipality(c: ClientArrival) -> str:
    return c.preferred[0] if c.preferred else NO_MUNICIPALITY


def _new_result(config: ScenarioConfig, policy: str, seed: int) -> RunResult:
    region = config.region
    vulnerable = {cx.id: cx.vulnerable_residents for cx in region.complexes}
    return RunResult(
        policy=policy,
        seed=seed,
        placements=[],
        rounds=[],
        still_waiting=[],
        yearly_quota=config.yearly_quotas(),
        corporation_quota={c.id: c.yearly_quota for c in region.corporations},
        max_share={cx.id: vulnerable[cx.id] / cx.units_total for cx in region.complexes},
        seconds=0.0,
        peak_vulnerable=dict(vulnerable),
        caps=_caps(config),
    )


class _Online:
    """The state of one online run, advanced week by week."""

    def __init__(self, config: ScenarioConfig, arrivals: Arrivals, policy: str, keep_trace: bool):
        self.config, self.arrivals, self.policy, self.keep_trace = (
            config,
            arrivals,
            policy,
            keep_trace,
        )
        self.settings = SolverSettings(time_limit_seconds=config.policy.solver_time_limit)
        region = config.region
        self.cx_muni = {cx.id: cx.municipality for cx in region.complexes}
        self.units_total = {cx.id: cx.units_total for cx in region.complexes}
        self.vulnerable = {cx.id: cx.vulnerable_residents for cx in region.complexes}
        self.clients_by_week: dict[int, list[ClientArrival]] = defaultdict(list)
        for c in arrivals.clients:
            self.clients_by_week[c.week].append(c)
        self.units_by_week: dict[int, list[VacancyArrival]] = defaultdict(list)
        for v in arrivals.vacancies:
            self.units_by_week[v.week].append(v)
        self.waiting: dict[str, ClientArrival] = {}
        self.open_units: dict[str, VacancyArrival] = {}
        self.refused: dict[str, list[str]] = defaultdict(list)
        self.first_refusal: dict[str, int] = {}  # unit id -> week of its first refusal
        self.offered_units: set[str] = set()
        self.registration: dict[str, tuple[str, str | None]] = {}
        self.stream_rate: dict[tuple[str, str], float] = Counter()
        for s in config.vacancies.streams:
            self.stream_rate[(s.municipality, s.corporation)] += s.per_week
        self.result = _new_result(config, policy, arrivals.seed)
        self.year: int | None = None
        self.quota: dict[str, int] = {}
        self.corp_quota: dict[str, int | None] = {}
        self.used_muni: Counter = Counter()
        self.used_corp: Counter = Counter()
        self.rules = RuleState.start(config)

    # --- one week -----------------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.perf_counter()
        for week in range(self.config.horizon_weeks):
            self.week(week)
        self.finish()
        self.result.seconds = time.perf_counter() - started
        return self.result

    def week(self, week: int) -> None:
        date = week_date(self.config, week)
        if date.year != self.year:  # quotas start afresh every calendar year
            self.year, self.used_muni, self.used_corp = date.year, Counter(), Counter()
            self.quota, self.corp_quota = self.config.quotas_for_year(date.year)
            self.result.quota_by_year[date.year] = dict(self.quota)
            self.rules.new_year(self.config, date.year)
        for cx in self.arrivals.moves.get(week, []):
            self.vulnerable[cx] = max(0, self.vulnerable[cx] - 1)
        left = self.drop_outs(week)
        for c in self.clients_by_week.get(week, []):
            self.waiting[c.id] = c
            if self.policy == "practice":
                self.registration[c.id] = self.register(c)
        for v in self.units_by_week.get(week, []):
            self.open_units[v.id] = v
        lost = [
            u
            for u, v in self.open_units.items()
            if week >= v.week + self.config.vacancies.open_weeks
        ]
        for u in lost:
            self.close_unit(u, week)
        offers = placed = refusals = envy = 0
        if week % self.config.policy.round_weeks == 0 and self.waiting and self.open_units:
            offers, placed, refusals, more_left, envy = self.round(week)
            left += more_left
        self.result.lost += len(lost)
        self.result.rounds.append(
            RoundRecord(
                week=week,
                year=date.year,
                arrived_clients=len(self.clients_by_week.get(week, [])),
                arrived_vacancies=len(self.units_by_week.get(week, [])),
                offers=offers,
                placed=placed,
                refused=refusals,
                left=left,
                lost=len(lost),
                backlog=len(self.waiting),
                open_vacancies=len(self.open_units),
                envy=envy,
            )
        )

    def drop_outs(self, week: int) -> int:
        """Waiting clients who leave the list this week (before the round)."""
        spec = self.config.clients
        after = spec.leave_per_week_after_refusal
        if spec.leave_per_week <= 0 and not after:
            return 0
        clients = [c for c in self.waiting.values() if c.week < week]
        if not clients:
            return 0
        u = leave_uniform(self.arrivals.seed, np.array([c.index for c in clients]), week)
        rate = np.array(
            [
                after if after is not None and self.refused.get(c.id) else spec.leave_per_week
                for c in clients
            ]
        )
        gone = [c for c, x in zip(clients, u < rate, strict=True) if x]
        for c in gone:
            self.leave(c, week)
        return len(gone)

    def leave(self, c: ClientArrival, week: int) -> None:
        del self.waiting[c.id]
        self.result.left += 1
        self.result.outcomes.append(self.outcome(c, week, housed=False, left=True))

    def outcome(self, c: ClientArrival, week: int, *, housed: bool, left: bool) -> Outcome:
        days = max(0, (week_date(self.config, week) - c.ready_since).days)
        return Outcome(c.id, c.target_group, _first_municipality(c), c.urgent, days, housed, left)

    def close_unit(self, unit_id: str, week: int) -> None:
        """The unit leaves the pool (let or to regular letting): count the days it stayed open
        after its first refusal."""
        del self.open_units[unit_id]
        if unit_id in self.first_refusal:
            self.result.vacancy_days_lost_to_refusals += 7 * (week - self.first_refusal[unit_id])

    def register(self, c: ClientArrival) -> tuple[str, str | None]:
        """Today's practice at intake: one municipality and one corporation for this client."""
        munis = [m.id for m in self.config.region.municipalities if m.id not in c.excluded]
        if c.support_provider_id is not None:  # rule 15: only where the provider works
            (provider,) = [
                p for p in self.config.region.support_providers if p.id == c.support_provider_id
            ]
            munis = [m for m in munis if m in provider.yearly_places]
        if not munis:
            return NO_MUNICIPALITY, None
        registered = Counter(m for m, _ in self.registration.values())
        if c.preferred:
            muni = c.preferred[0]
        else:
            muni = max(munis, key=lambda m: self.quota.get(m, 0) - registered[m])
        queue = Counter(
            corp
            for cid, (m, corp) in self.registration.items()
            if m == muni and cid in self.waiting
        )
        corps = [corp for (m, corp), rate in self.stream_rate.items() if m == muni and rate > 0]
        if not corps:
            return muni, None
        corp = min(corps, key=lambda k: queue[k] / self.stream_rate[(muni, k)])
        return muni, corp

    def instance(self, week: int) -> Instance:
        clients, units = list(self.waiting.values()), list(self.open_units.values())
        objective = list(
            self.config.policy.acceptance_objective
            if self.policy == "optimiser_acceptance"
            else self.config.policy.objective
        )
        acceptance = None
        if "expected_acceptance" in objective and self.policy.startswith("optimiser"):
            acceptance = _estimates(self.config, clients, units)
        return build_instance(
            self.config,
            week,
            clients,
            units,
            self.vulnerable,
            {m: q - self.used_muni[m] for m, q in self.quota.items()},
            {c: None if q is None else q - self.used_corp[c] for c, q in self.corp_quota.items()},
            self.refused,
            objective=objective,
            acceptance=acceptance,
            rules=self.rules,
        )

    def round(self, week: int) -> tuple[int, int, int, int, int]:
        instance = self.instance(week)
        pairs, cols, eligible = allocate_with_pairs(
            instance, self.policy, self.settings, self.registration
        )
        if self.keep_trace:
            self.result.trace.append((instance, pairs))
        envy = len(justified_envy_pairs(cols, eligible, pairs)) if cols is not None else 0
        self.result.envy += envy
        clients = [self.waiting[c] for c, _ in pairs]
        units = [self.open_units[u] for _, u in pairs]
        yes = accepts(self.config, self.arrivals.seed, clients, units)
        placed = refusals = left = 0
        leave_after = self.config.offers.leave_after_refusals
        for client, unit, ok in zip(clients, units, yes, strict=True):
            self.offered_units.add(unit.id)
            if ok:
                self.let(client, unit, week)
                placed += 1
                continue
            self.refused[client.id].append(unit.id)
            self.first_refusal.setdefault(unit.id, week)
            refusals += 1
            if leave_after is not None and len(self.refused[client.id]) >= leave_after:
                self.leave(client, week)
                left += 1
        self.result.refusals += refusals
        self.result.offers += len(pairs)
        return len(pairs), placed, refusals, left, envy

    def let(self, client: ClientArrival, unit: VacancyArrival, week: int) -> None:
        date = week_date(self.config, week)
        muni = self.cx_muni[unit.complex_id]
        del self.waiting[client.id]
        self.close_unit(unit.id, week)
        cx = unit.complex_id
        self.vulnerable[cx] += 1
        self.used_muni[muni] += 1
        self.used_corp[unit.corporation_id] += 1
        self.rules.place(client, unit)
        r = self.result
        r.max_share[cx] = max(r.max_share[cx], self.vulnerable[cx] / self.units_total[cx])
        r.peak_vulnerable[cx] = max(r.peak_vulnerable[cx], self.vulnerable[cx])
        r.placements.append(
            Placement(
                client_id=client.id,
                unit_id=unit.id,
                week=week,
                year=date.year,
                municipality=muni,
                complex_id=cx,
                corporation=unit.corporation_id,
                target_group=client.target_group,
                waiting_days=max(0, (date - client.ready_since).days),
            )
        )
        r.outcomes.append(self.outcome(client, week, housed=True, left=False))

    def finish(self) -> None:
        horizon = self.config.horizon_weeks
        end = week_date(self.config, horizon)
        r = self.result
        r.still_waiting = [
            (c.id, c.target_group, max(0, (end - c.ready_since).days))
            for c in self.waiting.values()
        ]
        r.outcomes += [
            self.outcome(c, horizon, housed=False, left=False) for c in self.waiting.values()
        ]
        for unit_id in list(self.open_units):
            self.close_unit(unit_id, horizon)
        r.offered_vacancies = len(self.offered_units)


def _estimates(config: ScenarioConfig, clients: list[ClientArrival], units) -> list[dict]:
    """The scenario's acceptance chance of every client-unit pair, as the instance's
    ``acceptance`` rows (pairs in a municipality the client accepts)."""
    muni_of = {cx.id: cx.municipality for cx in config.region.complexes}
    cs, us = [], []
    for c in clients:
        for v in units:
            m = muni_of[v.complex_id]
            if m in c.excluded or (c.preferred and m not in c.preferred):
                continue
            cs.append(c)
            us.append(v)
    if not cs:
        return []
    p = acceptance_chance(config, cs, us)
    return [
        {"client_id": c.id, "unit_id": v.id, "probability": float(x)}
        for c, v, x in zip(cs, us, p, strict=True)
    ]


def simulate(
    config: ScenarioConfig,
    arrivals: Arrivals,
    policy: str,
    *,
    keep_trace: bool = False,
) -> RunResult:
    """One replication of one online policy over the horizon."""
    return _Online(config, arrivals, policy, keep_trace).run()


# --- the ceilings -----------------------------------------------------------------------------


def _leave_weeks(config: ScenarioConfig, arrivals: Arrivals) -> dict[str, int]:
    """For the ceilings: the week each client would leave the list at the base rate (the same
    draws as the online policies; a ceiling that offers nothing refused ignores the higher rate
    after a refusal). Clients who never leave are not listed."""
    rate = config.clients.leave_per_week
    out: dict[str, int] = {}
    if rate <= 0:
        return out
    for week in range(1, config.horizon_weeks):
        present = [c for c in arrivals.clients if c.week < week and c.id not in out]
        if not present:
            continue
        u = leave_uniform(arrivals.seed, np.array([c.index for c in present]), week)
        for c, x in zip(present, u < rate, strict=True):
            if x:
                out[c.id] = week
    return out


def ceiling(
    config: ScenarioConfig,
    arrivals: Arrivals,
    *,
    knows_answers: bool = True,
    keep_trace: bool = False,
) -> RunResult:
    """A ceiling: per quota year one instance with everything that will arrive in it known.

    Units are the vacancies that open in the year; clients everyone ready by the year's last week,
    not placed in an earlier year and not gone. A client may only take a vacancy open at some
    week while the client is on the list. ``knows_answers`` (``hindsight``, clairvoyant): pairs
    the client would refuse are left out, so it places everyone it can at once; within one quota
    year with no residents moving out it is an exact upper bound on any online policy. Otherwise
    (``ceiling_arrivals``) it offers its optimum, learns the answers, keeps the accepted pairs
    (pinned) and re-solves without the refused ones until every offer is accepted: arrivals
    known, answers learnt by offering; a reference, not a proven bound.
    """
    started = time.perf_counter()
    name = "hindsight" if knows_answers else "ceiling_arrivals"
    settings = SolverSettings(time_limit_seconds=max(config.policy.solver_time_limit, 30.0))
    result = _new_result(config, name, arrivals.seed)
    vulnerable = dict(result.peak_vulnerable)
    open_weeks, horizon = config.vacancies.open_weeks, config.horizon_weeks
    leaves = _leave_weeks(config, arrivals)
    weeks_of_year: dict[int, list[int]] = defaultdict(list)
    for w in range(horizon):
        weeks_of_year[week_date(config, w).year].append(w)
    placed_ids: set[str] = set()
    proven = True
    rules = RuleState.start(config)
    for year, weeks in sorted(weeks_of_year.items()):
        first, last = weeks[0], weeks[-1]
        quota, corp_quota = config.quotas_for_year(year)
        result.quota_by_year[year] = dict(quota)
        rules.new_year(config, year)
        for w in weeks:
            for cx in arrivals.moves.get(w, []):
                vulnerable[cx] = max(0, vulnerable[cx] - 1)
        units = [v for v in arrivals.vacancies if first <= v.week <= last]
        clients = [
            c
            for c in arrivals.clients
            if c.week <= last and c.id not in placed_ids and leaves.get(c.id, horizon) > first
        ]
        if not units or not clients:
            continue
        allowed = _overlap(clients, units, leaves, open_weeks, horizon)
        if knows_answers:
            allowed &= _would_accept(config, arrivals.seed, clients, units)
        pairs, year_proven = _solve_year(
            config,
            arrivals.seed,
            last,
            clients,
            units,
            vulnerable,
            quota,
            corp_quota,
            allowed,
            settings,
            learn=not knows_answers,
            result=result,
            keep_trace=keep_trace,
            rules=rules,
        )
        proven &= year_proven
        _book(config, result, clients, units, pairs, vulnerable, year, placed_ids, rules)
    end = week_date(config, horizon)
    for c in arrivals.clients:
        if c.id in placed_ids:
            continue
        week = min(leaves.get(c.id, horizon), horizon)
        days = max(0, (week_date(config, week) - c.ready_since).days)
        result.outcomes.append(
            Outcome(
                c.id, c.target_group, _first_municipality(c), c.urgent, days, False, week < horizon
            )
        )
        if week >= horizon:
            result.still_waiting.append((c.id, c.target_group, max(0, (end - c.ready_since).days)))
    used_units = {p.unit_id for p in result.placements}
    # as online: lost when its open weeks end within the horizon unused
    result.lost = sum(
        1
        for v in arrivals.vacancies
        if v.id not in used_units and v.week + open_weeks <= horizon - 1
    )
    result.left = sum(1 for o in result.outcomes if o.left)
    result.proven = proven
    result.seconds = time.perf_counter() - started
    return result


def hindsight(config: ScenarioConfig, arrivals: Arrivals, *, keep_trace: bool = False) -> RunResult:
    """The clairvoyant ceiling: knows every arrival and every answer."""
    return ceiling(config, arrivals, knows_answers=True, keep_trace=keep_trace)


def ceiling_arrivals(
    config: ScenarioConfig, arrivals: Arrivals, *, keep_trace: bool = False
) -> RunResult:
    """The ceiling that knows every arrival but learns answers by offering."""
    return ceiling(config, arrivals, knows_answers=False, keep_trace=keep_trace)


def _overlap(clients, units, leaves, open_weeks: int, horizon: int) -> np.ndarray:
    """(client, unit) pairs whose times on the list overlap."""
    ready = np.array([c.week for c in clients])
    gone = np.array([leaves.get(c.id, horizon) for c in clients])  # first week not on the list
    opens = np.array([v.week for v in units])
    closes = np.array([min(v.week + open_weeks - 1, horizon - 1) for v in units])
    return (ready[:, None] <= closes[None, :]) & (opens[None, :] < gone[:, None])


def _would_accept(config: ScenarioConfig, seed: int, clients, units) -> np.ndarray:
    ci, ui = np.meshgrid(np.arange(len(clients)), np.arange(len(units)), indexing="ij")
    flat_c, flat_u = ci.ravel(), ui.ravel()
    u = answer_uniform(
        seed,
        np.array([c.index for c in clients])[flat_c],
        np.array([v.index for v in units])[flat_u],
    )
    p = acceptance_chance(config, [clients[i] for i in flat_c], [units[j] for j in flat_u])
    return (u < p).reshape(len(clients), len(units))


def _solve_year(
    config,
    seed,
    last,
    clients,
    units,
    vulnerable,
    quota,
    corp_quota,
    allowed,
    settings,
    *,
    learn: bool,
    result: RunResult,
    keep_trace: bool,
    rules: RuleState,
) -> tuple[list[tuple[str, str]], bool]:
    refused = {
        c.id: [units[j].id for j in np.flatnonzero(~allowed[i])] for i, c in enumerate(clients)
    }
    by_client = {c.id: c for c in clients}
    by_unit = {v.id: v for v in units}
    pinned: list[tuple[str, str]] = []
    proven = True
    while True:
        instance = build_instance(
            config,
            last,
            clients,
            units,
            vulnerable,
            quota,
            corp_quota,
            refused,
            pinned=[{"client_id": c, "unit_id": u} for c, u in pinned],
            rules=rules,
        )
        solution = solve(instance, settings)
        pairs = solution.assignments
        proven &= solution.proven
        if keep_trace:
            result.trace.append((instance, pairs))
        if not learn:
            return pairs, proven
        new = [p for p in pairs if p not in set(pinned)]
        if not new:
            return pinned, proven
        yes = accepts(config, seed, [by_client[c] for c, _ in new], [by_unit[u] for _, u in new])
        result.offers += len(new)
        for (c, u), ok in zip(new, yes, strict=True):
            if ok:
                pinned.append((c, u))
            else:
                refused[c] = refused[c] + [u]
                result.refusals += 1


def _book(config, result, clients, units, pairs, vulnerable, year, placed_ids, rules) -> None:
    """Record a ceiling's placements of one quota year."""
    by_client = {c.id: c for c in clients}
    by_unit = {v.id: v for v in units}
    cx_muni = {cx.id: cx.municipality for cx in config.region.complexes}
    units_total = {cx.id: cx.units_total for cx in config.region.complexes}
    for cid, uid in pairs:
        c, v = by_client[cid], by_unit[uid]
        week = max(c.week, v.week)
        placed_ids.add(cid)
        cx = v.complex_id
        vulnerable[cx] += 1
        rules.place(c, v)
        result.max_share[cx] = max(result.max_share[cx], vulnerable[cx] / units_total[cx])
        result.peak_vulnerable[cx] = max(result.peak_vulnerable[cx], vulnerable[cx])
        days = max(0, (week_date(config, week) - c.ready_since).days)
        result.placements.append(
            Placement(
                client_id=cid,
                unit_id=uid,
                week=week,
                year=year,
                municipality=cx_muni[cx],
                complex_id=cx,
                corporation=v.corporation_id,
                target_group=c.target_group,
                waiting_days=days,
            )
        )
        result.outcomes.append(
            Outcome(cid, c.target_group, _first_municipality(c), c.urgent, days, True, False)
        )
