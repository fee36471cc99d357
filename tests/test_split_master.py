"""The integer split master (``allocator.split_master``) against enumeration of every whole
split, on region value tables drawn at random: what it knows (cuts and exact points) is made
from the tables here, and the true optimum is the best over all splits by brute force."""

from __future__ import annotations

import itertools
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.split_master import RegionKnowledge, solve_master


def _table(draw, quota: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A region's value under every budget vector: whole, >= 0, never less with more budget
    (a larger budget only allows more allocations), and no more beyond the most the region
    could use of each limit (drawn too, and returned)."""
    shape = tuple(q + 1 for q in quota)
    steps = np.array(
        draw(
            st.lists(st.integers(0, 50), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
        ),
        dtype=np.int64,
    )
    table = steps.reshape(shape)
    for axis in range(len(quota)):
        table = np.maximum.accumulate(table, axis=axis)
    most = np.array([draw(st.integers(0, q + 1)) for q in quota], dtype=np.int64)
    index = np.ix_(*(np.minimum(np.arange(q + 1), m) for q, m in zip(quota, most, strict=True)))
    return table[index], most


@st.composite
def cases(draw):
    n_links = draw(st.integers(1, 2))
    quota = tuple(draw(st.integers(0, 3)) for _ in range(n_links))
    n_regions = draw(st.integers(1, 4))
    drawn = [_table(draw, quota) for _ in range(n_regions)]
    tables, most = [t for t, _ in drawn], [m for _, m in drawn]
    prices = [
        np.array(draw(st.lists(st.integers(0, 40), min_size=n_links, max_size=n_links)), float)
        for _ in range(draw(st.integers(0, 3)))
    ]
    known = [draw(st.lists(st.booleans(), min_size=t.size, max_size=t.size)) for t in tables]
    return np.array(quota, dtype=np.int64), tables, prices, known, most


def _budgets(quota: np.ndarray):
    return list(itertools.product(*(range(int(q) + 1) for q in quota)))


def _knowledge(quota, tables, prices, known, most) -> list[RegionKnowledge]:
    """Cuts as a Lagrangian dual gives them (D = max_b v(b) - lam·b, valid for every b, with a
    flat one at lam = 0) and, where ``known``, the exact value as a point."""
    out = []
    for table, mask, m in zip(tables, known, most, strict=True):
        budgets = _budgets(quota)
        cuts = [(float(table.max()), np.zeros(len(quota)))]
        for lam in prices:
            cuts.append((max(float(table[b]) - float(lam @ np.array(b)) for b in budgets), lam))
        points = {b: int(table[b]) for b, k in zip(budgets, mask, strict=True) if k}
        out.append(RegionKnowledge(cuts, points, m))
    return out


def _best_split(quota, tables) -> int:
    best = 0
    for split in itertools.product(_budgets(quota), repeat=len(tables)):
        if np.all(np.sum(np.array(split).reshape(len(tables), -1), axis=0) <= quota):
            best = max(best, sum(int(t[b]) for t, b in zip(tables, split, strict=True)))
    return best


@settings(max_examples=60, deadline=None)
@given(cases())
def test_the_master_never_bounds_below_the_best_split(case) -> None:
    quota, tables, prices, known, most = case
    answer = solve_master(
        _knowledge(quota, tables, prices, known, most), quota, time.perf_counter() + 30
    )
    assert answer is not None and answer.proven
    assert answer.bound >= _best_split(quota, tables)
    assert np.all(answer.split.sum(axis=0) <= quota) and np.all(answer.split >= 0)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_with_every_point_known_the_master_is_the_best_split(case) -> None:
    quota, tables, prices, _known, most = case
    everything = [[True] * t.size for t in tables]
    answer = solve_master(
        _knowledge(quota, tables, prices, everything, most), quota, time.perf_counter() + 30
    )
    best = _best_split(quota, tables)
    assert answer is not None and answer.proven and answer.bound == best
    reached = sum(int(t[tuple(b)]) for t, b in zip(tables, answer.split.tolist(), strict=True))
    assert reached == best


def test_two_regions_sharing_one_placement_the_lp_cannot_split() -> None:
    """Two regions each worth 10 with the one unit of a limit of 1 and 0 without: the cuts
    alone (at price 0 and 5) allow 15 over either whole split, as over the LP's half-half one;
    with the regions' exact values at budgets 0 and 1 the master says 10, the best split."""
    quota = np.array([1])
    tables = [np.array([0, 10]), np.array([0, 10])]
    cuts = [(10.0, np.zeros(1)), (5.0, np.array([5.0]))]
    regions = [RegionKnowledge(list(cuts), {(0,): 0, (1,): 10}) for _ in tables]
    answer = solve_master(regions, quota, time.perf_counter() + 30)
    assert answer is not None and answer.proven and answer.bound == 10
    # without the points, only the cuts: 5 + 5·b per region, at most 15 over any whole split
    loose = solve_master(
        [RegionKnowledge(list(cuts), {}) for _ in tables], quota, time.perf_counter() + 30
    )
    assert loose is not None and loose.bound == 15


@settings(max_examples=40, deadline=None)
@given(cases(), st.integers(0, 3), st.randoms(use_true_random=False))
def test_near_a_split_the_master_keeps_within_the_radius(case, radius, rnd) -> None:
    quota, tables, prices, known, most = case
    # a whole split to stay near: each limit's budget handed out region by region at random
    hint = np.zeros((len(tables), len(quota)), dtype=np.int64)
    for k, q in enumerate(quota.tolist()):
        for _ in range(q):
            hint[rnd.randrange(len(tables)), k] += 1
    answer = solve_master(
        _knowledge(quota, tables, prices, known, most),
        quota,
        time.perf_counter() + 30,
        hint,
        radius,
    )
    assert answer is not None and answer.proven
    # beyond what a region can use is worth nothing, and a region worth its most with no
    # budget (and known to be) gets none: the master counts the radius from there
    start = np.minimum(hint, np.array(most))
    for r, (table, mask) in enumerate(zip(tables, known, strict=True)):
        if mask[0] and table.flat[0] == table.max():
            start[r] = 0
    assert int(np.abs(answer.split - start).sum()) <= radius
    assert np.all(answer.split.sum(axis=0) <= quota)
    best_near = max(
        sum(int(t[b]) for t, b in zip(tables, split, strict=True))
        for split in itertools.product(_budgets(quota), repeat=len(tables))
        if np.all(np.sum(np.array(split).reshape(len(tables), -1), axis=0) <= quota)
        and int(np.abs(np.array(split).reshape(len(tables), -1) - start).sum()) <= radius
    )
    assert answer.bound >= best_near


@settings(max_examples=40, deadline=None)
@given(cases(), st.one_of(st.none(), st.integers(0, 3)), st.randoms(use_true_random=False))
def test_the_hinted_split_is_a_whole_solution_of_the_master(case, radius, rnd) -> None:
    """The hint names every variable at a value meeting every row: CP-SAT told to keep each
    hinted value finds it a solution (an incomplete or wrong hint left the nine-limit master of
    owned-stress with no split at all)."""
    from ortools.sat.python import cp_model

    from allocator.split_master import SplitMaster

    quota, tables, prices, known, most = case
    hint = np.zeros((len(tables), len(quota)), dtype=np.int64)
    for k, q in enumerate(quota.tolist()):
        for _ in range(rnd.randint(0, q)):
            hint[rnd.randrange(len(tables)), k] += 1
    master = SplitMaster(_knowledge(quota, tables, prices, known, most), quota)
    model = master.model
    if radius is not None:  # as ``solve`` asks near a split: on a copy with the radius
        answer = master.solve(time.perf_counter() + 30, hint, radius)
        assert answer is not None
    model.clear_hints()
    master._hint(model, hint)
    hinted = {int(v) for v in model.proto.solution_hint.vars}
    assert hinted == set(range(len(model.proto.variables)))
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    solver.parameters.cp_model_presolve = False
    assert solver.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
