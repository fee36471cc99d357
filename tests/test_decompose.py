"""Taking an instance apart: ``split_in_regions`` gives in one pass what ``split`` gives in two
(the parts, then each part's regions), on instances with one part of several regions
(corporations across regions), parts of one region each, parts of several, pinned pairs and
caps on groups of clients."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.columns import build_columns
from allocator.decompose import settle_pinned, split, split_in_regions
from allocator.eligibility import eligible_pairs
from allocator.generator import generate


@pytest.mark.parametrize(
    "kwargs",
    [
        {"national_corporations": 2, "national_share": 0.15},
        {"national_corporations": 1, "national_share": 0.15, "pinned": 5},
        {"corporations": 3},  # fewer corporations than regions: parts of several regions
        {"corporations": 6, "rules_12_15": True},
        {},
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_split_in_regions_matches_split_twice(kwargs, seed) -> None:
    instance = generate(300, 900, 40, seed, **kwargs)
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    reduced = settle_pinned(cols, pairs)
    parts = split(cols, pairs, reduced.free, reduced.caps)
    found = split_in_regions(cols, pairs, reduced.free, reduced.caps)
    assert [len(p) for p, _ in found] == [len(p) for p in parts]
    for part, (positions, regions) in zip(parts, found, strict=True):
        assert np.array_equal(positions, part)
        expected = split(cols, pairs, part, [])
        assert len(regions) == len(expected)
        for piece, local in zip(expected, regions, strict=True):
            assert np.all(np.diff(local) > 0)
            assert np.array_equal(positions[local], piece)


def test_a_corporation_serving_several_regions_joins_them_into_one_part() -> None:
    # three corporations over five regions: some serve two, whose quotas join those regions
    instance = generate(300, 900, 40, 0, corporations=3)
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    reduced = settle_pinned(cols, pairs)
    found = split_in_regions(cols, pairs, reduced.free, reduced.caps)
    assert [len(regions) for _, regions in found] == [2, 2, 1]
    for positions, regions in found:
        assert np.array_equal(np.sort(np.concatenate(regions)), np.arange(len(positions)))
