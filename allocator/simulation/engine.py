"""The simulation: weekly rounds of arrivals, a proposal, answers to offers and move-ins; and the
hindsight ceiling, which knows everything that will arrive.

Each round builds a contract ``Instance`` from the simulated state (ready clients, open
vacancies, the year's quota left, buildings' current vulnerable households, refusals) and asks
the policy for an allocation: ``solve`` (the optimiser) or ``first_come_first_served`` (today's
practice). Every proposed pair is offered; the client's answer is fixed by the seed (the same
under every policy). An accepted unit is let: the client becomes a vulnerable resident of the
building and counts toward the municipality's and corporation's yearly quota. A refused unit is
never offered to that client again. A vacancy that finds nobody within ``open_weeks`` goes to
regular letting. Quotas start afresh every calendar year.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from allocator.columns import build_columns
from allocator.eligibility import eligible_pairs
from allocator.greedy import first_come_first_served
from allocator.models import Instance, Unit, contract_row, mix_cap
from allocator.simulation.arrivals import (
    Arrivals,
    ClientArrival,
    VacancyArrival,
    accepts,
    answer_uniform,
    week_date,
)
from allocator.simulation.scenario import ScenarioConfig
from allocator.solver import SolverSettings, solve

Online = Literal["optimiser", "fcfs"]


@dataclass(frozen=True)
class RoundRecord:
    week: int
    year: int
    arrived_clients: int
    arrived_vacancies: int
    offers: int
    placed: int
    refused: int
    left: int  # clients who left the pool after too many refusals
    lost: int  # vacancies gone to regular letting
    backlog: int  # ready clients waiting at the end of the round
    open_vacancies: int


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
    # (instance, allocation) of every round, kept only when asked (for tests)
    trace: list[tuple[Instance, list[tuple[str, str]]]] = field(default_factory=list)

    @property
    def placed(self) -> int:
        return len(self.placements)


def _unit_row(v: VacancyArrival) -> dict:
    return contract_row(Unit, v)


def _client_row(c: ClientArrival, refused: list[str]) -> dict:
    row = {
        "id": c.id,
        "household_size": c.household_size,
        "needs_accessible": c.needs_accessible,
        "preferred_municipalities": c.preferred,
        "excluded_municipalities": c.excluded,
        "target_group": c.target_group,
        "ready_since": c.ready_since,
        "refused_units": refused,
    }
    if c.max_rent is not None:
        row["max_rent"] = c.max_rent
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
) -> Instance:
    """The contract instance of one round (or of the hindsight ceiling)."""
    region = config.region
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
                for cx in region.complexes
            ],
            "units": [_unit_row(v) for v in units],
            "clients": [_client_row(c, refused.get(c.id, [])) for c in clients],
            "policy": {
                "max_vulnerable_share": config.policy.max_vulnerable_share,
                "reference_date": week_date(config, week),
                "objective": list(config.policy.objective),
            },
        }
    )


def allocate(instance: Instance, policy: str, settings: SolverSettings) -> list[tuple[str, str]]:
    """The policy's proposal as (client_id, unit_id) pairs."""
    if not instance.clients or not instance.units:
        return []
    if policy == "optimiser":
        return solve(instance, settings).assignments
    if policy == "fcfs":
        cols = build_columns(instance)
        pairs = eligible_pairs(cols)
        chosen = first_come_first_served(cols, pairs)
        return [
            (cols.client_ids[pairs.client[p]], cols.unit_ids[pairs.unit[p]])
            for p in chosen.tolist()
        ]
    raise ValueError(f"unknown online policy {policy!r}")


def _caps(config: ScenarioConfig) -> dict[str, int]:
    share = config.policy.max_vulnerable_share
    return {
        cx.id: mix_cap(
            share if cx.max_vulnerable_share is None else cx.max_vulnerable_share, cx.units_total
        )
        for cx in config.region.complexes
    }


def simulate(
    config: ScenarioConfig,
    arrivals: Arrivals,
    policy: Online,
    *,
    keep_trace: bool = False,
) -> RunResult:
    """One replication of one online policy over the horizon."""
    started = time.perf_counter()
    settings = SolverSettings(time_limit_seconds=config.policy.solver_time_limit)
    region = config.region
    quotas = config.yearly_quotas()
    corp_quota = {c.id: c.yearly_quota for c in region.corporations}
    cx_muni = {cx.id: cx.municipality for cx in region.complexes}
    units_total = {cx.id: cx.units_total for cx in region.complexes}
    vulnerable = {cx.id: cx.vulnerable_residents for cx in region.complexes}
    max_share = {cx: vulnerable[cx] / units_total[cx] for cx in vulnerable}
    open_weeks = config.vacancies.open_weeks
    leave_after = config.offers.leave_after_refusals

    clients_by_week: dict[int, list[ClientArrival]] = defaultdict(list)
    for c in arrivals.clients:
        clients_by_week[c.week].append(c)
    units_by_week: dict[int, list[VacancyArrival]] = defaultdict(list)
    for v in arrivals.vacancies:
        units_by_week[v.week].append(v)

    waiting: dict[str, ClientArrival] = {}
    open_units: dict[str, VacancyArrival] = {}
    refused: dict[str, list[str]] = defaultdict(list)
    offered_units: set[str] = set()
    result = RunResult(
        policy=policy,
        seed=arrivals.seed,
        placements=[],
        rounds=[],
        still_waiting=[],
        yearly_quota=quotas,
        corporation_quota=corp_quota,
        max_share=max_share,
        seconds=0.0,
    )
    year = None
    used_muni: Counter = Counter()
    used_corp: Counter = Counter()
    for week in range(config.horizon_weeks):
        date = week_date(config, week)
        if date.year != year:  # quotas start afresh every calendar year
            year, used_muni, used_corp = date.year, Counter(), Counter()
        for cx in arrivals.moves.get(week, []):
            vulnerable[cx] = max(0, vulnerable[cx] - 1)
        for c in clients_by_week.get(week, []):
            waiting[c.id] = c
        for v in units_by_week.get(week, []):
            open_units[v.id] = v
        lost = [u for u, v in open_units.items() if week >= v.week + open_weeks]
        for u in lost:
            del open_units[u]
        offers = placed = refusals = left = 0
        if week % config.policy.round_weeks == 0 and waiting and open_units:
            instance = build_instance(
                config,
                week,
                list(waiting.values()),
                list(open_units.values()),
                vulnerable,
                {m: quotas[m] - used_muni[m] for m in quotas},
                {c: None if q is None else q - used_corp[c] for c, q in corp_quota.items()},
                refused,
            )
            pairs = allocate(instance, policy, settings)
            if keep_trace:
                result.trace.append((instance, pairs))
            offered_clients = [waiting[c] for c, _ in pairs]
            offered = [open_units[u] for _, u in pairs]
            yes = accepts(config, arrivals.seed, offered_clients, offered)
            offers = len(pairs)
            for client, unit, ok in zip(offered_clients, offered, yes, strict=True):
                offered_units.add(unit.id)
                if ok:
                    muni = cx_muni[unit.complex_id]
                    del waiting[client.id], open_units[unit.id]
                    vulnerable[unit.complex_id] += 1
                    used_muni[muni] += 1
                    used_corp[unit.corporation_id] += 1
                    share = vulnerable[unit.complex_id] / units_total[unit.complex_id]
                    max_share[unit.complex_id] = max(max_share[unit.complex_id], share)
                    result.placements.append(
                        Placement(
                            client_id=client.id,
                            unit_id=unit.id,
                            week=week,
                            year=date.year,
                            municipality=muni,
                            complex_id=unit.complex_id,
                            corporation=unit.corporation_id,
                            target_group=client.target_group,
                            waiting_days=max(0, (date - client.ready_since).days),
                        )
                    )
                    placed += 1
                else:
                    refused[client.id].append(unit.id)
                    refusals += 1
                    if leave_after is not None and len(refused[client.id]) >= leave_after:
                        del waiting[client.id]
                        left += 1
        result.refusals += refusals
        result.lost += len(lost)
        result.left += left
        result.rounds.append(
            RoundRecord(
                week=week,
                year=date.year,
                arrived_clients=len(clients_by_week.get(week, [])),
                arrived_vacancies=len(units_by_week.get(week, [])),
                offers=offers,
                placed=placed,
                refused=refusals,
                left=left,
                lost=len(lost),
                backlog=len(waiting),
                open_vacancies=len(open_units),
            )
        )
    end = week_date(config, config.horizon_weeks)
    result.still_waiting = [
        (c.id, c.target_group, max(0, (end - c.ready_since).days)) for c in waiting.values()
    ]
    result.offered_vacancies = len(offered_units)
    result.seconds = time.perf_counter() - started
    return result


def hindsight(config: ScenarioConfig, arrivals: Arrivals, *, keep_trace: bool = False) -> RunResult:
    """The ceiling: per quota year one instance with everything that will arrive known.

    Units are the vacancies that open in the year (within the horizon); clients everyone who is
    ready by the year's last week and not placed in an earlier year. A client may only take a
    vacancy that is open at some week at or after they are ready (``refused_units`` lists the
    others), and never one they would refuse. Caps and yearly quotas hold as in the contract.
    Within one quota year with no residents moving out this is an exact upper bound on what any
    online policy can place; over several years it is chained year by year.
    """
    started = time.perf_counter()
    settings = SolverSettings(time_limit_seconds=max(config.policy.solver_time_limit, 30.0))
    region = config.region
    quotas = config.yearly_quotas()
    corp_quota = {c.id: c.yearly_quota for c in region.corporations}
    vulnerable = {cx.id: cx.vulnerable_residents for cx in region.complexes}
    units_total = {cx.id: cx.units_total for cx in region.complexes}
    max_share = {cx: vulnerable[cx] / units_total[cx] for cx in vulnerable}
    cx_muni = {cx.id: cx.municipality for cx in region.complexes}
    open_weeks = config.vacancies.open_weeks
    horizon = config.horizon_weeks
    weeks_of_year: dict[int, list[int]] = defaultdict(list)
    for w in range(horizon):
        weeks_of_year[week_date(config, w).year].append(w)
    result = RunResult(
        policy="hindsight",
        seed=arrivals.seed,
        placements=[],
        rounds=[],
        still_waiting=[],
        yearly_quota=quotas,
        corporation_quota=corp_quota,
        max_share=max_share,
        seconds=0.0,
    )
    placed_ids: set[str] = set()
    clients_all = arrivals.clients
    for year, weeks in sorted(weeks_of_year.items()):
        first, last = weeks[0], weeks[-1]
        for w in weeks:
            for cx in arrivals.moves.get(w, []):
                vulnerable[cx] = max(0, vulnerable[cx] - 1)
        units = [v for v in arrivals.vacancies if first <= v.week <= last]
        clients = [c for c in clients_all if c.week <= last and c.id not in placed_ids]
        if not units or not clients:
            continue
        ready = np.array([c.week for c in clients])
        closes = np.array([min(v.week + open_weeks - 1, horizon - 1) for v in units])
        ci, ui = np.meshgrid(np.arange(len(clients)), np.arange(len(units)), indexing="ij")
        compatible = ready[ci] <= closes[ui]
        p = np.array(
            [
                config.offers.by_target_group.get(c.target_group, config.offers.accept_probability)
                for c in clients
            ]
        )
        u = answer_uniform(
            arrivals.seed,
            np.array([c.index for c in clients])[ci],
            np.array([v.index for v in units])[ui],
        )
        allowed = compatible & (u < p[:, None])
        refused = {
            c.id: [units[j].id for j in np.flatnonzero(~allowed[i])] for i, c in enumerate(clients)
        }
        instance = build_instance(
            config, last, clients, units, vulnerable, dict(quotas), dict(corp_quota), refused
        )
        pairs = allocate(instance, "optimiser", settings)
        if keep_trace:
            result.trace.append((instance, pairs))
        by_client = {c.id: c for c in clients}
        by_unit = {v.id: v for v in units}
        for cid, uid in pairs:
            c, v = by_client[cid], by_unit[uid]
            week = max(c.week, v.week)
            placed_ids.add(cid)
            vulnerable[v.complex_id] += 1
            share = vulnerable[v.complex_id] / units_total[v.complex_id]
            max_share[v.complex_id] = max(max_share[v.complex_id], share)
            result.placements.append(
                Placement(
                    client_id=cid,
                    unit_id=uid,
                    week=week,
                    year=year,
                    municipality=cx_muni[v.complex_id],
                    complex_id=v.complex_id,
                    corporation=v.corporation_id,
                    target_group=c.target_group,
                    waiting_days=max(0, (week_date(config, week) - c.ready_since).days),
                )
            )
    end = week_date(config, horizon)
    result.still_waiting = [
        (c.id, c.target_group, max(0, (end - c.ready_since).days))
        for c in clients_all
        if c.id not in placed_ids
    ]
    used_units = {p.unit_id for p in result.placements}
    # as online: lost when its open weeks end within the horizon unused
    result.lost = sum(
        1
        for v in arrivals.vacancies
        if v.id not in used_units and v.week + open_weeks <= horizon - 1
    )
    result.seconds = time.perf_counter() - started
    return result
