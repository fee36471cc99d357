"""The exact optimiser: CP-SAT over the eligible pairs, one objective level at a time.

Each level of ``policy.objective`` is optimised with the earlier levels fixed at their optimum
(or, after a time-out, at their best value found), so the result is the lexicographic optimum of
DOMAIN.md. The first-come-first-served allocation seeds the search as a hint and stands in as the
answer when the solver finds nothing within the time limit, so a time-out never leaves the
coordinator empty-handed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ortools
from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from allocator import rules
from allocator.columns import Columns, build_columns
from allocator.eligibility import EligiblePairs, eligible_pairs
from allocator.greedy import first_come_first_served
from allocator.models import LEVEL_SENSE, Instance, LevelFacts, ObjectiveValues, SolverFacts
from allocator.validator import check_pinned
from allocator.variables import AllocationVars

Progress = Callable[[str], None]


class SolverSettings(BaseModel):
    """How the optimiser runs. Recorded in every proposal so a run can be reproduced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_limit_seconds: float = Field(default=60.0, gt=0, description="For all levels together.")
    workers: int = Field(default=1, ge=1, description="CP-SAT search workers. 1 is deterministic.")
    seed: int = 0
    # Measured on 2 cores: with the default linearisation CP-SAT did not close the gap of a
    # 60 × 200 instance in 10 minutes; level 2 puts the LP relaxation (which is near-integral for
    # this assignment structure) in the search and proves each level in about a second.
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


def solve(
    instance: Instance,
    settings: SolverSettings | None = None,
    *,
    constrain: Callable[[Columns, AllocationVars], None] | None = None,
    progress: Progress | None = None,
) -> Solution:
    """The lexicographic optimum of ``instance`` (or the best found within the time limit).

    ``constrain`` may add constraints of its own (used to force a client in for explanations).
    Raises ``InstanceError`` when a pinned pair breaks a rule, and ``Infeasible`` only when
    ``constrain`` asks for something impossible.
    """
    settings = settings or SolverSettings()
    say = progress or (lambda _msg: None)
    check_pinned(instance)
    started = time.perf_counter()
    deadline = started + settings.time_limit_seconds

    say("eligibility")
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    eligibility_seconds = time.perf_counter() - started

    say(f"building model ({len(pairs):,} pairs)")
    t = time.perf_counter()
    variables = build_model(cols, pairs)
    if constrain is not None:
        constrain(cols, variables)
    model = variables.model
    greedy = first_come_first_served(cols, pairs)
    current = np.zeros(len(pairs), dtype=bool)
    current[greedy] = True
    # The greedy answer ignores `constrain`; it is only a hint and a fallback when nothing is forced.
    have_solution = constrain is None
    build_seconds = time.perf_counter() - t

    parameters = _parameters(settings)
    levels: list[LevelFacts] = []
    solve_started = time.perf_counter()
    for level in instance.policy.objective:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            levels.append(
                LevelFacts(
                    level=level,
                    status="not_solved",
                    value=None,
                    bound=None,
                    gap=None,
                    wall_seconds=0.0,
                )
            )
            continue
        say(f"level {level}")
        coefficients = level_coefficients(level, cols, pairs)
        expr = variables.total(coefficients)
        maximise = LEVEL_SENSE[level] == "max"
        model.maximize(expr) if maximise else model.minimize(expr)
        model.clear_hints()
        if have_solution:
            for x, value in zip(variables.x, current.tolist(), strict=True):
                model.add_hint(x, value)
        solver = cp_model.CpSolver()
        for key, value in parameters.items():
            setattr(solver.parameters, key, value)
        solver.parameters.max_time_in_seconds = remaining
        t = time.perf_counter()
        status = solver.solve(model)
        wall = time.perf_counter() - t
        if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
            raise Infeasible(f"no allocation satisfies the rules ({solver.status_name(status)})")
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            solution = np.asarray(list(solver.response_proto.solution), dtype=bool)[: len(pairs)]
            current, have_solution = solution, True
            value = int(coefficients[current].sum())
            bound = float(solver.best_objective_bound)
            optimal = status == cp_model.OPTIMAL
            levels.append(
                LevelFacts(
                    level=level,
                    status="optimal" if optimal else "feasible",
                    value=value,
                    bound=bound,
                    gap=abs(bound - value) / max(1.0, abs(value)),
                    wall_seconds=round(wall, 4),
                )
            )
            # Later levels may not give back what this level won.
            if optimal:
                model.add(expr == value)
            else:
                model.add(expr >= value) if maximise else model.add(expr <= value)
        else:
            levels.append(
                LevelFacts(
                    level=level,
                    status="not_solved",
                    value=None,
                    bound=None,
                    gap=None,
                    wall_seconds=round(wall, 4),
                )
            )
    solve_seconds = time.perf_counter() - solve_started

    note = None
    if not have_solution:
        raise Infeasible("the solver found no allocation within the time limit")
    if not any(lv.value is not None for lv in levels) and levels:
        note = "no solver solution within the time limit: first-come-first-served allocation"
    chosen = np.flatnonzero(current)
    facts = SolverFacts(
        engine="cp-sat",
        version=ortools.__version__,
        parameters={**parameters, "time_limit_seconds": settings.time_limit_seconds},
        eligible_pairs=len(pairs),
        eligibility_seconds=round(eligibility_seconds, 4),
        build_seconds=round(build_seconds, 4),
        solve_seconds=round(solve_seconds, 4),
        levels=levels,
        note=note,
    )
    return Solution(
        columns=cols,
        pairs=pairs,
        chosen=chosen,
        objective=objective_values(cols, pairs, chosen),
        facts=facts,
        proven=all(lv.status == "optimal" for lv in levels),
    )


class Infeasible(Exception):
    """Extra constraints (``constrain``) left no allocation; the instance itself always has one."""
