"""The nested flow as a maximum flow of least cost (``solve_flow_most_placed``): when the first
level counts placements it must reach ``solve_flow``'s optimum, the same total weight and the
same number placed, on generated instances region by region and on a whole instance."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.columns import build_columns
from allocator.decompose import settle_pinned, split
from allocator.eligibility import eligible_pairs
from allocator.flow import lexicographic, solve_flow, solve_flow_most_placed
from allocator.generator import generate
from allocator.models import LEVEL_SENSE
from allocator.solver import level_coefficients


def _parts(instance):
    cols = build_columns(instance)
    pairs = eligible_pairs(cols)
    reduced = settle_pinned(cols, pairs)
    levels = list(instance.policy.objective)
    assert levels[0] == "placed"
    maximise = [LEVEL_SENSE[level] == "max" for level in levels]
    coefficients = [level_coefficients(level, cols, pairs) for level in levels]
    for positions in split(cols, pairs, reduced.free, []):
        client, unit = pairs.client[positions], pairs.unit[positions]
        scale = lexicographic([c[positions] for c in coefficients], maximise, client)
        assert scale is not None
        yield client, unit, scale.weights(), reduced.caps, scale.level_weights[0]


@pytest.mark.parametrize(
    ("size", "seed"),
    [((150, 600, 8), 0), ((150, 600, 8), 1), ((400, 1_200, 16), 2), ((60, 400, 4), 3)],
)
def test_most_placed_flow_reaches_the_nested_flow_optimum(size, seed):
    instance = generate(*size, seed, national_corporations=2, national_share=0.15)
    compared = 0
    for client, unit, weight, caps, per_placement in _parts(instance):
        reference = solve_flow(client, unit, weight, caps)
        got = solve_flow_most_placed(client, unit, weight, caps, per_placement)
        assert reference is not None and got is not None
        assert len(got) == len(reference)
        assert int(weight[got].sum()) == int(weight[reference].sum())
        # one unit per client and one client per unit
        assert len(np.unique(client[got])) == len(got) == len(np.unique(unit[got]))
        compared += 1
    assert compared > 0


def test_most_placed_flow_declines_a_weight_it_cannot_stand_for():
    # a pair of weight 0 or less: solve_flow leaves it out, a maximum flow might not
    instance = generate(60, 200, 4, 0)
    client, unit, weight, caps, per_placement = next(_parts(instance))
    weight = weight.copy()
    weight[0] = 0
    assert solve_flow_most_placed(client, unit, weight, caps, per_placement) is None


def test_most_placed_flow_of_no_pairs():
    instance = generate(60, 200, 4, 0)
    client, unit, weight, caps, per_placement = next(_parts(instance))
    got = solve_flow_most_placed(client[:0], unit[:0], weight[:0], caps, per_placement)
    assert len(got) == 0
