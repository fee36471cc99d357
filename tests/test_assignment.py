"""The plain-assignment solver on pair lists of every shape: dense or sparse indices, sorted by
client or not, weights of both signs; its optimum equals scipy's on the same matrix."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from allocator import flow
from allocator.flow import _run_starts, assignment_index, caps_cannot_bind, solve_assignment


def _reference(client, unit, weight):
    rows, cols = np.unique(client), np.unique(unit)
    matrix = np.zeros((len(rows), len(cols)))
    matrix[np.searchsorted(rows, client), np.searchsorted(cols, unit)] = np.maximum(weight, 0)
    r, c = linear_sum_assignment(matrix, maximize=True)
    return matrix[r, c].sum()


@pytest.mark.parametrize("seed", range(12))
def test_assignment_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    n_c, n_u = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    dense = rng.random((n_c, n_u)) < rng.uniform(0.1, 1.0)
    client, unit = np.nonzero(dense)
    if seed % 3 == 1:  # sparse indices: gaps in clients and units
        client, unit = client * 3 + 5, unit * 2 + 1
    if seed % 3 == 2:  # not sorted by client
        order = rng.permutation(len(client))
        client, unit = client[order], unit[order]
    weight = rng.integers(-5, 100, len(client))
    picked = solve_assignment(client, unit, weight)
    # each client and unit at most once, only pairs worth taking
    assert len(set(client[picked])) == len(picked) == len(set(unit[picked]))
    assert np.all(weight[picked] > 0)
    assert weight[picked].sum() == _reference(client, unit, weight)
    # the known index gives the same answer
    again = solve_assignment(client, unit, weight, assignment_index(client, unit))
    assert weight[again].sum() == weight[picked].sum()


@pytest.mark.parametrize("seed", range(6))
def test_assignment_sorted_by_client_only(seed):
    # the way back from the matrix bisects each client's run by unit; within a run the units
    # may come in any order, and then the answer must be the same
    rng = np.random.default_rng(seed)
    n_c, n_u = int(rng.integers(2, 30)), int(rng.integers(2, 30))
    client, unit = np.nonzero(rng.random((n_c, n_u)) < 0.6)
    order = np.lexsort((rng.random(len(client)), client))  # by client, units shuffled
    client, unit = client[order], unit[order]
    weight = rng.integers(1, 100, len(client))
    index = assignment_index(client, unit)
    assert index.client_starts is not None
    picked = solve_assignment(client, unit, weight, index)
    assert len(set(client[picked])) == len(picked) == len(set(unit[picked]))
    assert weight[picked].sum() == _reference(client, unit, weight)


@pytest.mark.parametrize("seed", range(4))
def test_assignment_costs_written_in_blocks(seed, monkeypatch):
    # the costs reach the matrix block by block: a block size that divides nothing evenly, so
    # that blocks end inside a client's run and the last block is short
    monkeypatch.setattr(flow, "_COST_BLOCK", 7 + seed)
    rng = np.random.default_rng(seed)
    n_c, n_u = int(rng.integers(5, 40)), int(rng.integers(5, 40))
    client, unit = np.nonzero(rng.random((n_c, n_u)) < 0.5)
    weight = rng.integers(-5, 100, len(client))
    picked = solve_assignment(client, unit, weight)
    assert len(set(client[picked])) == len(picked) == len(set(unit[picked]))
    assert np.all(weight[picked] > 0)
    assert weight[picked].sum() == _reference(client, unit, weight)


def test_client_runs_found_only_where_sorted():
    # pairs sorted by client then unit: the client column has runs; the unit column, sorted
    # within the first client's run only, has none (and is not mistaken for sorted)
    client, unit = np.nonzero(np.ones((200, 150), dtype=bool))
    assert np.array_equal(_run_starts(client), np.arange(0, 200 * 150, 150))
    assert _run_starts(unit) is None
    late = np.sort(np.random.default_rng(0).integers(0, 50, 5000))
    late[4000] = -1  # sorted prefix and sample points, one value out of order
    assert _run_starts(late) is None
    assert _run_starts(np.sort(late)) is not None


def test_empty_assignment():
    empty = np.zeros(0, dtype=np.int64)
    assert len(solve_assignment(empty, empty, empty)) == 0


def test_caps_cannot_bind_same_with_index():
    rng = np.random.default_rng(1)
    from allocator.decompose import GroupCaps

    for _ in range(20):
        client = np.sort(rng.integers(0, 10, 60))
        unit = rng.integers(0, 12, 60)
        caps = [GroupCaps(8, rng.integers(0, 4, 12), rng.integers(-1, 6, 4))]
        assert caps_cannot_bind(client, unit, caps) == caps_cannot_bind(
            client, unit, caps, assignment_index(client, unit)
        )
