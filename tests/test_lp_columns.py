"""The LP's bookkeeping without HiGHS: the cap rows kept per family (``CapRows``) against the
rows written out pair by pair, and the pricing's choice per client (``_smallest_per_run``)
against a stable sort."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.columns import build_columns
from allocator.decompose import settle_pinned
from allocator.eligibility import eligible_pairs
from allocator.generator import generate
from allocator.lp import CapRows, _smallest_per_run


@pytest.mark.parametrize(
    "kwargs",
    [{"national_corporations": 2, "national_share": 0.15}, {"rules_12_15": True, "pinned": 5}],
)
def test_cap_rows_per_family_are_the_rows_pair_by_pair(kwargs) -> None:
    instance = generate(150, 450, 16, 2, **kwargs)
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    reduced = settle_pinned(cols, pairs)
    free = reduced.free
    client, unit = pairs.client[free], pairs.unit[free]
    rows = CapRows(client, unit, reduced.caps)
    # each row written out: the pairs of its client, unit or group
    expected = np.zeros((rows.n_rows, len(client)), dtype=np.int64)
    for r, (family, group) in enumerate(rows.keys):
        if family == -2:
            expected[r] = client == group
        elif family == -1:
            expected[r] = unit == group
        else:
            expected[r] = reduced.caps[family].of_pairs(client, unit) == group
    assert np.array_equal(rows.matrix().toarray(), expected)
    assert np.all(expected.sum(axis=1) > rows.b)  # only rows that could bind
    rng = np.random.default_rng(0)
    y = rng.integers(-50, 0, rows.n_rows)
    assert np.array_equal(rows.column_sums(y), expected.T @ y)
    assert np.allclose(rows.column_sums(y.astype(float)), expected.T @ y)
    chosen = np.flatnonzero(rng.random(len(client)) < 0.1)
    assert np.array_equal(rows.counts(chosen), expected[:, chosen].sum(axis=1))
    # pairs not sorted by client: the same rows, the sums read pair by pair
    shuffled = rng.permutation(len(client))
    mixed = CapRows(client[shuffled], unit[shuffled], reduced.caps)
    assert rows.by_client and not mixed.by_client
    assert np.array_equal(mixed.matrix().toarray(), expected[:, shuffled])
    assert np.array_equal(mixed.column_sums(y), (expected.T @ y)[shuffled])


def test_smallest_per_run_takes_what_a_stable_sort_puts_first() -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        n = int(rng.integers(1, 300))
        run = np.sort(rng.integers(0, int(rng.integers(1, 30)), n))
        values = -rng.integers(0, int(rng.integers(1, 6)), n).astype(float)  # many ties
        k = int(rng.integers(1, 9))
        starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
        # sorted by run, value, position: each run keeps its place, its first k are taken
        order = np.lexsort((np.arange(n), values, run))
        expected = np.zeros(n, dtype=bool)
        for s, e in zip(starts, np.r_[starts[1:], n], strict=True):
            expected[order[s:e][:k]] = True
        assert np.array_equal(_smallest_per_run(values, starts, k), expected)
