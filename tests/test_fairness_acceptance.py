"""Justified envy and the fairness block of every proposal; the ``expected_acceptance`` objective
level against the independent HiGHS MIP; per-pair acceptance estimates validated; and the
acceptance model fitted to a history of answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from allocator.acceptance import FEATURES, fit, pair_features, probability
from allocator.errors import InstanceError
from allocator.explain import propose
from allocator.fairness import justified_envy
from allocator.generator import generate
from allocator.mip import solve_mip
from allocator.models import Instance, parse_instance
from allocator.solver import SolverSettings, solve
from allocator.validator import validate

from .builders import client, instance, unit


def test_justified_envy_counted_by_hand():
    # a waited longest, b less, c least; u1 and u2 suit everyone, u3 suits only c (rent)
    inst = instance(
        clients=[
            client("a", "2025-01-01", max_rent=700),
            client("b", "2025-06-01", max_rent=700),
            client("c", "2026-01-01"),
        ],
        units=[unit("u1"), unit("u2"), unit("u3", rent=900.0)],
    )
    # b and c housed, a (the longest waiting) left out: a envies both b's and c's unit
    got = justified_envy(inst, [("b", "u1"), ("c", "u2")])
    assert {(e.client_id, e.unit_id, e.holder_id) for e in got} == {
        ("a", "u1", "b"),
        ("a", "u2", "c"),
    }
    # a is not eligible for u3 (rent): no envy toward c there
    assert justified_envy(inst, [("b", "u1"), ("c", "u3")]) == [
        e for e in justified_envy(inst, [("b", "u1"), ("c", "u3")]) if e.holder_id == "b"
    ]
    assert len(justified_envy(inst, [("b", "u1"), ("c", "u3")])) == 1
    # everyone who waited longer is housed: none
    assert justified_envy(inst, [("a", "u1"), ("b", "u2")]) == []


def test_a_pinned_pair_is_not_envied():
    inst = instance(
        clients=[client("a", "2025-01-01"), client("b", "2026-01-01")],
        units=[unit("u1")],
        pinned=[{"client_id": "b", "unit_id": "u1"}],
    )
    assert justified_envy(inst, [("b", "u1")]) == []


@pytest.mark.parametrize("jeugd_now, envied", [(0, True), (1, False)])
def test_envy_only_where_the_groups_share_has_room(jeugd_now, envied):
    # a (jeugd) waited longer than b (BW), who holds u1; the building takes 1 jeugd household
    # (rule 12: 0.1 of 10): with one living there already, giving u1 to a breaks the share
    inst = instance(
        clients=[client("a", "2025-01-01", target_group="jeugd"), client("b", "2026-01-01")],
        units=[unit("u1")],
        complexes=[
            {
                "id": "cx1",
                "municipality_id": "m1",
                "units_total": 10,
                "vulnerable_residents": 0,
                "group_max_share": {"jeugd": 0.1},
                "group_residents": {"jeugd": jeugd_now},
            }
        ],
    )
    got = justified_envy(inst, [("b", "u1")])
    assert [(e.client_id, e.unit_id, e.holder_id) for e in got] == (
        [("a", "u1", "b")] if envied else []
    )
    assert len(got) == _brute_envy(inst, [("b", "u1")])


def _brute_envy(inst: Instance, pairs: list[tuple[str, str]]) -> int:
    """Pair by pair with the validator as the eligibility check: a swap that the validator
    accepts for rules 2-7 is an eligible pair."""
    placed = {c for c, _ in pairs}
    holder = {u: c for c, u in pairs}
    pinned = {p.unit_id for p in inst.pinned}
    count = 0
    for a, (u, b) in itertools.product(inst.clients, holder.items()):
        if a.id in placed or u in pinned:
            continue
        if inst.waiting_days(a) <= inst.waiting_days(inst.client(b)):
            continue
        swapped = [(a.id if c == b else c, v) for c, v in pairs]
        if not validate(inst, swapped):
            count += 1
    return count


@pytest.mark.parametrize("rules_12_15", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_every_proposal_counts_its_justified_envy(seed, rules_12_15):
    inst = generate(25, 30, 3, seed, rules_12_15=rules_12_15)
    proposal = propose(inst, SolverSettings(time_limit_seconds=30))
    pairs = [(a.client_id, a.unit_id) for a in proposal.assignments]
    assert proposal.fairness is not None
    assert proposal.fairness.justified_envy == _brute_envy(inst, pairs)
    waits = [u.waiting_days for u in proposal.unplaced]
    listed = [x["waiting_days"] for x in proposal.fairness.longest_waiting_unplaced]
    assert listed == sorted(waits, reverse=True)[: len(listed)]
    placed_munis = {a.municipality_id for a in proposal.assignments}
    assert set(proposal.fairness.median_wait_placed_by_municipality) == placed_munis


def _two_ways():
    """Two clients, two units, each client eligible for both: both allocations place two, with
    different chances of acceptance."""
    return instance(
        clients=[client("a", "2026-01-01"), client("b", "2026-01-01")],
        units=[unit("u1"), unit("u2")],
        acceptance=[
            {"client_id": "a", "unit_id": "u1", "probability": 0.9},
            {"client_id": "a", "unit_id": "u2", "probability": 0.2},
            {"client_id": "b", "unit_id": "u1", "probability": 0.5},
            {"client_id": "b", "unit_id": "u2", "probability": 0.4},
        ],
        policy={"objective": ["placed", "expected_acceptance", "waiting_days", "rank_sum"]},
    )


def test_expected_acceptance_prefers_the_likely_offers():
    inst = _two_ways()
    sol = solve(inst)
    assert sorted(sol.assignments) == [("a", "u1"), ("b", "u2")]  # 0.9 + 0.4 > 0.2 + 0.5
    assert sol.objective.expected_acceptance == 1300
    assert sol.proven and sol.facts.method == "cp-sat"
    mip = solve_mip(inst)
    assert sorted(mip.assignments) == sorted(sol.assignments)
    assert mip.objective.expected_acceptance == 1300


def test_expected_acceptance_first_may_place_fewer():
    # one unit, two clients; placing first places one either way, the level picks the likelier.
    inst = instance(
        clients=[client("a", "2025-01-01"), client("b", "2026-01-01")],
        units=[unit("u1")],
        acceptance=[{"client_id": "a", "unit_id": "u1", "probability": 0.1}],
        policy={"objective": ["expected_acceptance", "waiting_days"]},
    )
    # b has no estimate: certain (1000 thousandths) beats a's 0.1 despite a's longer wait
    assert solve(inst).assignments == [("b", "u1")]


@pytest.mark.parametrize("seed", range(6))
def test_expected_acceptance_level_matches_highs(seed):
    base = generate(30, 40, 3, seed)
    rng = np.random.default_rng(seed)
    estimates = [
        {"client_id": c.id, "unit_id": u.id, "probability": round(float(rng.uniform()), 3)}
        for c in base.clients
        for u in base.units
        if rng.random() < 0.6
    ]
    inst = Instance.model_validate(
        base.model_dump()
        | {
            "acceptance": estimates,
            "policy": base.policy.model_dump()
            | {"objective": ["placed", "expected_acceptance", "waiting_days", "rank_sum"]},
        }
    )
    levels = inst.policy.objective
    cp = solve(inst, SolverSettings(time_limit_seconds=60))
    mip = solve_mip(inst, time_limit_seconds=60)
    assert cp.proven and mip.proven
    assert validate(inst, cp.assignments) == []
    assert cp.objective.as_tuple(levels) == mip.objective.as_tuple(levels)


def test_acceptance_estimates_are_validated():
    good = instance(clients=[client("a")], units=[unit("u1")]).model_dump(mode="json")

    def parsed(rows):
        return parse_instance(good | {"acceptance": rows})

    with pytest.raises(InstanceError) as err:
        parsed([{"client_id": "a", "unit_id": "u1", "probability": 1.2}])
    assert "acceptance[#0].probability" in str(err.value)
    with pytest.raises(InstanceError) as err:
        parsed([{"client_id": "a", "unit_id": "u1", "probability": -0.1}])
    assert "acceptance[#0].probability" in str(err.value)
    assert parsed([{"client_id": "a", "unit_id": "u1", "probability": 1.0}]).acceptance
    with pytest.raises(InstanceError) as err:
        parsed(
            [
                {"client_id": "zz", "unit_id": "u1", "probability": 0.5},
                {"client_id": "a", "unit_id": "u1", "probability": 0.5},
                {"client_id": "a", "unit_id": "u1", "probability": 0.6},
            ]
        )
    text = str(err.value)
    assert "acceptance[#0].client_id: unknown client id 'zz'" in text
    assert "acceptance[#2].unit_id: pair listed twice" in text


def test_fit_recovers_the_coefficients_of_simulated_answers():
    rng = np.random.default_rng(1)
    n = 4000
    groups = list(rng.choice(["BW", "MO"], n))
    x = pair_features(
        rng.integers(1, 4, n), rng.uniform(400, 800, n), np.full(n, 700.0), rng.uniform(0, 40, n)
    )
    base = np.where(np.array(groups) == "BW", 0.85, 0.7)
    truth = [-0.8, -0.6, -0.3]
    accepted = rng.random(n) < probability(base, x, truth)
    model = fit(groups, x, accepted)
    assert model.offers == n and model.accepted == int(accepted.sum())
    for f, b in zip(FEATURES, truth, strict=True):
        lo, hi = model.intervals[f]
        se = (hi - lo) / (2 * 1.96)
        assert lo < model.coefficients[f] < hi and se < 0.1
        assert abs(model.coefficients[f] - b) < 3.5 * se, (f, b, lo, hi)
    assert model.groups["BW"] == pytest.approx(0.85, abs=0.05)
    assert any("4000 answered offers" in line for line in model.explain())


def test_fit_on_too_little_history_says_so():
    model = fit(["BW"] * 5, np.zeros((5, 3)), np.array([1, 0, 1, 1, 1]))
    assert model.coefficients == {f: 0.0 for f in FEATURES}
    assert model.groups == {"BW": 0.8}
    assert "Too little" in model.note


def test_the_validator_recomputes_expected_acceptance():
    from allocator.validator import objective_of

    inst = _two_ways()
    assert objective_of(inst, [("a", "u1"), ("b", "u2")]).expected_acceptance == 1300
    assert objective_of(inst, [("a", "u2"), ("b", "u1")]).expected_acceptance == 700
    plain = instance(clients=[client("a")], units=[unit("u1")])
    values = objective_of(plain, [("a", "u1")])
    assert values.expected_acceptance is None and "expected_acceptance" not in str(values)
    assert "expected_acceptance" not in values.model_dump()
