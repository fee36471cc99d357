"""An independent MIP of the allocation contract, solved by HiGHS through OR-Tools MathOpt.

This is a second opinion on the CP-SAT optimiser (``allocator.solver``), written straight from
the contract in DOMAIN.md rather than from the rule modules' CP-SAT code:

- one binary variable per eligible client–unit pair; by default eligibility (rules 2-7) is
  tested pair by pair with the rules' plain ``allows`` functions, not with the vectorised numpy
  masks the CP-SAT path uses (``pairs`` lets a caller pass a pair list instead, for instances too
  large to test N × M pairs one by one);
- rule 1: at most one unit per client and one client per unit;
- rule 8: placements per municipality (the unit's complex's municipality) <= its quota;
- rule 9: placements per corporation <= its quota, where set;
- rule 10: placements per complex <= its room,
  max(0, floor(share × units_total) − vulnerable_residents), the floor exact
  (``models.mix_cap``: the share read as the decimal it was written as, no float epsilon);
- rule 11: pinned pairs are fixed to 1;
- rule 12: per complex and capped target group g, placements of g-clients <=
  max(0, floor(share_g × units_total) − group_residents[g]), the same exact floor;
- rule 13: per staircase of a complex with max_vulnerable_per_staircase, placements <=
  max(0, max − staircase_vulnerable_residents[s]); units without a staircase are free;
- rule 14: placements in the complexes of a neighbourhood <= its quota;
- rule 15: a client with a support provider only in the provider's municipalities (tested per
  pair here, beside rules 2-7), and per provider and municipality, its clients there <= places.
Rules 12-15 are written here from DOMAIN.md, sharing no code with the rule modules. The one
thing shared is the cap formula floor(share × units_total) of rules 10 and 12: one definition
(``models.mix_cap``, exact), which the boundary tables of tests/test_rule_boundaries.py check
against DOMAIN.md's wording; a second, float copy here once read 0.2999999999 × 10 as 3.

The objective is lexicographic over ``instance.policy.objective``: each level is optimised with
the earlier levels held at their value (an equality when that level was proven optimal, a one-sided
bound when the time ran out with a solution). Every level has integer coefficients, so the relative
gap is switched off and an absolute gap below 1 proves a level optimal; values are rounded to
integers before they are fixed, and the fixing rows are widened by 0.5 so that HiGHS's feasibility
tolerances cannot cut off the value just found.

The model is written as a MathOpt ``ModelProto`` from numpy arrays, which is much faster than adding
millions of variables one Python call at a time.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from allocator import rules
from allocator.models import LEVEL_SENSE, Instance, ObjectiveValues, mix_cap
from allocator.validator import check_pinned

Pair = tuple[str, str]

# Every objective level has integer coefficients: a gap below 1 proves optimality.
_ABSOLUTE_GAP = 0.5


@dataclass
class MipLevel:
    """How one objective level went."""

    level: str
    status: str  # "optimal", "feasible" (time-out with a solution), "not_solved"
    value: int | None
    bound: float | None
    seconds: float
    termination: str = ""


@dataclass
class MipResult:
    assignments: list[Pair]
    #: None when HiGHS found no solution within the time limit.
    objective: ObjectiveValues | None
    #: True only when every level was proven optimal.
    proven: bool
    levels: list[MipLevel] = field(default_factory=list)
    eligible_pairs: int = 0
    eligibility_seconds: float = 0.0
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.objective is None:
            return "no solution"
        return "optimal" if self.proven else "feasible"


class MipInfeasible(Exception):
    """HiGHS proved the model infeasible (only possible with inconsistent pinned pairs)."""


def plain_eligible_pairs(instance: Instance) -> list[Pair]:
    """Every (client, unit) pair that rules 2-7 and 15 allow, tested one by one."""
    old_rules = [r for r in rules.eligibility() if r.number <= 7]
    return [
        (client.id, unit.id)
        for client in instance.clients
        for unit in instance.units
        if all(rule.allows(instance, client, unit) for rule in old_rules)
        and _support_allows(instance, client.support_provider_id, unit)
    ]


def _support_allows(instance: Instance, provider_id: str | None, unit) -> bool:
    """Rule 15, first half: only in a municipality the client's provider lists."""
    if provider_id is None:
        return True
    provider = next(p for p in instance.support_providers if p.id == provider_id)
    municipality = instance.complex(unit.complex_id).municipality_id
    return any(c.municipality_id == municipality for c in provider.capacity)


def _rules_12_to_15(instance: Instance, pairs: list[Pair]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rules 12-15 as (group of each pair, limit per group; inf = no limit), from the contract."""
    inf = math.inf
    families = []
    # rule 12: (complex, target group)
    keys12: dict[tuple[str, str], int] = {}
    limits12: list[float] = []
    group12 = []
    for client_id, unit_id in pairs:
        cx = instance.complex(instance.unit(unit_id).complex_id)
        g = instance.client(client_id).target_group
        shares = cx.group_max_share or {}
        if g not in shares:
            group12.append(len(pairs) + 10**9)  # placeholder, replaced below
            continue
        key = (cx.id, g)
        if key not in keys12:
            keys12[key] = len(limits12)
            before = (cx.group_residents or {}).get(g, 0)
            limits12.append(float(max(0, mix_cap(shares[g], cx.units_total) - before)))
        group12.append(keys12[key])
    free = len(limits12)
    families.append(
        (
            np.array([g if g < free else free for g in group12], dtype=np.int64),
            np.array([*limits12, inf]),
        )
    )
    # rule 13: (complex, staircase)
    keys13: dict[tuple[str, str], int] = {}
    limits13: list[float] = []
    units13 = []
    for _, unit_id in pairs:
        unit = instance.unit(unit_id)
        cx = instance.complex(unit.complex_id)
        if cx.max_vulnerable_per_staircase is None or unit.staircase_id is None:
            units13.append(None)
            continue
        key = (cx.id, unit.staircase_id)
        if key not in keys13:
            keys13[key] = len(limits13)
            before = (cx.staircase_vulnerable_residents or {}).get(unit.staircase_id, 0)
            limits13.append(float(max(0, cx.max_vulnerable_per_staircase - before)))
        units13.append(keys13[key])
    families.append(
        (
            np.array([len(limits13) if k is None else k for k in units13], dtype=np.int64),
            np.array([*limits13, inf]),
        )
    )
    # rule 14: neighbourhood of the unit's complex
    nbs = {nb.id: k for k, nb in enumerate(instance.neighbourhoods)}
    group14 = [
        nbs.get(instance.complex(instance.unit(u).complex_id).neighbourhood_id, len(nbs))
        for _, u in pairs
    ]
    families.append(
        (
            np.array(group14, dtype=np.int64),
            np.array([float(nb.quota) for nb in instance.neighbourhoods] + [inf]),
        )
    )
    # rule 15, second half: (provider, municipality)
    keys15: dict[tuple[str, str], int] = {}
    limits15: list[float] = []
    for provider in instance.support_providers:
        for c in provider.capacity:
            keys15[(provider.id, c.municipality_id)] = len(limits15)
            limits15.append(float(c.places))
    group15 = []
    for client_id, unit_id in pairs:
        provider_id = instance.client(client_id).support_provider_id
        municipality = instance.complex(instance.unit(unit_id).complex_id).municipality_id
        group15.append(keys15.get((provider_id, municipality), len(limits15)))
    families.append((np.array(group15, dtype=np.int64), np.array([*limits15, inf])))
    return families


def mix_room(instance: Instance, complex_id: str) -> int:
    """Rule 10: placements the complex may still take."""
    cx = instance.complex(complex_id)
    share = (
        cx.max_vulnerable_share
        if cx.max_vulnerable_share is not None
        else instance.policy.max_vulnerable_share
    )
    return max(0, mix_cap(share, cx.units_total) - cx.vulnerable_residents)


@dataclass
class _Structure:
    """The pair variables and rules 1, 8-11 as arrays, ready to be written into a ModelProto."""

    pairs: list[Pair]
    lower: np.ndarray  # per variable: 1.0 for pinned pairs, else 0.0
    row_lower: list[float]
    row_upper: list[float]
    entry_row: np.ndarray
    entry_col: np.ndarray
    coefficients: dict[str, np.ndarray]  # per objective level, per variable


def _build(instance: Instance, pairs: list[Pair]) -> _Structure:
    clients = {c.id: i for i, c in enumerate(instance.clients)}
    units = {u.id: j for j, u in enumerate(instance.units)}
    n = len(pairs)
    client_of = np.fromiter((clients[c] for c, _ in pairs), dtype=np.int64, count=n)
    unit_of = np.fromiter((units[u] for _, u in pairs), dtype=np.int64, count=n)

    municipalities = {m.id: k for k, m in enumerate(instance.municipalities)}
    corporations = {c.id: k for k, c in enumerate(instance.corporations)}
    complexes = {c.id: k for k, c in enumerate(instance.complexes)}
    unit_muni = np.array(
        [municipalities[instance.complex(u.complex_id).municipality_id] for u in instance.units],
        dtype=np.int64,
    )
    unit_corp = np.array([corporations[u.corporation_id] for u in instance.units], dtype=np.int64)
    unit_cx = np.array([complexes[u.complex_id] for u in instance.units], dtype=np.int64)

    inf = math.inf
    # (group of each pair, limit per group; inf = no limit)
    families = [
        # rule 1
        (client_of, np.ones(len(instance.clients))),
        (unit_of, np.ones(len(instance.units))),
        # rule 8
        (unit_muni[unit_of], np.array([float(m.quota) for m in instance.municipalities])),
        # rule 9
        (
            unit_corp[unit_of],
            np.array([inf if c.quota is None else float(c.quota) for c in instance.corporations]),
        ),
        # rule 10
        (unit_cx[unit_of], np.array([float(mix_room(instance, c.id)) for c in instance.complexes])),
        # rules 12-15
        *_rules_12_to_15(instance, pairs),
    ]
    row_upper: list[float] = []
    rows_parts, cols_parts = [], []
    columns = np.arange(n, dtype=np.int64)
    for group, limit in families:
        count = np.bincount(group, minlength=len(limit))
        binding = count > limit  # a group with no more pairs than its limit needs no row
        row_of_group = np.full(len(limit), -1, dtype=np.int64)
        row_of_group[binding] = len(row_upper) + np.arange(int(binding.sum()))
        row_upper.extend(limit[binding].tolist())
        row = row_of_group[group]
        keep = row >= 0
        rows_parts.append(row[keep])
        cols_parts.append(columns[keep])
    entry_row = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int64)
    entry_col = np.concatenate(cols_parts) if cols_parts else np.zeros(0, dtype=np.int64)

    # rule 11
    lower = np.zeros(n)
    position = {pair: p for p, pair in enumerate(pairs)}
    for pin in instance.pinned:
        p = position.get((pin.client_id, pin.unit_id))
        if p is None:
            raise ValueError(
                f"pinned pair client {pin.client_id} / unit {pin.unit_id} is not an eligible pair"
            )
        lower[p] = 1.0

    waiting = np.array([instance.waiting_days(c) for c in instance.clients], dtype=np.int64)
    chance = {(e.client_id, e.unit_id): e.probability for e in instance.acceptance}
    rank = np.fromiter(
        (
            instance.preference_rank(
                instance.client(c), instance.complex(instance.unit(u).complex_id).municipality_id
            )
            for c, u in pairs
        ),
        dtype=np.int64,
        count=n,
    )
    return _Structure(
        pairs=pairs,
        lower=lower,
        row_lower=[-inf] * len(row_upper),
        row_upper=row_upper,
        entry_row=entry_row,
        entry_col=entry_col,
        coefficients={
            "placed": np.ones(n, dtype=np.int64),
            "waiting_days": waiting[client_of],
            "rank_sum": rank,
            # thousandths of the acceptance chance, 1000 for a pair without an estimate
            "expected_acceptance": np.array(
                [round(1000 * chance.get(pair, 1.0)) for pair in pairs], dtype=np.int64
            ),
        },
    )


def _model(s: _Structure, level: str, fixed: list[tuple[str, float, float]]) -> mathopt.Model:
    """The model with ``level`` as objective and each ``fixed`` (level, lb, ub) as a row."""
    n = len(s.pairs)
    proto = model_pb2.ModelProto(name="allocation")
    ids = np.arange(n, dtype=np.int64)
    v = proto.variables
    v.ids.extend(ids.tolist())
    v.lower_bounds.extend(s.lower.tolist())
    v.upper_bounds.extend([1.0] * n)
    v.integers.extend([True] * n)

    lows, ups = list(s.row_lower), list(s.row_upper)
    rows, cols, coefs = [s.entry_row], [s.entry_col], [np.ones(len(s.entry_row))]
    for fixed_level, lb, ub in fixed:
        c = s.coefficients[fixed_level]
        nz = np.flatnonzero(c)
        rows.append(np.full(len(nz), len(lows), dtype=np.int64))
        cols.append(nz)
        coefs.append(c[nz].astype(float))
        lows.append(lb)
        ups.append(ub)
    lc = proto.linear_constraints
    lc.ids.extend(range(len(lows)))
    lc.lower_bounds.extend(lows)
    lc.upper_bounds.extend(ups)
    row, col, coef = np.concatenate(rows), np.concatenate(cols), np.concatenate(coefs)
    order = np.lexsort((col, row))  # MathOpt wants row-major order
    m = proto.linear_constraint_matrix
    m.row_ids.extend(row[order].tolist())
    m.column_ids.extend(col[order].tolist())
    m.coefficients.extend(coef[order].tolist())

    c = s.coefficients[level]
    nz = np.flatnonzero(c)
    proto.objective.maximize = LEVEL_SENSE[level] == "max"
    proto.objective.linear_coefficients.ids.extend(nz.tolist())
    proto.objective.linear_coefficients.values.extend(c[nz].astype(float).tolist())
    return mathopt.Model.from_model_proto(proto)


def _set_highs_options(
    params: mathopt.SolveParameters, options: dict[str, bool | int | float | str]
) -> None:
    for name, value in options.items():
        if isinstance(value, bool):
            params.highs.bool_options[name] = value
        elif isinstance(value, int):
            params.highs.int_options[name] = value
        elif isinstance(value, float):
            params.highs.double_options[name] = value
        else:
            params.highs.string_options[name] = str(value)


def solve_mip(
    instance: Instance,
    time_limit_seconds: float = 120.0,
    pairs: list[Pair] | None = None,
    *,
    log: bool = False,
    highs_options: dict[str, bool | int | float | str] | None = None,
) -> MipResult:
    """The lexicographic optimum by HiGHS, or the best found within ``time_limit_seconds``.

    The time limit covers eligibility, model building and every level together; HiGHS's own
    clock starts only once MathOpt has handed it the model, so on very large models the wall time
    can run past the limit. ``pairs`` (client_id, unit_id) replaces the per-pair eligibility test
    and is trusted as given. ``highs_options`` are passed to HiGHS by name (for example
    ``{"presolve": "off"}``). Raises ``InstanceError`` when a pinned pair breaks a rule and
    ``ValueError`` when a pinned pair is missing from ``pairs``.
    """
    check_pinned(instance)
    started = time.perf_counter()
    deadline = started + time_limit_seconds
    if pairs is None:
        pairs = plain_eligible_pairs(instance)
    else:
        pairs = list(dict.fromkeys((str(c), str(u)) for c, u in pairs))  # once each
    eligibility_seconds = time.perf_counter() - started

    t = time.perf_counter()
    s = _build(instance, pairs)
    build_seconds = time.perf_counter() - t

    result = MipResult(
        assignments=[],
        objective=None,
        proven=False,
        eligible_pairs=len(pairs),
        eligibility_seconds=round(eligibility_seconds, 4),
    )
    # best 0/1 vector so far; with no pairs at all the empty allocation is the proven optimum
    current: np.ndarray | None = None if pairs else np.zeros(0, dtype=bool)
    fixed: list[tuple[str, float, float]] = []
    solve_seconds = 0.0
    for level in instance.policy.objective if pairs else []:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            result.levels.append(MipLevel(level, "not_solved", None, None, 0.0, "time limit"))
            continue
        t = time.perf_counter()
        model = _model(s, level, fixed)
        build_seconds += time.perf_counter() - t
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            result.levels.append(MipLevel(level, "not_solved", None, None, 0.0, "time limit"))
            continue
        params = mathopt.SolveParameters(
            time_limit=dt.timedelta(seconds=remaining),
            relative_gap_tolerance=0.0,
            absolute_gap_tolerance=_ABSOLUTE_GAP,
            enable_output=log,
        )
        _set_highs_options(params, highs_options or {})
        model_params = None
        if current is not None:
            # a complete hint: HiGHS takes it as it is instead of completing a partial one
            hint = {
                model.get_variable(p): value
                for p, value in enumerate(current.astype(float).tolist())
            }
            model_params = mathopt.ModelSolveParameters(
                solution_hints=[mathopt.SolutionHint(variable_values=hint)]
            )
        t = time.perf_counter()
        answer = mathopt.solve(
            model, mathopt.SolverType.HIGHS, params=params, model_params=model_params
        )
        wall = time.perf_counter() - t
        solve_seconds += wall
        reason = answer.termination.reason
        detail = f"{reason.name}: {answer.termination.detail}".strip()
        if reason in (
            mathopt.TerminationReason.INFEASIBLE,
            mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED,
        ):
            raise MipInfeasible(f"level {level}: {detail}")
        coefficients = s.coefficients[level]
        if answer.has_primal_feasible_solution():
            x = np.zeros(len(pairs))
            for var, val in answer.variable_values().items():
                x[var.id] = val
            chosen = x > 0.5
            value = int(coefficients[chosen].sum())
            if abs(value - answer.objective_value()) > 0.5:
                result.notes.append(
                    f"level {level}: rounded value {value} differs from HiGHS's "
                    f"{answer.objective_value()}"
                )
            current = chosen
            optimal = reason == mathopt.TerminationReason.OPTIMAL
            bound = answer.termination.objective_bounds.dual_bound
            result.levels.append(
                MipLevel(
                    level,
                    "optimal" if optimal else "feasible",
                    value,
                    float(bound),
                    round(wall, 4),
                    detail,
                )
            )
            maximise = LEVEL_SENSE[level] == "max"
            # Integer-valued levels: widening by 0.5 keeps exactly the integer ``value``.
            if optimal:
                fixed.append((level, value - 0.5, value + 0.5))
            elif maximise:
                fixed.append((level, value - 0.5, math.inf))
            else:
                fixed.append((level, -math.inf, value + 0.5))
        else:
            result.levels.append(MipLevel(level, "not_solved", None, None, round(wall, 4), detail))
    result.solve_seconds = round(solve_seconds, 4)
    result.build_seconds = round(build_seconds, 4)
    if current is not None:
        chosen_positions = np.flatnonzero(current).tolist()
        result.assignments = [pairs[p] for p in chosen_positions]
        values = {
            lv: int(s.coefficients[lv][current].sum())
            for lv in LEVEL_SENSE
            if lv != "expected_acceptance" or lv in instance.policy.objective
        }
        result.objective = ObjectiveValues(**values)
        result.proven = all(lv.status == "optimal" for lv in result.levels)
    return result
