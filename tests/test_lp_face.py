"""A fractional LP optimum: an integral vertex searched on the optimal face (``whole_vertex``).

The combined LP of a part with crossing caps (corporation quotas across municipalities) can stop
at a fractional vertex although an integral optimum exists; the search re-solves on the face of
optima. It must only ever return an allocation that meets every row and reaches the LP bound:
checked against HiGHS's MIP on a generated instance where the vertex does come out fractional,
and on the triangle, whose LP optimum no integral allocation reaches.
"""

from __future__ import annotations

import time

import numpy as np

from allocator.columns import build_columns
from allocator.decompose import settle_pinned
from allocator.eligibility import eligible_pairs
from allocator.flow import lexicographic_weights
from allocator.generator import generate
from allocator.lp import ColumnLp, solve_lp_combined
from allocator.mip import solve_mip
from allocator.models import LEVEL_SENSE
from allocator.solver import SolverSettings, level_coefficients, solve
from allocator.validator import validate
from tests.test_paths import triangle


def _combined_inputs(instance):
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    caps = settle_pinned(cols, pairs).caps
    levels = list(instance.policy.objective)
    coefficients = [level_coefficients(level, cols, pairs) for level in levels]
    maximise = [LEVEL_SENSE[level] == "max" for level in levels]
    weight = lexicographic_weights(coefficients, maximise, pairs.client)
    return pairs, caps, weight


def test_the_face_search_turns_a_fractional_optimum_into_the_mip_optimum():
    # found by scanning seeds: with each client's 2 best pairs first, its LP (column generation
    # as it is now) stops at a fractional vertex; if the pricing changes, scan again
    instance = generate(100, 300, 8, 3, national_corporations=2, national_share=0.15)
    pairs, caps, weight = _combined_inputs(instance)
    lp = ColumnLp(pairs.client, pairs.unit, caps)
    lp.seed(weight.astype(float), None, 2)
    x = lp.solve(-weight.astype(float), time.perf_counter() + 30)
    assert np.abs(x - np.round(x)).max() > 1e-6  # the case this is about
    bound = lp.upper_bound(weight.astype(float))

    whole = lp.whole_vertex(x, time.perf_counter() + 30)

    assert whole is not None
    assert set(np.unique(whole).tolist()) <= {0.0, 1.0}
    assert np.all(lp.a @ whole <= lp.b)
    value = int(weight[whole > 0.5].sum())
    assert value + 1 > bound  # reaches the LP bound: optimal
    # HiGHS's MIP agrees with that value, and with the solver's answer on the instance
    solution = solve(instance, SolverSettings(time_limit_seconds=60))
    mip = solve_mip(instance, time_limit_seconds=120)
    assert solution.proven and mip.proven
    assert solution.objective == mip.objective
    assert validate(instance, solution.assignments) == []
    assert int(weight[solution.chosen].sum()) == value


def test_no_integral_allocation_reaches_the_triangle_bound_and_none_is_claimed():
    pairs, caps, weight = _combined_inputs(triangle())
    outcome = solve_lp_combined(pairs.client, pairs.unit, caps, weight, time.perf_counter() + 10)
    # the LP takes every pair by half; an integral allocation takes one pair, far below the
    # bound: nothing is proven here
    assert outcome.chosen is None
    assert outcome.bound is not None and outcome.bound >= weight.sum() / 2 - 1e-6
    assert outcome.bound > weight.max() + 1


def test_on_a_face_of_whole_vertices_a_whole_one_is_returned():
    # two clients, two units, every pair worth the same: the half-half point is optimal too
    client, unit = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    lp = ColumnLp(client, unit, [])
    lp.seed(np.ones(4), None, 2)
    lp.solve(-np.ones(4), time.perf_counter() + 10)
    whole = lp.whole_vertex(np.full(4, 0.5), time.perf_counter() + 10)
    assert whole is not None and whole.sum() == 2
    assert np.all(lp.a @ whole <= lp.b)


def test_lazy_cap_rows_give_the_same_optimum_bound_and_held_levels():
    # rows entering only once they could bind: the same LP, so the same optima, level by level
    instance = generate(100, 300, 8, 3, national_corporations=2, national_share=0.15)
    pairs, caps, weight = _combined_inputs(instance)
    cols = build_columns(instance)
    levels = list(instance.policy.objective)
    coefficients = [level_coefficients(level, cols, pairs) for level in levels]
    maximise = [LEVEL_SENSE[level] == "max" for level in levels]
    answers = []
    for lazy in (False, True):
        lp = ColumnLp(pairs.client, pairs.unit, caps, lazy_rows=lazy)
        lp.seed(weight.astype(float), None, 2)
        got = []
        for coef, up in zip(coefficients, maximise, strict=True):
            cost = (-coef if up else coef).astype(float)
            x = lp.solve(cost, time.perf_counter() + 30)
            assert np.all(lp.a @ x <= lp.b + 1e-6)  # every cap row, in HiGHS or not
            low = lp.lower_bound(cost)
            got.append((round(float(cost @ x), 3), round(low, 3)))
            lp.hold(coef, up, int(np.floor(-low + 1e-9)) if up else int(np.ceil(low - 1e-9)))
        answers.append(got)
        if lazy:
            assert lp.n_highs_rows - len(coefficients) < lp.n_rows  # some rows never came in
    assert answers[0] == answers[1]
