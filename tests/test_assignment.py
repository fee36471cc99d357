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


@pytest.mark.parametrize("seed", range(4))
def test_eligibility_knows_runs_and_units(seed):
    # eligibility's client runs and present units are those of its pairs; the dense index read
    # off them equals the one found by passes over the pairs
    from allocator.columns import build_columns
    from allocator.eligibility import eligible_pairs
    from allocator.generator import generate

    instance = generate(60 + 20 * seed, 40 + 30 * seed, 1 + seed, seed)
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    counts = np.bincount(pairs.client, minlength=cols.n_clients)
    assert np.array_equal(pairs.client_runs, np.r_[0, np.cumsum(counts)])
    assert np.array_equal(pairs.unit_present, np.bincount(pairs.unit, minlength=cols.n_units) > 0)
    known = assignment_index(pairs.client, pairs.unit, pairs)
    found = assignment_index(pairs.client, pairs.unit)
    assert known.n_clients == found.n_clients and known.n_units == found.n_units
    assert np.array_equal(known.client_row, found.client_row)
    assert np.array_equal(known.unit_column, found.unit_column)
    assert np.array_equal(known.client_starts, found.client_starts)


def test_lexicographic_weights_block_by_block():
    # the weights made for any run of pairs are the levels' weighted sum (lexicographic_scale's
    # weights, each level's sign), whether a level varies pair by pair, is one number for every
    # pair or is the client's own; and the assignment given the scale picks what it picks given
    # the weights
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, k = int(rng.integers(1, 60)), int(rng.integers(1, 4))
        client, unit = np.sort(rng.integers(0, 12, n)), rng.integers(0, 12, n)
        coefficients, of_client = [], []
        for _ in range(k):
            high = int(rng.choice([1, 2, 50, 1000]))
            kind = rng.integers(0, 3)
            if kind == 0:  # pair by pair
                coefficients.append(rng.integers(0, high, n))
                of_client.append(None)
            elif kind == 1:  # every pair alike (a broadcast array)
                coefficients.append(np.broadcast_to(np.int64(rng.integers(0, 3)), n))
                assert flow.constant(coefficients[-1])
                of_client.append(None)
            else:  # the client's own
                table = rng.integers(0, high, 12)
                coefficients.append(table[client])
                of_client.append(table)
        maximise = [bool(rng.integers(0, 2)) for _ in range(k)]
        scale = flow.lexicographic(coefficients, maximise, client, of_client=of_client)
        levels = zip(coefficients, of_client, strict=True)
        by_client = all(o is not None or flow.constant(c) for c, o in levels)
        assert (scale.client_weights is not None) == by_client
        weights, _ = flow.lexicographic_scale([np.array(c) for c in coefficients], client)
        expected = sum(
            (w if up else -w) * c for w, up, c in zip(weights, maximise, coefficients, strict=True)
        )
        assert np.array_equal(scale.weights(), expected)
        start, stop = sorted(rng.integers(0, n + 1, 2).tolist())
        block = scale.weights(start, stop, np.empty(stop - start, dtype=np.int64))
        assert np.array_equal(block, expected[start:stop])
        # each client-unit pair once for the assignment
        first = np.unique(client * 12 + unit, return_index=True)[1]
        c, u = client[first], unit[first]
        part = flow.lexicographic(
            [x[first] for x in coefficients], maximise, c, of_client=of_client
        )
        by_scale, by_weights = solve_assignment(c, u, part), solve_assignment(c, u, part.weights())
        assert part.weights()[by_scale].sum() == part.weights()[by_weights].sum()


def test_client_table_must_cover_every_client():
    # a level's table per client is read without a check per pair: one that misses a client
    # here is refused, whether the pairs are sorted by client or not
    short = np.array([3, 4, 9])  # nothing for client 5
    for client in (np.array([0, 1, 5, 5]), np.array([5, 0, 5, 1])):
        with pytest.raises(IndexError):
            flow.lexicographic([short[client % 3]], [True], client, of_client=[short])
