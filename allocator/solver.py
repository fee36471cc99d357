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

import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import ortools
from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from allocator import expected_acceptance, rules
from allocator.columns import Columns, build_columns
from allocator.decompose import GroupCaps, settle_pinned, split, split_in_regions
from allocator.eligibility import EligiblePairs, eligible_pairs
from allocator.flow import (
    DenseIndex,
    assignment_index,
    caps_cannot_bind,
    lexicographic,
    lexicographic_scale,
    per_client_max,
    solve_assignment,
    solve_flow,
    solve_flow_most_placed,
)
from allocator.greedy import first_come_first_served
from allocator.linked import regions_and_links, solve_linked, within
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
from allocator.variables import AllocationVars, count_distinct

#: Told of each step: a message and, where known, how many of how many steps are done.
Progress = Callable[..., None]
log = logging.getLogger("allocator.solver")
#: One CP-SAT model above this many pairs takes gigabytes and minutes: not built on a part.
CPSAT_MAX_PAIRS = 400_000
#: Building a CP-SAT model cannot be interrupted, so it is only begun when this much time per
#: pair is left: 5-7 µs a pair measured at province and national scale on a quiet machine,
#: 22 µs with the 2 cores shared five ways; the estimate takes the loaded figure.
CPSAT_BUILD_SECONDS_PER_PAIR = 20e-6
#: First come, first served is the fallback of a part that runs out of time, so a path that may
#: need it stops this much earlier per eligible pair (of the whole instance) while it is not yet
#: computed: 0.55 µs a pair measured at national scale with the 2 cores shared four ways
#: (1.0 s for 1.8 M pairs; without the reserve the linked path ran 1.2× over a 10 s limit).
GREEDY_SECONDS_PER_PAIR = 0.8e-6
#: CP-SAT looks at its clock only between steps of its presolve, so it stops late on a large
#: model: 0.5-1.4 s past its limit on owned-province's one model of 294,000 pairs (the whole
#: solve 1.09-1.14× a 10 s limit on a machine slower than the one of stop 10). Each solve is
#: given this much less per variable (1.5 s there).
CPSAT_STOP_SECONDS_PER_PAIR = 5e-6


class SolverSettings(BaseModel):
    """How the optimiser runs. Recorded in every proposal so a run can be reproduced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["auto", "lp", "parts", "cp-sat"] = Field(
        default="auto",
        description="auto: split into parts, then per part the nested flow, the LP, CP-SAT where "
        "needed; lp: the same without the flow; parts: CP-SAT on each part (a part above 400,000 "
        "eligible pairs as auto); cp-sat: one CP-SAT "
        "model of the whole instance (above 400,000 eligible pairs it would need more than "
        "2 GB: auto solves it instead, and the proposal's note says so). All give the same "
        "optimum; the choice is speed.",
    )
    time_limit_seconds: float = Field(default=60.0, gt=0, description="For all levels together.")
    workers: int = Field(default=1, ge=1, description="CP-SAT search workers. 1 is deterministic.")
    seed: int = 0
    # Measured on 2 cores: with the default linearisation CP-SAT did not close the gap of a
    # 60 × 200 instance in 10 minutes; level 2 puts the LP relaxation (near-integral for this
    # assignment structure) into the search and proves each level in about a second.
    linearization_level: int = Field(default=2, ge=0, le=2)
    linked_min_pairs: int = Field(
        default=600_000,
        ge=0,
        description="A part of at least this many pairs that falls into regions joined only by a "
        "few caps (corporations across regions) is solved region by region with the caps split "
        "into budgets (allocator.linked); smaller ones go straight to the LP.",
    )
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


def level_per_client(level: str, cols: Columns) -> np.ndarray | None:
    """An objective level's coefficient per client, when it depends on the client alone (else
    None): the weights of a level per client need no arithmetic per pair."""
    if level == "waiting_days":
        return cols.waiting_days
    return None


def level_coefficients(level: str, cols: Columns, pairs: EligiblePairs) -> np.ndarray:
    """Per-pair coefficient of an objective level. A level that counts every pair alike is one
    number broadcast over the pairs (read-only, ``flow.constant``): the weights read it once,
    not once per pair."""
    if level == "placed":
        return np.broadcast_to(np.int64(1), len(pairs))
    per_client = level_per_client(level, cols)
    if per_client is not None:
        return per_client[pairs.client]
    if level == "rank_sum":
        if len(pairs) and not np.any(cols.has_preferences):
            # no client has preferences: every pair has the rank of a client without them
            return np.broadcast_to(cols.rank_of(pairs.client[:1], pairs.unit[:1])[0], len(pairs))
        return cols.rank_of(pairs.client, pairs.unit)
    if level == expected_acceptance.LEVEL:
        return expected_acceptance.coefficients(cols, pairs)
    raise ValueError(f"unknown objective level {level!r}")


def objective_values(cols: Columns, pairs: EligiblePairs, chosen: np.ndarray) -> ObjectiveValues:
    taken = EligiblePairs(pairs.client[chosen], pairs.unit[chosen])
    return ObjectiveValues(
        **{
            level: int(level_coefficients(level, cols, taken).sum())
            for level in ("placed", "waiting_days", "rank_sum")
        },
        expected_acceptance=int(expected_acceptance.coefficients(cols, pairs)[chosen].sum())
        if expected_acceptance.LEVEL in cols.instance.policy.objective
        else None,
    )


#: How the distance between a level's value and its bound reads, per level.
_GAP_WORDS = {
    "placed": "at most {gap:,} more people could be placed",
    "waiting_days": "the placed clients' waiting days could add up to at most {gap:,} more",
    "rank_sum": "their preference ranks could add up to at most {gap:,} less",
}


def _no_solver_bound(client: np.ndarray, coefficients: np.ndarray, maximise: bool) -> float:
    """A bound that needs no solver: every client at its best pair for a maximised level (a
    client takes one unit), the smallest coefficient sum (0 or less) for a minimised one."""
    if maximise:
        return float(per_client_max(client, coefficients).sum())
    return float(min(0, int(coefficients.min(initial=0))))


def first_gap(levels: list[LevelFacts]) -> tuple[str, int | None] | None:
    """The first level not proven optimal and by how many whole units it could still improve
    (None: no bound known); None when every level is proven. Later levels only count once the
    earlier ones are settled, so they are not looked at."""
    for lv in levels:
        if lv.status == "optimal":
            continue
        if lv.value is None or lv.bound is None:
            return lv.level, None
        gap = (
            abs(math.floor(lv.bound + 1e-9) - lv.value)
            if LEVEL_SENSE.get(lv.level) == "max"
            else abs(lv.value - math.ceil(lv.bound - 1e-9))
        )
        return lv.level, gap
    return None


def gap_in_words(levels: list[LevelFacts]) -> str | None:
    """``first_gap`` as a coordinator would say it (the pages say it in their own language)."""
    found = first_gap(levels)
    if found is None:
        return None
    level, gap = found
    if gap is None:
        return f"{level}: no bound known"
    words = _GAP_WORDS.get(level, level + " could improve by at most {gap:,}")
    if level == "placed" and gap == 1:
        words = "at most 1 more person could be placed"
    return "not proven optimal: " + words.format(gap=gap)


def build_model(
    cols: Columns, pairs: EligiblePairs, deadline: float | None = None
) -> AllocationVars | None:
    """The CP-SAT model of every rule: eligibility made the variables; capacity rules add here.

    With a ``deadline``: None once it has passed (checked between batches of variables and
    between rules), so that a model too large for the time left is abandoned, not finished."""
    if deadline is None:
        variables = AllocationVars.create(cp_model.CpModel(), pairs.client, pairs.unit)
    else:
        model, x = cp_model.CpModel(), []
        for start in range(0, len(pairs), _BUILD_BATCH):
            if time.perf_counter() > deadline:
                return None
            batch = slice(start, start + _BUILD_BATCH)
            x += AllocationVars.create(model, pairs.client[batch], pairs.unit[batch]).x
        variables = AllocationVars(model=model, client=pairs.client, unit=pairs.unit, x=x)
    for rule in rules.CAPACITY:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        rule.add(cols, variables)
    return variables


#: Variables created between two looks at the deadline while a model is built.
_BUILD_BATCH = 20_000


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
    level_seconds: list[float] | None = None,
) -> tuple[np.ndarray | None, list[LevelFacts]]:
    """Optimise each level in turn, fixing it before the next (at its optimum, or after a
    time-out at least at its best value found). Returns the last solution (or None when the
    solver found none) and the facts per level. A level that ends without a solution ends the
    sequence: the later levels are reported not solved. ``level_seconds`` caps each level's
    time (within the deadline)."""
    model = variables.model
    current = hint
    facts: list[LevelFacts] = []
    indices = [x.index for x in variables.x]
    for level, coefficient in zip(levels, coefficients, strict=True):
        if deadline - time.perf_counter() <= 0 or (facts and facts[-1].status == "not_solved"):
            # a level never optimised without the previous one held: the sequence stops
            facts.append(_level_facts(level, "not_solved"))
            continue
        say(f"CP-SAT level {level}")
        started = time.perf_counter()
        maximise = LEVEL_SENSE[level] == "max"
        as_int = coefficient.astype(np.int64)
        coefs = as_int.tolist()
        # objective and hint written straight into the model (through linear expressions and
        # one call per variable they took seconds on a few hundred thousand pairs); CP-SAT
        # maximises as the minimum of the negated objective, scaled by -1
        model.clear_objective()
        objective = model.proto.objective
        objective.vars.extend(indices)
        objective.coeffs.extend(np.negative(as_int).tolist() if maximise else coefs)
        objective.scaling_factor = -1.0 if maximise else 1.0
        model.clear_hints()
        if current is not None:
            model.proto.solution_hint.vars.extend(indices)
            model.proto.solution_hint.values.extend(current.astype(np.int64).tolist())
        solver = cp_model.CpSolver()
        for key, value in _parameters(settings).items():
            setattr(solver.parameters, key, value)
        # the time left now, after the objective and the hint were written, less the time
        # CP-SAT may take to notice its limit: it is all the solver may take, so that the whole
        # solve keeps its limit
        remaining = deadline - time.perf_counter() - CPSAT_STOP_SECONDS_PER_PAIR * len(indices)
        if level_seconds is not None:
            remaining = min(remaining, level_seconds[len(facts)])
        if remaining <= 0:
            facts.append(_level_facts(level, "not_solved", wall=time.perf_counter() - started))
            continue
        solver.parameters.max_time_in_seconds = remaining
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
        held = model.proto.constraints.add().linear
        held.vars.extend(indices)
        held.coeffs.extend(coefs)
        if optimal:
            held.domain.extend([value, value])
        else:
            held.domain.extend([value, cp_model.INT_MAX] if maximise else [cp_model.INT_MIN, value])
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
    started = time.perf_counter()
    deadline = started + settings.time_limit_seconds
    check_pinned(instance)

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

    method = expected_acceptance.method_for(levels, settings.method)
    not_built = None
    if method == "cp-sat" and len(pairs) > CPSAT_MAX_PAIRS:
        # One model of every pair would take more than 2 GB (3.2 GB measured for 1.8 M pairs)
        # and minutes to build: not built. The auto method gives the same optimum with its own
        # proof, so a user who asked for cp-sat gets that, told so; a level only CP-SAT can
        # optimise (expected acceptance) keeps today's practice with a bound that needs no solver.
        not_built = (
            f"method cp-sat: one CP-SAT model of {len(pairs):,} eligible pairs would need more "
            f"memory than allowed (the limit is {CPSAT_MAX_PAIRS:,} pairs)"
        )
        if expected_acceptance.LEVEL not in levels:
            method = "auto"
            settings = settings.model_copy(update={"method": "auto"})
            not_built += "; solved with method auto instead"
    if method == "cp-sat" and not_built is None:
        # a build that would not end within the limit is not begun (one that overruns all the
        # same is abandoned at the deadline: build_model)
        expected = CPSAT_BUILD_SECONDS_PER_PAIR * len(pairs)
        if time.perf_counter() + expected > deadline:
            not_built = (
                f"method cp-sat: building one CP-SAT model of {len(pairs):,} eligible pairs "
                f"takes about {expected:.1f} s, more than the time limit leaves"
            )
    if method == "cp-sat":
        t = time.perf_counter()
        variables = None
        if not_built is None:
            say(f"building model ({len(pairs):,} pairs)")
            variables = build_model(cols, pairs, deadline)
            if variables is None:
                not_built = (
                    f"method cp-sat: the time limit ran out while one CP-SAT model of "
                    f"{len(pairs):,} eligible pairs was being built"
                )
        build_seconds = time.perf_counter() - t
        t = time.perf_counter()
        if variables is not None:
            current, level_facts = cpsat_levels(
                variables, levels, coefficients, settings, deadline, greedy(), say
            )
        else:
            current, level_facts = greedy(), [_level_facts(lv, "not_solved") for lv in levels]
        solve_seconds = time.perf_counter() - t
        chosen = np.flatnonzero(current)  # at worst the greedy hint: never nothing
        parts: list[PartFacts] = []
        note = not_built
        if level_facts and all(lv.value is None for lv in level_facts):
            fcfs = "no solver solution within the time limit: first-come-first-served allocation"
            note = fcfs if note is None else f"{note}: first-come-first-served allocation"
        level_facts = [
            lv
            if lv.value is not None and lv.bound is not None
            else _level_facts(
                lv.level,
                "feasible" if lv.status == "not_solved" else lv.status,
                int(coefficients[j][chosen].sum()),
                lv.bound
                if lv.bound is not None
                else _no_solver_bound(
                    pairs.client, coefficients[j], LEVEL_SENSE[lv.level] == "max"
                ),
                lv.wall_seconds,
            )
            for j, lv in enumerate(level_facts)
        ]
    else:
        t = time.perf_counter()
        chosen, level_facts, parts, build_seconds = _solve_by_parts(
            cols, pairs, levels, coefficients, settings, deadline, greedy, say
        )
        solve_seconds = time.perf_counter() - t - build_seconds
        note = not_built
        too_large = [p for p in parts if settings.method == "parts" and p.pairs > CPSAT_MAX_PAIRS]
        if too_large:
            note = (
                f"method parts: one CP-SAT model of a part of {too_large[0].pairs:,} eligible "
                f"pairs would need more memory than allowed (the limit is {CPSAT_MAX_PAIRS:,} "
                "pairs): solved with method auto instead"
            )
        if any(p.path == "greedy" for p in parts):
            greedy_note = "time ran out: some parts keep the first-come-first-served allocation"
            note = greedy_note if note is None else f"{note}; {greedy_note}"

    gap = gap_in_words(level_facts)
    if gap:
        note = f"{note}; {gap}" if note else gap
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
class LpVertex:
    x: np.ndarray
    bound: float


@dataclass
class _PartOutcome:
    chosen: np.ndarray  # global pair positions
    levels: list[LevelFacts]
    facts: PartFacts


def _solve_by_parts(cols, pairs, levels, coefficients, settings, deadline, greedy, say):
    t = time.perf_counter()
    reduced = settle_pinned(cols, pairs)
    whole = reduced.all_free
    free = None if whole else reduced.free  # None: every pair
    n_free = len(pairs) if free is None else len(free)
    index = None
    plain = False
    client = unit = None  # of the free pairs, once gathered
    if settings.method == "auto" and n_free:
        client = pairs.client if whole else pairs.client[free]
        unit = pairs.unit if whole else pairs.unit[free]
        index = assignment_index(client, unit, pairs if whole else None)
        plain = caps_cannot_bind(client, unit, reduced.caps, index)
    pieces: list[np.ndarray | None]
    regions: list[list[np.ndarray] | None]
    if plain:
        # a plain assignment as a whole: splitting it would cost more than it saves
        pieces = [free] if n_free else []
        regions = [None] * len(pieces)
    else:
        # each part with its regions, for the paths that take a part region by region
        found = split_in_regions(
            cols, pairs, reduced.free if free is None else free, reduced.caps, client, unit
        )
        pieces, regions = [p for p, _ in found], [r for _, r in found]
    build_seconds = time.perf_counter() - t
    maximise = [LEVEL_SENSE[level] == "max" for level in levels]
    of_client = [level_per_client(level, cols) for level in levels]
    outcomes = []
    sizes = [len(pairs) if p is None else len(p) for p in pieces]
    pairs_left = sum(sizes)
    for i, (positions, size, part_regions) in enumerate(zip(pieces, sizes, regions, strict=True)):
        say(f"part {i + 1}/{len(pieces)} ({size:,} pairs)", i, len(pieces))
        # A hard part may not starve the others: each gets its share of the time left.
        now = time.perf_counter()
        share = size / max(1, pairs_left)
        known = index is not None and size == n_free  # the part is all the free pairs
        part = _Part(
            i,
            positions,
            cols,
            pairs,
            reduced.caps,
            levels,
            maximise,
            coefficients if size == len(pairs) else [c[positions] for c in coefficients],
            settings,
            min(deadline, now + max(0.0, deadline - now) * share),
            greedy,
            say,
            plain=plain,
            of_client=of_client,
            # a part that is all the free pairs was checked above with them
            may_bind=known and not plain,
            gathered=(client, unit) if known else None,
            dense=index if known else None,
            regions=part_regions,
        )
        outcomes.append(part.solve())
        pairs_left -= size
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
    given: np.ndarray | None  # global pair positions; None: every pair (see ``positions``)
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
    allow_linked: bool = True
    plain: bool = False  # already known: no cap can bind
    may_bind: bool = False  # already known: some cap could bind (``caps_cannot_bind`` is False)
    dense: DenseIndex | None = None  # already known: assignment_index(client, unit) of this part
    # per level, its coefficient per client when it depends on the client alone
    # (``level_per_client``): indexed by client, so the same for every part
    of_client: list[np.ndarray | None] | None = None
    #: already known: the part's regions (``split_in_regions``), as indices into its pairs
    regions: list[np.ndarray] | None = None
    gathered: tuple[np.ndarray, np.ndarray] | None = None  # already known: (client, unit)

    def __post_init__(self) -> None:
        self.started = time.perf_counter()
        self.n_pairs = len(self.pairs) if self.given is None else len(self.given)
        # the whole: positions are 0..n-1
        self.whole = self.given is None or self.n_pairs == len(self.pairs)
        if self.gathered is not None:
            self.client, self.unit = self.gathered
        else:
            self.client = self.pairs.client if self.whole else self.pairs.client[self.given]
            self.unit = self.pairs.unit if self.whole else self.pairs.unit[self.given]
        # (clients, units), once known
        self._counts = None if self.dense is None else (self.dense[0], self.dense[2])

    @functools.cached_property
    def positions(self) -> np.ndarray:
        """Global pair positions of this part; for every pair spelt out only when a path
        needs them (a plain assignment of the whole does not)."""
        return np.arange(len(self.pairs)) if self.given is None else self.given

    def global_positions(self, local: np.ndarray) -> np.ndarray:
        return local if self.whole else self.positions[local]

    @property
    def greedy(self) -> np.ndarray:
        return self.all_greedy()[self.positions]

    def solve(self) -> _PartOutcome:
        method = self.settings.method
        if method == "parts" and self.n_pairs > CPSAT_MAX_PAIRS:
            # one CP-SAT model of this part would not fit the memory (as for method cp-sat):
            # solved the way auto solves it, and the note says so (``solve``)
            method = "auto"
        # one integer weight per pair for the levels together (None: it would not fit in int64)
        scale = lexicographic(
            self.coefficients,
            self.maximise,
            self.client,
            self.dense.client_starts if self.dense is not None else None,
            self.of_client,
        )
        picked = None
        if (
            scale is not None
            and method == "auto"
            and not self.may_bind
            and (self.plain or caps_cannot_bind(self.client, self.unit, self.caps))
        ):
            # 0. only rule 1 binds: a plain assignment (its weights made block by block as the
            #    matrix is written, never all at once)
            index = self.dense or assignment_index(self.client, self.unit)
            self._counts = (index[0], index[2])
            picked = solve_assignment(self.client, self.unit, scale, index)
            if picked is not None:
                return self._proven(picked, "assignment", [self._spent()])
        weight = None if scale is None else scale.weights()
        # 1. a part that only a few caps hold together: region by region, budgets, bound
        if weight is not None and method in ("auto", "lp") and self.linkable:
            linked = self._linked(weight)
            if linked is not None:
                return linked
        # 2. the nested flow, exact whenever its answer meets every other cap
        if weight is not None and method == "auto":
            # the first level counts placements: a maximum flow with the lower levels' costs
            first = scale.level_weights[0] if self.levels[0] == "placed" else None
            picked = self._flow_by_regions(weight, first)
            if picked is not None and _meets(self.caps, self.client[picked], self.unit[picked]):
                return self._proven(picked, "flow", [self._spent()])

        if method == "parts":
            return self._cpsat()
        # 3. the LP relaxation with every rule: first once with the lexicographic weights, proven
        #    by its dual bound when the vertex is integral, else level by level
        if weight is not None:
            # the flow's pairs alone as first columns: the pricing adds the rest a few per client
            # (on owned-province instances 1.3-1.6x faster than with each client's 6 best pairs too)
            combined = solve_lp_combined(
                self.client,
                self.unit,
                self.caps,
                weight,
                self.deadline,
                start=picked,
                per_client=6 if picked is None else 0,
            )
            if combined.chosen is not None:
                return self._proven(combined.chosen, "lp", [self._spent()])
            if combined.x is not None and combined.bound is not None:
                picked_combined = self._reach_combined(combined, weight)
                if picked_combined is not None:
                    return self._proven(picked_combined, "lp+cp-sat", [self._spent()])
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
            return self._proven(lp.chosen, "lp", lp.seconds, lp.values)

        # 4. whole-number bounds but a fractional vertex: an integer solution reaching every
        #    bound proves itself optimal; look for one among the pairs the LP leaves open
        if lp.free is not None and len(lp.values) == len(self.levels):
            picked = self._reach_bounds(lp)
            if picked is not None:
                return self._proven(picked, "lp+cp-sat", lp.seconds, lp.values)

        # 5. CP-SAT on this part, level by level, with the LP's bounds where it has none
        return self._cpsat(lp.values)

    @property
    def linkable(self) -> bool:
        return self.allow_linked and self.n_pairs >= self.settings.linked_min_pairs

    def _flow_by_regions(
        self, weight: np.ndarray, per_placement: int | None = None
    ) -> np.ndarray | None:
        """The nested flow's optimum (local pair indices), one flow per region: the flow has no
        corporation quota, so the part falls apart into regions for it (complexes and
        municipalities lie in one region) and the union of the regions' optima is the whole
        flow's optimum; several small flows are much faster than one large one.
        ``per_placement``: the first level's weight when that level counts placements (then
        each region's optimum is a maximum flow of least cost, ``solve_flow_most_placed``)."""

        def flow(client, unit, w):
            if per_placement is not None:
                got = solve_flow_most_placed(client, unit, w, self.caps, per_placement)
                if got is not None:
                    return got
            return solve_flow(client, unit, w, self.caps)

        regions = self._regions()
        if len(regions) < 2:
            return flow(self.client, self.unit, weight)
        picked = []
        for local in regions:
            got = flow(self.client[local], self.unit[local], weight[local])
            if got is None:
                return None
            picked.append(local[got])
        return np.sort(np.concatenate(picked))

    def _regions(self) -> list[np.ndarray]:
        """The part's regions (clients and municipalities joined by eligibility alone), as
        indices into its pairs, each ascending; none when its positions are not ascending."""
        if self.regions is not None:
            return self.regions
        ordered = len(self.positions) > 1 and np.all(self.positions[1:] > self.positions[:-1])
        if not ordered:
            return []
        pieces = split(self.cols, self.pairs, self.positions, [])
        return [np.searchsorted(self.positions, piece) for piece in pieces]

    def _spent(self) -> float:
        return time.perf_counter() - self.started

    def _linked(self, weight: np.ndarray) -> _PartOutcome | None:
        """Regions joined only by a few caps: ``allocator.linked``. None when the part is one
        region (or the weights are too large for a proof)."""
        regions = self._regions()
        if len(regions) < 2:
            return None
        region_of_pair = np.empty(self.n_pairs, dtype=np.int64)
        for r, local in enumerate(regions):
            region_of_pair[local] = r
        links = regions_and_links(self.client, self.unit, region_of_pair, self.caps)
        if not links:
            return None
        self.say(f"{len(regions)} regions joined by {len(links)} caps")
        # an unproven outcome is compared with today's practice below: leave the time for it
        computed = getattr(self.all_greedy, "cache_info", None)
        known = computed is not None and computed().currsize > 0
        greedy_seconds = GREEDY_SECONDS_PER_PAIR * len(self.pairs)
        reserve = 0.0 if known else greedy_seconds
        outcome = solve_linked(
            self.client,
            self.unit,
            self.caps,
            weight,
            region_of_pair,
            links,
            self._exact_region,
            self.deadline - reserve,
            self.say,
            flow=solve_flow,
            improve=self._improve_region,
            workers=self.settings.workers,
        )
        log.info(
            "linked: %d regions, %d linking caps, %d rounds, value %d, bound %.1f",
            outcome.regions,
            outcome.linking,
            outcome.rounds,
            outcome.value,
            outcome.bound,
        )
        if outcome.proven:
            return self._proven(outcome.chosen, "regions", [self._spent()])
        if self.n_pairs <= CPSAT_MAX_PAIRS and time.perf_counter() < self.deadline:
            return None  # small enough for the paths that prove a whole part
        chosen, path = outcome.chosen, "regions"
        # today's practice may do better when time ran out far from the bound (within a
        # millionth of it, it cannot pass the allocation found: not worth its seconds)
        late = not known and time.perf_counter() + greedy_seconds > self.deadline
        if outcome.bound - outcome.value > 1e-6 * abs(outcome.bound) and not late:
            fcfs = np.flatnonzero(self.greedy)
            if int(weight[fcfs].sum()) > outcome.value:
                chosen, path = fcfs, "greedy"  # it did better in the time there was
        return self._done(chosen, self._bounded(chosen, outcome.bound), path, False)

    def _exact_region(
        self,
        pos: np.ndarray,
        caps: list[GroupCaps],
        deadline: float,
        x: np.ndarray | None = None,
        bound: float | None = None,
        weight: np.ndarray | None = None,
        quick: bool = False,
    ) -> tuple[np.ndarray, bool]:
        """A region of this part under its own caps, by the ordinary paths; what it returns
        always meets ``caps`` (a fallback that would not is trimmed)."""
        sub = _Part(
            self.index,
            self.positions[pos],
            self.cols,
            self.pairs,
            caps,
            self.levels,
            self.maximise,
            [c[pos] for c in self.coefficients],
            self.settings,
            deadline,
            self.all_greedy,
            self.say,
            allow_linked=False,
            of_client=self.of_client,
        )
        if x is not None and bound is not None and weight is not None:
            # the region's LP vertex is fractional: repair it around the fractional pairs
            picked = sub._reach_combined(LpVertex(x, bound), weight, 0.5 if quick else 2.0)
            if picked is not None:
                return picked, True
            if quick:
                return np.zeros(0, dtype=np.int64), False
        out = sub.solve()
        local = np.searchsorted(self.positions[pos], out.chosen)
        kept = within(caps, self.client[pos], self.unit[pos], local, self.coefficients[0][pos])
        return kept, out.facts.proven and len(kept) == len(local)

    def _improve_region(
        self,
        pos: np.ndarray,
        caps: list[GroupCaps],
        ones: np.ndarray,
        free: np.ndarray,
        weight: np.ndarray,
        at_least: int,
        deadline: float,
        hint: np.ndarray | None = None,
        at_most: int | None = None,
    ) -> tuple[np.ndarray | None, bool]:
        """CP-SAT over a region's ``free`` pairs, the ``ones`` taken: the allocation of largest
        ``weight``, at least ``at_least``; None and True when there is none, None and False
        when nothing was found in time. Proven True when CP-SAT proves its optimum.
        ``at_most``: a proven bound on the region's weight (no allocation is cut off by it),
        so that an allocation reaching it ends the search at once."""
        ones = ones & ~free
        client, unit = self.client[pos], self.unit[pos]
        taken = np.isin(client, client[ones]) | np.isin(unit, unit[ones])
        open_ = np.flatnonzero(free & ~taken)
        left = []
        for cap in caps:
            group = cap.of_pairs(client, unit)
            used = np.bincount(group[ones], minlength=len(cap.left))
            limited = cap.left >= 0
            if np.any(limited & (cap.left < used)):
                return None, False  # the pairs the bound forces in break a cap: no proof
            left.append(cap.with_left(np.where(limited, cap.left - used, -1)))
        if time.perf_counter() + CPSAT_BUILD_SECONDS_PER_PAIR * len(open_) >= deadline:
            return None, False  # the model could not even be built in the time left
        model = cp_model.CpModel()
        variables = AllocationVars.create(model, client[open_], unit[open_])
        one_to_one.add(self.cols, variables)
        for cap in left:
            variables.add_limits(cap.of(variables.client, variables.unit), cap.left)
        gain = variables.total(weight[open_])
        model.add(gain >= at_least - int(weight[ones].sum()))
        if at_most is not None:
            model.add(gain <= at_most - int(weight[ones].sum()))
        model.maximize(gain)
        if hint is not None:  # an allocation of the region (local positions) to start from
            for var, value in zip(variables.x, np.isin(open_, hint).tolist(), strict=True):
                model.add_hint(var, value)
        solver = cp_model.CpSolver()
        for key, value in _parameters(self.settings).items():
            setattr(solver.parameters, key, value)
        # what is left once the model is built (building a large one takes seconds), less the
        # time CP-SAT may take to notice its limit
        remaining = deadline - time.perf_counter() - CPSAT_STOP_SECONDS_PER_PAIR * len(variables.x)
        if remaining <= 0:
            return None, False
        solver.parameters.max_time_in_seconds = remaining
        status = solver.solve(model)
        if status == cp_model.INFEASIBLE:
            return None, True
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None, False
        found = np.asarray(list(solver.response_proto.solution), dtype=bool)[: len(open_)]
        picked = np.sort(np.concatenate([np.flatnonzero(ones), open_[found]]))
        return picked, status == cp_model.OPTIMAL

    def _bounded(self, picked: np.ndarray, bound: float) -> list[LevelFacts]:
        """Level facts of an unproven allocation whose combined weight is at most ``bound``:
        per level, the bound that follows with the earlier levels at the values found."""
        weights, ranges = lexicographic_scale(self.coefficients, self.client)
        values = [int(c[picked].sum()) for c in self.coefficients]
        facts = []
        for j, level in enumerate(self.levels):
            rest = bound - sum(
                (w if up else -w) * v
                for w, up, v in zip(weights[:j], self.maximise[:j], values[:j], strict=True)
            )
            rest += sum(
                w * r
                for w, up, r in zip(
                    weights[j + 1 :], self.maximise[j + 1 :], ranges[j + 1 :], strict=True
                )
                if not up
            )
            level_bound = (
                math.floor(rest / weights[j]) if self.maximise[j] else math.ceil(-rest / weights[j])
            )
            # the bound that needs no solver may be the tighter one
            trivial = self._trivial_bound(j)
            level_bound = (
                min(level_bound, trivial) if self.maximise[j] else max(level_bound, trivial)
            )
            status = (
                "optimal"
                if level_bound == values[j] and all(f.status == "optimal" for f in facts)
                else "feasible"
            )
            facts.append(_level_facts(level, status, values[j], float(level_bound)))
        return facts

    def _cpsat(self, lp_bounds: list[float] | None = None) -> _PartOutcome:
        if self.n_pairs > CPSAT_MAX_PAIRS:
            # one CP-SAT model of this many pairs would not fit the memory or the time
            return self._fallback(lp_bounds)
        # building cannot be interrupted: begun only when it should end within the deadline
        expected = CPSAT_BUILD_SECONDS_PER_PAIR * self.n_pairs
        if time.perf_counter() + expected < self.deadline:
            variables = self._model(np.arange(self.n_pairs), self.caps)
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
                facts = self._with_lp_bounds(np.flatnonzero(current), facts, lp_bounds)
                proven = all(lv.status == "optimal" for lv in facts)
                return self._done(np.flatnonzero(current), facts, "cp-sat", proven)
        return self._fallback(lp_bounds)

    def _trivial_bound(self, j: int) -> float:
        return _no_solver_bound(self.client, self.coefficients[j], self.maximise[j])

    def _fallback(self, lp_bounds: list[float] | None) -> _PartOutcome:
        """Nothing better in time: today's practice for this part, with the LP's bounds."""
        picked = np.flatnonzero(self.greedy)
        facts = [_level_facts(level, "not_solved") for level in self.levels]
        return self._done(picked, self._with_lp_bounds(picked, facts, lp_bounds), "greedy", False)

    def _with_lp_bounds(self, picked, facts, lp_bounds) -> list[LevelFacts]:
        """Fill in values, and bounds from the LP where the solver has none (or a looser one).
        The LP's bound of a level holds the earlier levels at their LP bounds, so it stands only
        while every earlier level reached its bound."""
        lp_bounds = lp_bounds or []
        out = []
        reached = True
        for j, lv in enumerate(facts):
            value = int(self.coefficients[j][picked].sum())
            bound = lv.bound
            if j < len(lp_bounds) and reached:
                tighter = min if self.maximise[j] else max
                bound = lp_bounds[j] if bound is None else tighter(bound, lp_bounds[j])
            if bound is None:
                bound = self._trivial_bound(j)
            status = lv.status if lv.status != "not_solved" else "feasible"
            out.append(_level_facts(lv.level, status, value, bound, lv.wall_seconds))
            integral = (
                None
                if bound is None
                else (math.floor(bound + 1e-9) if self.maximise[j] else math.ceil(bound - 1e-9))
            )
            reached = reached and integral == value
        return out

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
        targets = list(zip(self.coefficients, lp.values, strict=True))
        stages = [(lp.free & self._near_fractional(lp.x), 2.0), (lp.free, None)]
        for movable, seconds in stages:
            picked = self._reach_with(lp.x, targets, movable, seconds)
            if picked is not None:
                return picked
        return None

    def _near_fractional(self, x: np.ndarray) -> np.ndarray:
        fractional = np.abs(x - np.round(x)) > 1e-6
        return (
            fractional
            | np.isin(self.client, self.client[fractional])
            | np.isin(self.unit, self.unit[fractional])
        )

    def _reach_combined(self, combined, weight: np.ndarray, seconds: float = 2.0):
        """The combined LP's vertex is fractional: an integer solution of combined weight
        floor(bound), found among the pairs around the fractional ones, is optimal."""
        target = math.floor(combined.bound)
        return self._reach_with(
            combined.x, [(weight, target)], self._near_fractional(combined.x), seconds
        )

    def _reach_with(
        self, x: np.ndarray, targets, movable: np.ndarray, seconds: float | None
    ) -> np.ndarray | None:
        """Pairs at 1 in ``x`` outside ``movable`` stay; CP-SAT looks among the movable ones
        for a completion whose every ``(coefficients, target)`` total reaches its target."""
        ones = ~movable & (x > 0.5)
        taken_clients = np.isin(self.client, self.client[ones])
        taken_units = np.isin(self.unit, self.unit[ones])
        open_ = np.flatnonzero(movable & ~ones & ~taken_clients & ~taken_units)
        caps = []
        for cap in self.caps:
            group = cap.of_pairs(self.client, self.unit)
            used = np.bincount(group[ones], minlength=len(cap.left))
            limited = cap.left >= 0
            if np.any(limited & (cap.left < used)):
                return None
            caps.append(cap.with_left(np.where(limited, cap.left - used, -1)))
        if time.perf_counter() + CPSAT_BUILD_SECONDS_PER_PAIR * len(open_) >= self.deadline:
            return None  # the model could not even be built in the time left
        variables = self._model(open_, caps)
        for coef, target in targets:
            variables.model.add(variables.total(coef[open_]) == target - int(coef[ones].sum()))
        for var, value in zip(variables.x, (x[open_] > 0.5).tolist(), strict=True):
            variables.model.add_hint(var, value)
        solver = cp_model.CpSolver()
        for key, value in _parameters(self.settings).items():
            setattr(solver.parameters, key, value)
        remaining = self.deadline - time.perf_counter() - CPSAT_STOP_SECONDS_PER_PAIR * len(open_)
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

    def _proven(
        self,
        picked: np.ndarray,
        path: str,
        seconds: list[float],
        bounds: list[float] | None = None,
    ) -> _PartOutcome:
        """A proven optimum. ``bounds``: the LP's dual bound of each level, as computed; without
        them the proof is the relaxation's own optimum (flow, assignment) or a combined bound
        below the next whole weight, and each level's bound is that optimum's value."""
        seconds = list(seconds) + [0.0] * (len(self.levels) - len(seconds))
        facts = []
        for j, level in enumerate(self.levels):
            value = int(self.coefficients[j][picked].sum())
            bound = float(value) if bounds is None else bounds[j]
            facts.append(_level_facts(level, "optimal", value, bound, seconds[j]))
        return self._done(picked, facts, path, True)

    def _done(self, picked, facts, path, proven) -> _PartOutcome:
        return _PartOutcome(
            self.global_positions(picked),
            facts,
            PartFacts(
                part=self.index,
                clients=self._counts[0] if self._counts else count_distinct(self.client),
                units=self._counts[1] if self._counts else count_distinct(self.unit),
                pairs=self.n_pairs,
                path=path,
                proven=proven,
                seconds=round(time.perf_counter() - self.started, 4),
            ),
        )


def _meets(caps: list[GroupCaps], client: np.ndarray, unit: np.ndarray) -> bool:
    """Whether the chosen pairs keep within every cap row."""
    for cap in caps:
        used = np.bincount(cap.of_pairs(client, unit), minlength=len(cap.left))
        if np.any((cap.left >= 0) & (used > cap.left)):
            return False
    return True
