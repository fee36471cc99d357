"""The LP's dual bound (``ColumnLp.upper_bound``) against independent optima: it is never below
the best integer allocation, and with whole weights of about 10^10 per placement (the combined
lexicographic weights of a national instance) it reaches the optimum exactly, to the unit, where
the LP does (issue 12: the float evaluation's margin alone left owned-national unproven)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import csr_matrix

from allocator.decompose import GroupCaps
from allocator.lp import ColumnLp

#: about the weight of one placement in the owned-national instance's combined weights
PLACEMENT = 34_936_376_181


def dense_pairs(n_clients: int, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    client, unit = np.divmod(np.arange(n_clients * n_units), n_units)
    return client.astype(np.int64), unit.astype(np.int64)


def bound_of(client, unit, caps, weight) -> float:
    lp = ColumnLp(client, unit, caps)
    lp.seed(weight.astype(float), None, 6)
    x = lp.solve(-weight.astype(float), time.perf_counter() + 60)
    assert x is not None
    return lp.upper_bound(weight.astype(float))


def no_caps(n_units: int) -> list[GroupCaps]:
    # one unlimited group: no cap row, only one unit per client and one client per unit
    return [GroupCaps(9, np.zeros(n_units, dtype=np.int64), np.array([-1]))]


@pytest.mark.parametrize("seed", range(3))
def test_bound_reaches_the_assignment_optimum_with_national_size_weights(seed: int) -> None:
    """An assignment's LP is integral, so its optimum is the integer one (scipy's
    ``linear_sum_assignment``, independent): the bound must not exceed it by a whole unit.
    Units of three kinds that each client ranks alike make many ties (pairs of reduced cost
    0), each of which cost the float evaluation a margin: 1.2 units here (failed before)."""
    rng = np.random.default_rng(seed)
    n = 200
    client, unit = dense_pairs(n, n)
    # placed, then waiting days, then minus the preference rank, as the combined weight has it
    waiting = rng.integers(0, 3000, n)[client]
    rank = rng.integers(1, 4, (n, 3))[client, unit % 3]
    weight = PLACEMENT + waiting * 10_007 - rank
    matrix = weight.reshape(n, n)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    optimum = int(matrix[rows, cols].sum())
    bound = bound_of(client, unit, no_caps(n), weight)
    assert optimum <= bound < optimum + 1


@pytest.mark.parametrize("seed", range(8))
def test_bound_with_caps_is_never_below_the_integer_optimum(seed: int) -> None:
    """With group caps (rows that break the assignment structure, so the LP may be fractional
    and its duals need not be whole) the bound still holds against scipy's MIP."""
    rng = np.random.default_rng(100 + seed)
    n_clients, n_units, n_groups = 12, 15, 4
    client, unit = dense_pairs(n_clients, n_units)
    keep = rng.random(len(client)) < 0.6
    client, unit = client[keep], unit[keep]
    group_of_unit = rng.integers(0, n_groups, n_units)
    left = rng.integers(0, 4, n_groups)
    caps = [GroupCaps(8, group_of_unit, left)]
    big = PLACEMENT if seed % 2 else 1000
    weight = big + rng.integers(0, 50, len(client)) * (1 + seed % 3)
    bound = bound_of(client, unit, caps, weight)

    n = len(client)
    rows = [(client == c).astype(float) for c in range(n_clients)]
    rows += [(unit == u).astype(float) for u in range(n_units)]
    rows += [(group_of_unit[unit] == g).astype(float) for g in range(n_groups)]
    upper = np.r_[np.ones(n_clients + n_units), left]
    found = milp(
        -weight.astype(float),
        constraints=LinearConstraint(csr_matrix(np.array(rows)), -np.inf, upper),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
    )
    assert found.success
    chosen = np.flatnonzero(found.x > 0.5)
    optimum = int(weight[chosen].sum())
    assert bound >= optimum


def test_whole_bound_gives_prices_that_cut_exactly() -> None:
    """The cap prices after a bound are the multipliers behind it: raising a cap's limit by
    one raises the bound at most by its price (the cut ``bound + price·Δ`` of allocator.linked)."""
    rng = np.random.default_rng(7)
    n = 40
    client, unit = dense_pairs(n, n)
    group_of_unit = (np.arange(n) % 2).astype(np.int64)
    weight = PLACEMENT * (1 + (group_of_unit[unit] == 0)) + rng.integers(0, 30, len(client))
    caps = [GroupCaps(8, group_of_unit, np.array([5, -1]))]
    lp = ColumnLp(client, unit, caps, keep=frozenset({(0, 0)}))
    lp.seed(weight.astype(float), None, 6)
    lp.solve(-weight.astype(float), time.perf_counter() + 60)
    first = lp.upper_bound(weight.astype(float))
    price = lp.cap_duals()[(0, 0)]
    assert price == round(price) and price > 0
    lp.set_limit((0, 0), 6)
    lp.solve(-weight.astype(float), time.perf_counter() + 60)
    assert lp.upper_bound(weight.astype(float)) <= first + price


@pytest.mark.parametrize("seed", range(3))
def test_bound_read_off_the_last_pricing_equals_the_integer_sum(seed: int) -> None:
    # ``lower_bound(cost, whole_cost=True)`` reuses the reduced costs of the solve's last
    # pricing round: the same bound and multipliers as the integer pass over every pair
    from allocator.generator import generate
    from tests.test_lp_face import _combined_inputs

    instance = generate(150, 600, 8, seed, national_corporations=2, national_share=0.15)
    pairs, caps, weight = _combined_inputs(instance)
    lp = ColumnLp(pairs.client, pairs.unit, caps, lazy_rows=True, perturb=False)
    cost = -weight.astype(float)
    lp.seed(-cost, None, 6)
    assert lp.solve(cost, time.perf_counter() + 60) is not None
    assert lp._priced is not None  # the shortcut applies here
    read_off = lp.lower_bound(cost, whole_cost=True)
    read_off_duals = lp.bound_duals.copy()
    summed = lp.lower_bound(cost)
    assert read_off == summed
    assert np.array_equal(read_off_duals, lp.bound_duals)
    # another cost array (even with the same values) is not what was priced: summed afresh
    assert lp._priced_bound(cost.copy(), lp._duals()[0]) is None
