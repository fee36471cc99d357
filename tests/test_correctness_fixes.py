"""Fixes found on review (issue 12, point 6): each test here failed before its fix."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from allocator.errors import InstanceError
from allocator.explain import make_proposal
from allocator.mip import mix_room, solve_mip
from allocator.models import Policy, mix_cap, parse_instance
from allocator.solver import solve
from allocator.validator import validate
from tests.builders import client, complex_, instance, unit


def test_mix_cap_is_an_exact_floor_of_the_written_share():
    # share 0.2999999999 of 10 units is 2.999999999 households: the cap is 2, not 3
    assert mix_cap(0.2999999999, 10) == 2
    assert mix_cap(0.29, 100) == 29  # 28.999999999999996 in floating point
    assert mix_cap(0.3, 10) == 3
    assert mix_cap(0.5, 7) == 3
    assert list(mix_cap([0.2999999999, 0.29], [10, 100])) == [2, 29]


def test_a_share_just_under_a_whole_household_admits_one_fewer():
    cxs = [
        complex_("cx1", units_total=10, vulnerable_residents=1, max_vulnerable_share=0.2999999999)
    ]
    inst = instance(
        [client(f"c{i}") for i in range(3)], [unit(f"u{j}") for j in range(3)], complexes=cxs
    )
    s = solve(inst)
    assert s.objective.placed == 1  # floor(2.999999999) - 1
    assert validate(inst, s.assignments) == []
    assert any(v.rule == 10 for v in validate(inst, [("c0", "u0"), ("c1", "u1")]))


def test_the_independent_mip_reads_the_share_as_an_exact_floor_too():
    # rules 10 and 12 in the HiGHS MIP: 0.2999999999 of 10 units allows 2 vulnerable households
    # (once read as 3 there, through a float and an epsilon)
    cxs = [
        complex_(
            "cx1",
            units_total=10,
            vulnerable_residents=0,
            max_vulnerable_share=0.2999999999,
            group_max_share={"BW": 0.2999999999},
        )
    ]
    inst = instance(
        [client(f"c{i}") for i in range(4)], [unit(f"u{j}") for j in range(4)], complexes=cxs
    )
    assert mix_room(inst, "cx1") == 2
    result = solve_mip(inst)
    assert result.objective.placed == 2
    assert validate(inst, result.assignments) == []
    # the group share alone (rule 10's share not binding)
    cxs = [
        complex_(
            "cx1", units_total=10, max_vulnerable_share=1.0, group_max_share={"BW": 0.2999999999}
        )
    ]
    inst = instance(
        [client(f"c{i}") for i in range(4)], [unit(f"u{j}") for j in range(4)], complexes=cxs
    )
    assert solve_mip(inst).objective.placed == 2


@pytest.mark.parametrize("objective", [[], ["rank_sum"]])
def test_an_objective_that_places_nobody_is_refused(objective):
    with pytest.raises(ValueError, match="rewards placing clients"):
        Policy(objective=objective)
    data = {
        "municipalities": [{"id": "m1", "name": "M1", "quota": 1}],
        "complexes": [complex_()],
        "units": [unit("u1")],
        "clients": [client("a")],
        "policy": {"objective": objective},
    }
    with pytest.raises(InstanceError, match="objective") as refused:
        parse_instance(data)
    assert "policy" in str(refused.value)


def test_one_maximised_level_is_a_defined_objective():
    inst = instance(
        [client("a", ready_since="2025-01-01"), client("b", ready_since="2026-11-25")],
        [unit("u1")],
        policy={"objective": ["waiting_days"]},
    )
    s = solve(inst)
    assert s.assignments == [("a", "u1")]


class _Clock:
    """dt.date with a today() that moves one day further at each call: a run across midnight."""

    calls = 0

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def today(self):
        _Clock.calls += 1
        return dt.date(2026, 11, 25) + dt.timedelta(days=_Clock.calls)


def test_the_reference_date_is_resolved_once_per_instance(monkeypatch):
    import allocator.models as models

    clock = type("dt", (), {"date": _Clock(dt.date), "timedelta": dt.timedelta})
    monkeypatch.setattr(models, "dt", clock)
    inst = instance(
        [client("a", ready_since="2026-11-01"), client("b", ready_since="2026-11-20")],
        [unit("u1"), unit("u2")],
        policy={"reference_date": None},
    )
    first = inst.reference_date()
    s = solve(inst)
    proposal = make_proposal(inst, s)
    assert proposal.reference_date == first == inst.reference_date()
    days = {a.client_id: a.waiting_days for a in proposal.assignments}
    assert days == {
        "a": (first - dt.date(2026, 11, 1)).days,
        "b": (first - dt.date(2026, 11, 20)).days,
    }
    assert proposal.objective.waiting_days == sum(days.values())
    # a what-if copy of the instance counts to the same day
    assert inst.with_changes(pinned=[]).reference_date() == first


def test_a_level_without_a_solution_ends_the_lexicographic_sequence():
    from allocator.columns import build_columns
    from allocator.eligibility import eligible_pairs
    from allocator.generator import generate
    from allocator.solver import SolverSettings, build_model, cpsat_levels, level_coefficients

    inst = generate(300, 1200, 8, 1)
    cols = build_columns(inst)
    pairs = eligible_pairs(cols)
    levels = list(inst.policy.objective)
    coefficients = [level_coefficients(level, cols, pairs) for level in levels]
    variables = build_model(cols, pairs)
    current, facts = cpsat_levels(
        variables,
        levels,
        coefficients,
        SolverSettings(),
        time.perf_counter() + 60,
        None,
        lambda *a, **k: None,
        level_seconds=[0.0, 30.0, 30.0],  # the first level gets no time at all
    )
    assert [lv.status for lv in facts] == ["not_solved"] * 3
    assert current is None


def _triangle():
    from tests.test_paths import triangle

    return triangle()


def _part(inst):
    import numpy as np

    from allocator.columns import build_columns
    from allocator.decompose import settle_pinned
    from allocator.eligibility import eligible_pairs
    from allocator.solver import level_coefficients

    cols = build_columns(inst)
    pairs = eligible_pairs(cols)
    caps = settle_pinned(cols, pairs).caps
    coefficients = [level_coefficients(level, cols, pairs) for level in inst.policy.objective]
    return np, pairs, caps, coefficients


def test_an_lp_proof_is_refused_where_float64_cannot_tell_a_unit():
    from allocator.lp import SAFE_TOTAL, solve_lp_combined

    np, pairs, caps, _ = _part(_triangle())
    # weights whose possible total is beyond 2^50: a bound below value + 1 proves nothing
    weight = np.full(len(pairs), int(SAFE_TOTAL), dtype=np.int64)
    outcome = solve_lp_combined(pairs.client, pairs.unit, caps, weight, time.perf_counter() + 10)
    assert outcome.chosen is None and outcome.bound is None
    # the same LP with small weights is solved and bounded
    small = solve_lp_combined(
        pairs.client, pairs.unit, caps, weight // int(SAFE_TOTAL), time.perf_counter() + 10
    )
    assert small.bound is not None and small.bound >= 1.5 - 1e-6


def test_a_fractional_level_bound_is_rounded_inwards_and_held():
    from allocator.lp import solve_lp_levels

    np, pairs, caps, coefficients = _part(_triangle())
    out = solve_lp_levels(
        pairs.client, pairs.unit, caps, coefficients, [True, True, False], time.perf_counter() + 10
    )
    # the LP places 1.5 clients: no allocation places more than 1, and the chain goes on
    assert out.bounds[0] >= 1.5 - 1e-6
    assert out.values[0] == 1
    assert len(out.values) == 3
    assert out.chosen is not None  # held at 1, the next vertex is integral: proven
    assert [int(c[out.chosen].sum()) for c in coefficients] == out.values
