"""The exact optimiser: the lexicographic optimum of the contract, proven, as fast as the
instance's structure allows.

Two methods give the same optimum:

- ``cp-sat``: one CP-SAT model of every rule over all eligible pairs, each level of
  ``policy.objective`` optimised with the earlier levels fixed at their optimum. The reference.
- ``auto`` (default): pinned pairs are settled first, the rest splits into independent parts
  (``decompose``), and each part takes the cheapest path that still proves optimality: the
  nested min-cost flow when its answer meets every other cap (``flow``), else the LP
  relaxation when it is integral at every level (``lp``), else CP-SAT on that part alone.

Either way the first-come-first-served allocation seeds the search and stands in for any part
the time limit leaves unsolved, so a time-out returns the best allocation found, never nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import ortools
from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from allocator import rules
from allocator.columns import Columns, build_columns
from allocator.decompose import GroupCaps, settle_pinned, split
from allocator.eligibility import EligiblePairs, eligible_pairs
from allocator.flow import (
    caps_cannot_bind,
    lexicographic_weights,
    solve_assignment,
    solve_flow,
)
from allocator.greedy import first_come_first_served
from allocator.lp import solve_lp_combined, solve_lp_levels
from allocator.models import (
    LEVEL_SENSE,
    Instance,
    LevelFacts,
    ObjectiveValues,
    PartFacts,
    SolverFacts,
)
from allocator.rules import one_to_one
from allocator.validator import check_pinned
from allocator.variables import AllocationVars, compact

#: Told of each step: a message and, where known, how many of how many steps are done.
Progress = Callable[..., None]
log = logging.getLogger("allocator.solver")


class SolverSettings(BaseModel):
    """How the optimiser runs. Recorded in every proposal so a run can be reproduced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["auto", "lp", "parts", "cp-sat"] = Field(
        default="auto",
        description="auto: split into parts, then per part the nested flow, the LP, CP-SAT where "
        "needed; lp: the same without the flow; parts: CP-SAT on each part; cp-sat: one CP-SAT "
        "model of the whole instance. All give the same optimum; the choice is speed.",
    )
    time_limit_seconds: float = Field(default=60.0, gt=0, description="For all levels together.")
    workers: int = Field(default=1, ge=1, description="CP-SAT search workers. 1 is deterministic.")
    seed: int = 0
    # Measured on 2 cores: with the default linearisation CP-SAT did not close the gap of a
    # 60 × 200 instance in 10 minutes; level 2 puts the LP relaxation (near-integral for this
    # assignment structure) into the search and proves each level in about a second.
    linearization_level: int = Field(default=2, ge=0, le=2)
    presolve: bool = True
    log_search: bool = False


@dataclass
class Solution:
    """The solver's answer before explanations: chosen pairs and the facts of the run."""

    columns: Columns
    pairs: EligiblePairs
    chosen: np.ndarray  # positions into ``pairs``
    objective: ObjectiveValues
    facts: SolverFacts
    proven: bool

    @property
    def assignments(self) -> list[tuple[str, str]]:
        cols = self.columns
        return [
            (cols.client_ids[self.pairs.client[p]], cols.unit_ids[self.pairs.unit[p]])
            for p in self.chosen.tolist()
        ]


class Infeasible(Exception):
    """CP-SAT found the model infeasible: a bug, since the empty allocation plus the (checked)
    pinned pairs always satisfies every rule."""


def level_coefficients(level: str, cols: Columns, pairs: EligiblePairs) -> np.ndarray:
    """Per-pair coefficient of an objective level."""
    if level == "placed":
        return np.ones(len(pairs), dtype=np.int64)
    if level == "waiting_days":
        return cols.waiting_days[pairs.client]
    if level == "rank_sum":
        return cols.rank_of(pairs.client, pairs.unit)
    raise ValueError(f"unknown objective level {level!r}")


def objective_values(cols: Columns, pairs: EligiblePairs, chosen: np.ndarray) -> ObjectiveValues:
    return ObjectiveValues(
        **{
            level: int(level_coefficients(level, cols, pairs)[chosen].sum())
            for level in ("placed", "waiting_days", "rank_sum")
        }
    )


def build_model(cols: Columns, pairs: EligiblePairs) -> AllocationVars:
    """The CP-SAT model of every rule: eligibility made the variables; capacity rules add here."""
    variables = AllocationVars.create(cp_model.CpModel(), pairs.client, pairs.unit)
    for rule in rules.CAPACITY:
        rule.add(cols, variables)
    return variables


def _parameters(settings: SolverSettings) -> dict[str, object]:
    return {
        "num_workers": settings.workers,
        "random_seed": settings.seed,
        "linearization_level": settings.linearization_level,
        "cp_model_presolve": settings.presolve,
        "log_search_progress": settings.log_search,
    }


def _level_facts(level: str, status: str, value=None, bound=None, wall=0.0) -> LevelFacts:
    gap = None if value is None or bound is None else abs(bound - value) / max(1.0, abs(value))
    return LevelFacts(
        level=level, status=status, value=value, bound=bound, gap=gap, wall_seconds=round(wall, 4)
    )


def cpsat_levels(
    variables: AllocationVars,
    levels: list[str],
    coefficients: list[np.ndarray],
    settings: SolverSettings,
    deadline: float,
    hint: np.ndarray | None,
    say: Progress,
) -> tuple[np.ndarray | None, list[LevelFacts]]:
    """Optimise each level in turn, fixing it before the next (at its optimum, or after a
    time-out at least at its best value found). Returns the last solution (or None when the
    solver found none) and the facts per level."""
    model = variables.model
    current = hint
    facts: list[LevelFacts] = []
    for level, coefficient in zip(levels, coefficients, strict=True):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            facts.append(_level_facts(level, "not_solved"))
            continue
        say(f"CP-SAT level {level}")
        expr = variables.total(coefficient)
        maximise = LEVEL_SENSE[level] == "max"
        model.maximize(expr) if maximise else model.minimize(expr)
        model.clear_hints()
        if current is not None:
            for x, value in zip(variables.x, current.tolist(), strict=True):
                model.add_hint(x, value)
        solver = cp_model.CpSolver()
        for key, value in _parameters(settings).items():
            setattr(solver.parameters, key, value)
        solver.parameters.max_time_in_seconds = remaining
        started = time.perf_counter()
        status = solver.solve(model)
        wall = time.perf_counter() - started
        if status in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
            raise Infeasible(f"no allocation satisfies the rules ({solver.status_name(status)})")
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            facts.append(_level_facts(level, "not_solved", wall=wall))
            continue
        current = np.asarray(list(solver.response_proto.solution), dtype=bool)[: len(variables)]
        value = int(coefficient[current].sum())
        optimal = status == cp_model.OPTIMAL
        facts.append(
            _level_facts(
                level,
                "optimal" if optimal else "feasible",
                value,
                float(solver.best_objective_bound),
                wall,
            )
        )
        # Later levels may not give back what this level won.
        if optimal:
            model.add(expr == value)
        else:
            model.add(expr >= value) if maximise else model.add(expr <= value)
    return current, facts


def solve(
    instance: Instance,
    settings: SolverSettings | None = None,
    *,
    progress: Progress | None = None,
) -> Solution:
    """The lexicographic optimum of ``instance`` (or the best found within the time limit).

    Raises ``InstanceError`` when a pinned pair breaks a rule.
    """
    settings = settings or SolverSettings()
    say = progress or (lambda *_args, **_kw: None)
    check_pinned(instance)
    started = time.perf_counter()
    deadline = started + settings.time_limit_seconds

    say("eligibility")
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    eligibility_seconds = time.perf_counter() - started
    levels = list(instance.policy.objective)
    coefficients = [level_coefficients(level, cols, pairs) for level in levels]

    @functools.cache
    def greedy() -> np.ndarray:
        """Today's practice, as a hint and a fallback; only computed where one is needed."""
        chosen = np.zeros(len(pairs), dtype=bool)
        chosen[first_come_first_served(cols, pairs)] = True
        return chosen

    method = settings.method
    if method == "cp-sat":
        say(f"building model ({len(pairs):,} pairs)")
        t = time.perf_counter()
        variables = build_model(cols, pairs)
        build_seconds = time.perf_counter() - t
        t = time.perf_counter()
        current, level_facts = cpsat_levels(
            variables, levels, coefficients, settings, deadline, greedy(), say
        )
        solve_seconds = time.perf_counter() - t
        chosen = np.flatnonzero(current)  # at worst the greedy hint: never nothing
        parts: list[PartFacts] = []
        note = None
        if level_facts and all(lv.value is None for lv in level_facts):
            note = "no solver solution within the time limit: first-come-first-served allocation"
    else:
        t = time.perf_counter()
        chosen, level_facts, parts, build_seconds = _solve_by_parts(
            cols, pairs, levels, coefficients, settings, deadline, greedy, say
        )
        solve_seconds = time.perf_counter() - t - build_seconds
        note = None
        if any(p.path == "greedy" for p in parts):
            note = "time ran out: some parts keep the first-come-first-served allocation"

    log.info("eligibility: %d pairs in %.3fs", len(pairs), eligibility_seconds)
    log.info("build (%s): %.3fs; solve: %.3fs", method, build_seconds, solve_seconds)
    for lv in level_facts:
        log.info("level %s: %s, value %s, bound %s", lv.level, lv.status, lv.value, lv.bound)
    facts = SolverFacts(
        engine="cp-sat" if method == "cp-sat" else "flow/lp/cp-sat",
        version=ortools.__version__,
        method=method,
        parameters={
            **_parameters(settings),
            "time_limit_seconds": settings.time_limit_seconds,
            "method": method,
        },
        eligible_pairs=len(pairs),
        eligibility_seconds=round(eligibility_seconds, 4),
        build_seconds=round(build_seconds, 4),
        solve_seconds=round(solve_seconds, 4),
        levels=level_facts,
        paths=dict(Counter(p.path for p in parts)),
        parts=parts,
        note=note,
    )
    return Solution(
        columns=cols,
        pairs=pairs,
        chosen=chosen,
        objective=objective_values(cols, pairs, chosen),
        facts=facts,
        proven=all(lv.status == "optimal" for lv in level_facts),
    )


# ----------------------------------------------------------------------------------------------
# method "auto"


@dataclass
class _PartOutcome:
    chosen: np.ndarray  # global pair positions
    levels: list[LevelFacts]
    facts: PartFacts


def _solve_by_parts(cols, pairs, levels, coefficients, settings, deadline, greedy, say):
    t = time.perf_counter()
    reduced = settle_pinned(cols, pairs)
    free = reduced.free
    if settings.method == "auto" and caps_cannot_bind(
        pairs.client[free], pairs.unit[free], reduced.caps
    ):
        # a plain assignment as a whole: splitting it would cost more than it saves
        pieces = [free] if len(free) else []
    else:
        pieces = split(cols, pairs, free, reduced.caps)
    build_seconds = time.perf_counter() - t
    maximise = [LEVEL_SENSE[level] == "max" for level in levels]
    outcomes = []
    pairs_left = sum(len(p) for p in pieces)
    for i, positions in enumerate(pieces):
        say(f"part {i + 1}/{len(pieces)} ({len(positions):,} pairs)", i, len(pieces))
        # A hard part may not starve the others: each gets its share of the time left.
        now = time.perf_counter()
        share = len(positions) / max(1, pairs_left)
        part = _Part(
            i,
            positions,
            cols,
            pairs,
            reduced.caps,
            levels,
            maximise,
            [c[positions] for c in coefficients],
            settings,
            min(deadline, now + max(0.0, deadline - now) * share),
            greedy,
            say,
        )
        outcomes.append(part.solve())
        pairs_left -= len(positions)
        f = outcomes[-1].facts
        log.info(
            "part %d/%d: %d clients, %d units, %d pairs: %s%s in %.3fs",
            i + 1,
            len(pieces),
            f.clients,
            f.units,
            f.pairs,
            f.path,
            "" if f.proven else " (not proven)",
            f.seconds,
        )
    say("parts done", len(pieces), len(pieces))
    chosen = np.sort(np.concatenate([reduced.fixed, *(o.chosen for o in outcomes)])).astype(
        np.int64
    )
    level_facts = []
    for j, level in enumerate(levels):
        # pinned pairs add the same amount to every allocation: part of value and bound alike
        fixed = int(coefficients[j][reduced.fixed].sum())
        per_part = [o.levels[j] for o in outcomes]
        statuses = {lv.status for lv in per_part}
        status = (
            "not_solved"
            if "not_solved" in statuses
            else "feasible"
            if "feasible" in statuses
            else "optimal"
        )
        value = int(coefficients[j][chosen].sum()) if status != "not_solved" else None
        bounds = [lv.bound for lv in per_part]
        bound = None if value is None or None in bounds else fixed + sum(bounds)
        level_facts.append(
            _level_facts(level, status, value, bound, sum(lv.wall_seconds for lv in per_part))
        )
    return chosen, level_facts, [o.facts for o in outcomes], build_seconds


@dataclass
class _Part:
    """One independent part and the paths tried on it, cheapest first."""

    index: int
    positions: np.ndarray  # global pair positions
    cols: Columns
    pairs: EligiblePairs
    caps: list[GroupCaps]
    levels: list[str]
    maximise: list[bool]
    coefficients: list[np.ndarray]  # per level, per pair of this part
    settings: SolverSettings
    deadline: float
    all_greedy: Callable[[], np.ndarray]  # today's practice (all pairs): hint and fallback
    say: Progress

    def __post_init__(self) -> None:
        self.started = time.perf_counter()
        self.client = self.pairs.client[self.positions]
        self.unit = self.pairs.unit[self.positions]

    @property
    def greedy(self) -> np.ndarray:
        return self.all_greedy()[self.positions]

    def solve(self) -> _PartOutcome:
        method = self.settings.method
        # 1. the nested flow (rules 1, 8, 10), exact whenever its answer meets every other cap
        weight = lexicographic_weights(self.coefficients, self.maximise, self.client)
        picked = None
        if (
            weight is not None
            and method == "auto"
            and caps_cannot_bind(self.client, self.unit, self.caps)
        ):
            # 0. only rule 1 binds: a plain assignment
            picked = solve_assignment(self.client, self.unit, weight)
            if picked is not None:
                spent = time.perf_counter() - self.started
                return self._proven(picked, "assignment", [spent] + [0.0] * (len(self.levels) - 1))
        if weight is not None and method == "auto":
            picked = solve_flow(self.client, self.unit, weight, self.caps)
            if picked is not None and _meets(self.caps, self.client[picked], self.unit[picked]):
                spent = time.perf_counter() - self.started
                return self._proven(picked, "flow", [spent] + [0.0] * (len(self.levels) - 1))

        if method == "parts":
            return self._cpsat()
        # 2. the LP relaxation with every rule: first once with the lexicographic weights, proven
        #    by its dual bound when the vertex is integral, else level by level
        if weight is not None:
            chosen = solve_lp_combined(
                self.client, self.unit, self.caps, weight, self.deadline, start=picked
            )
            if chosen is not None:
                spent = time.perf_counter() - self.started
                return self._proven(chosen, "lp", [spent] + [0.0] * (len(self.levels) - 1))
        # (the flow's pairs, nearly optimal, are the LP's first columns)
        lp = solve_lp_levels(
            self.client,
            self.unit,
            self.caps,
            self.coefficients,
            self.maximise,
            self.deadline,
            start=picked,
        )
        if lp.chosen is not None:
            return self._proven(lp.chosen, "lp", lp.seconds)

        # 3. whole-number bounds but a fractional vertex: an integer solution reaching every
        #    bound proves itself optimal; look for one among the pairs the LP leaves open
        if lp.free is not None and len(lp.values) == len(self.levels):
            picked = self._reach_bounds(lp)
            if picked is not None:
                return self._proven(picked, "lp+cp-sat", lp.seconds)

        # 4. CP-SAT on this part, level by level
        return self._cpsat()

    def _cpsat(self) -> _PartOutcome:
        if time.perf_counter() < self.deadline:
            variables = self._model(np.arange(len(self.positions)), self.caps)
            current, facts = cpsat_levels(
                variables,
                self.levels,
                self.coefficients,
                self.settings,
                self.deadline,
                self.greedy,
                self.say,
            )
            if current is not None:
                facts = [
                    lv
                    if lv.status != "not_solved"
                    else _level_facts(
                        lv.level, "feasible", int(self.coefficients[j][current].sum()), None
                    )
                    for j, lv in enumerate(facts)
                ]
                proven = all(lv.status == "optimal" for lv in facts)
                return self._done(np.flatnonzero(current), facts, "cp-sat", proven)
        # nothing found in time: today's practice for this part
        facts = [_level_facts(level, "not_solved") for level in self.levels]
        return self._done(np.flatnonzero(self.greedy), facts, "greedy", False)

    def _model(self, subset: np.ndarray, caps: list[GroupCaps]) -> AllocationVars:
        variables = AllocationVars.create(
            cp_model.CpModel(), self.client[subset], self.unit[subset]
        )
        one_to_one.add(self.cols, variables)
        for cap in caps:
            variables.add_limits(cap.of(variables.client, variables.unit), cap.left)
        return variables

    def _reach_bounds(self, lp) -> np.ndarray | None:
        """An integer solution reaching every LP bound, or None. First only the pairs around the
        fractional ones may move (everything else stays at the LP's value); then every pair with
        zero reduced cost."""
        fractional = np.abs(lp.x - np.round(lp.x)) > 1e-6
        near = (
            fractional
            | np.isin(self.client, self.client[fractional])
            | np.isin(self.unit, self.unit[fractional])
        )
        stages = [(lp.free & near, 2.0), (lp.free, None)]
        for movable, seconds in stages:
            picked = self._reach_with(lp, movable, seconds)
            if picked is not None:
                return picked
        return None

    def _reach_with(self, lp, movable: np.ndarray, seconds: float | None) -> np.ndarray | None:
        ones = ~movable & (lp.x > 0.5)
        taken_clients = np.isin(self.client, self.client[ones])
        taken_units = np.isin(self.unit, self.unit[ones])
        open_ = np.flatnonzero(movable & ~ones & ~taken_clients & ~taken_units)
        caps = []
        for cap in self.caps:
            used = np.bincount(cap.of(self.client[ones], self.unit[ones]), minlength=len(cap.left))
            limited = cap.left >= 0
            if np.any(limited & (cap.left < used)):
                return None
            caps.append(dataclasses.replace(cap, left=np.where(limited, cap.left - used, -1)))
        variables = self._model(open_, caps)
        for coef, value in zip(self.coefficients, lp.values, strict=True):
            variables.model.add(variables.total(coef[open_]) == value - int(coef[ones].sum()))
        for x, value in zip(variables.x, (lp.x[open_] > 0.5).tolist(), strict=True):
            variables.model.add_hint(x, value)
        solver = cp_model.CpSolver()
        for key, value in _parameters(self.settings).items():
            setattr(solver.parameters, key, value)
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            return None
        solver.parameters.max_time_in_seconds = (
            remaining if seconds is None else min(seconds, remaining)
        )
        self.say(f"CP-SAT reaching the LP bounds ({len(open_):,} open pairs)")
        status = solver.solve(variables.model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        found = np.asarray(list(solver.response_proto.solution), dtype=bool)[: len(open_)]
        return np.sort(np.concatenate([np.flatnonzero(ones), open_[found]]))

    def _proven(self, picked: np.ndarray, path: str, seconds: list[float]) -> _PartOutcome:
        seconds = list(seconds) + [0.0] * (len(self.levels) - len(seconds))
        facts = []
        for j, level in enumerate(self.levels):
            value = int(self.coefficients[j][picked].sum())
            facts.append(_level_facts(level, "optimal", value, float(value), seconds[j]))
        return self._done(picked, facts, path, True)

    def _done(self, picked, facts, path, proven) -> _PartOutcome:
        return _PartOutcome(
            self.positions[picked],
            facts,
            PartFacts(
                part=self.index,
                clients=len(compact(self.client)[0]),
                units=len(compact(self.unit)[0]),
                pairs=len(self.positions),
                path=path,
                proven=proven,
                seconds=round(time.perf_counter() - self.started, 4),
            ),
        )


def _meets(caps: list[GroupCaps], client: np.ndarray, unit: np.ndarray) -> bool:
    """True when the pairs keep every group limit (a relaxation's answer that does is optimal)."""
    for cap in caps:
        used = np.bincount(cap.of(client, unit), minlength=len(cap.left))
        if not np.all((cap.left < 0) | (used <= cap.left)):
            return False
    return True
