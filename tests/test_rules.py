"""Each rule on 2-4 hand-made objects: the optimiser respects it where it binds, and the
validator catches a proposal that breaks it."""

from __future__ import annotations

import pytest

from allocator.explain import propose
from allocator.validator import validate
from tests.builders import client, complex_, corporation, instance, municipality, unit


def pairs_of(proposal) -> set[tuple[str, str]]:
    return {(a.client_id, a.unit_id) for a in proposal.assignments}


def broken_rules(inst, pairs) -> set[int]:
    return {v.rule for v in validate(inst, pairs)}


def test_rule1_one_unit_per_client_and_one_client_per_unit():
    inst = instance([client("a"), client("b")], [unit("u1")])
    proposal = propose(inst)
    assert proposal.objective.placed == 1
    assert broken_rules(inst, [("a", "u1"), ("b", "u1")]) == {1}
    inst2 = instance([client("a")], [unit("u1"), unit("u2")])
    assert broken_rules(inst2, [("a", "u1"), ("a", "u2")]) == {1}


def test_rule1_the_longer_waiting_client_gets_the_only_unit():
    inst = instance([client("new", "2026-10-01"), client("old", "2025-01-01")], [unit("u1")])
    assert pairs_of(propose(inst)) == {("old", "u1")}


def test_rule2_household_must_fit_occupancy():
    inst = instance(
        [client("big", household_size=4), client("single", household_size=1)],
        [unit("small", max_occupants=2), unit("family", min_occupants=3, max_occupants=5)],
    )
    assert pairs_of(propose(inst)) == {("big", "family"), ("single", "small")}
    assert broken_rules(inst, [("big", "small")]) == {2}
    assert broken_rules(inst, [("single", "family")]) == {2}


def test_rule3_rent_at_most_max_rent_where_set():
    inst = instance(
        [client("tight", max_rent=600.0, ready_since="2025-01-01"), client("free")],
        [unit("cheap", rent=600.0), unit("dear", rent=600.01)],
    )
    assert pairs_of(propose(inst)) == {("tight", "cheap"), ("free", "dear")}
    assert broken_rules(inst, [("tight", "dear")]) == {3}
    assert broken_rules(inst, [("free", "dear")]) == set()


def test_rule4_accessible_unit_for_a_client_who_needs_it():
    inst = instance(
        [client("wheelchair", needs_accessible=True), client("walker", ready_since="2025-01-01")],
        [unit("stairs"), unit("lift", accessible=True)],
    )
    # the longer-waiting walker could take either; only the lift suits the wheelchair user
    assert pairs_of(propose(inst)) == {("wheelchair", "lift"), ("walker", "stairs")}
    assert broken_rules(inst, [("wheelchair", "stairs")]) == {4}


def test_rule5_excluded_and_preferred_municipalities():
    munis = [municipality("m1"), municipality("m2"), municipality("m3")]
    cxs = [complex_("cx1", "m1"), complex_("cx2", "m2"), complex_("cx3", "m3")]
    inst = instance(
        [
            client("pref", preferred_municipalities=["m2"]),
            client("excl", excluded_municipalities=["m1", "m2"], ready_since="2025-01-01"),
            client("any", ready_since="2024-01-01"),
        ],
        [unit("u1", "cx1"), unit("u2", "cx2"), unit("u3", "cx3")],
        municipalities=munis,
        complexes=cxs,
    )
    assert pairs_of(propose(inst)) == {("pref", "u2"), ("excl", "u3"), ("any", "u1")}
    assert broken_rules(inst, [("pref", "u1")]) == {5}
    assert broken_rules(inst, [("excl", "u1")]) == {5}


def test_rule5_rank_prefers_first_choice():
    munis = [municipality("m1"), municipality("m2")]
    cxs = [complex_("cx1", "m1"), complex_("cx2", "m2")]
    inst = instance(
        [client("a", preferred_municipalities=["m2", "m1"])],
        [unit("u1", "cx1"), unit("u2", "cx2")],
        municipalities=munis,
        complexes=cxs,
    )
    proposal = propose(inst)
    assert pairs_of(proposal) == {("a", "u2")}
    assert proposal.assignments[0].preference_rank == 1


def test_rule6_refused_unit_never_proposed_again():
    inst = instance([client("a", refused_units=["u1"])], [unit("u1")])
    proposal = propose(inst)
    assert proposal.objective.placed == 0
    assert proposal.unplaced[0].reasons[0].code == "no_eligible_unit"
    assert proposal.unplaced[0].removed_by_rule == {"refused before": 1}
    assert broken_rules(inst, [("a", "u1")]) == {6}


def test_rule7_reserved_unit_only_for_its_groups():
    inst = instance(
        [client("young", target_group="jeugd"), client("bw", ready_since="2024-01-01")],
        [unit("youth", allowed_groups=["jeugd"]), unit("open")],
    )
    assert pairs_of(propose(inst)) == {("young", "youth"), ("bw", "open")}
    assert broken_rules(inst, [("bw", "youth")]) == {7}


def test_rule8_municipal_quota():
    inst = instance(
        [client("a", ready_since="2025-01-01"), client("b")],
        [unit("u1"), unit("u2")],
        municipalities=[municipality("m1", quota=1)],
    )
    proposal = propose(inst)
    assert pairs_of(proposal) == {("a", "u1")} or pairs_of(proposal) == {("a", "u2")}
    reasons = {r.code for r in proposal.unplaced[0].reasons}
    assert "municipality_quota" in reasons
    assert proposal.summaries.municipalities[0].left == 0
    assert broken_rules(inst, [("a", "u1"), ("b", "u2")]) == {8}


def test_rule9_corporation_quota_cuts_across_municipalities():
    munis = [municipality("m1"), municipality("m2")]
    cxs = [complex_("cx1", "m1"), complex_("cx2", "m2")]
    inst = instance(
        [client("a", ready_since="2025-01-01"), client("b"), client("c")],
        [unit("u1", "cx1", "k1"), unit("u2", "cx2", "k1"), unit("u3", "cx2", "k2")],
        municipalities=munis,
        complexes=cxs,
        corporations=[corporation("k1", quota=1), corporation("k2")],
    )
    proposal = propose(inst)
    assert proposal.objective.placed == 2
    assert sum(1 for a in proposal.assignments if a.corporation_id == "k1") == 1
    assert broken_rules(inst, [("a", "u1"), ("b", "u2")]) == {9}


def test_rule10_magic_mix_cap():
    # floor(0.3 * 10) = 3 with 2 there already: room for 1
    cxs = [
        complex_("cx1", units_total=10, vulnerable_residents=2),
        complex_("full", units_total=10, vulnerable_residents=3),
    ]
    inst = instance(
        [client("a", ready_since="2025-01-01"), client("b"), client("c")],
        [unit("u1"), unit("u2"), unit("u3", "full")],
        complexes=cxs,
    )
    proposal = propose(inst)
    assert proposal.objective.placed == 1
    assert {a.client_id for a in proposal.assignments} == {"a"}
    mix = {c.complex_id: c for c in proposal.summaries.complexes}
    assert (mix["cx1"].cap, mix["cx1"].vulnerable_after) == (3, 3)
    assert broken_rules(inst, [("a", "u1"), ("b", "u2")]) == {10}
    assert broken_rules(inst, [("a", "u3")]) == {10}
    codes = {r.code for u in proposal.unplaced for r in u.reasons}
    assert "mix_cap" in codes


def test_rule10_complex_override_and_float_floor():
    # 0.29 * 100 is 28.999999999999996 in floating point: the cap must still be 29
    cxs = [complex_("cx1", units_total=100, vulnerable_residents=28, max_vulnerable_share=0.29)]
    inst = instance([client("a"), client("b")], [unit("u1"), unit("u2")], complexes=cxs)
    assert propose(inst).objective.placed == 1


def test_rule11_pinned_pair_stays_and_counts_toward_quota():
    inst = instance(
        [client("old", ready_since="2020-01-01"), client("accepted")],
        [unit("u1"), unit("u2")],
        municipalities=[municipality("m1", quota=1)],
        pinned=[{"client_id": "accepted", "unit_id": "u2"}],
    )
    proposal = propose(inst)
    assert pairs_of(proposal) == {("accepted", "u2")}
    assert proposal.assignments[0].pinned
    assert broken_rules(inst, [("old", "u1")]) == {11}
    assert broken_rules(inst, [("old", "u1"), ("accepted", "u2")]) == {8}


@pytest.mark.parametrize(
    "pinned, field",
    [
        ([{"client_id": "a", "unit_id": "dear"}], "unit_id"),
        ([{"client_id": "a", "unit_id": "u1"}, {"client_id": "b", "unit_id": "u2"}], None),
    ],
)
def test_rule11_pinned_pair_that_breaks_a_rule_is_an_input_error(pinned, field):
    from allocator.errors import InstanceError

    inst = instance(
        [client("a", max_rent=500.0), client("b")],
        [unit("u1", rent=400.0), unit("u2", rent=400.0), unit("dear", rent=900.0)],
        municipalities=[municipality("m1", quota=1)],
        pinned=pinned,
    )
    with pytest.raises(InstanceError) as exc:
        propose(inst)
    issue = exc.value.issues[0]
    assert issue.table == "pinned" and issue.field == field


def test_unplaced_reason_taken_by_longer_waiting():
    inst = instance([client("old", ready_since="2024-01-01"), client("new")], [unit("u1")])
    proposal = propose(inst)
    (unplaced,) = proposal.unplaced
    assert unplaced.client_id == "new"
    assert [r.code for r in unplaced.reasons] == ["taken_by_longer_waiting"]


def test_more_placements_come_before_waiting_order():
    # "old" could take u1 or u2, "young" only u1: the longest-waiting client takes u2 so that
    # both are housed.
    munis = [municipality("m1"), municipality("m2")]
    cxs = [complex_("cx1", "m1"), complex_("cx2", "m2")]
    inst = instance(
        [
            client("old", ready_since="2020-01-01"),
            client("young", preferred_municipalities=["m1"], ready_since="2026-06-01"),
        ],
        [unit("u1", "cx1"), unit("u2", "cx2")],
        municipalities=munis,
        complexes=cxs,
    )
    proposal = propose(inst)
    assert pairs_of(proposal) == {("old", "u2"), ("young", "u1")}


def test_objective_levels_may_be_reordered():
    # waiting first: the one long-waiting family beats two short-waiting singles
    munis = [municipality("m1", quota=1)]
    inst = instance(
        [client("fam", household_size=3, ready_since="2020-01-01"), client("s1"), client("s2")],
        [unit("u1")],
        municipalities=munis,
        policy={"objective": ["waiting_days", "placed"]},
    )
    assert pairs_of(propose(inst)) == {("fam", "u1")}


def test_same_input_same_proposal():
    inst = instance(
        [client(f"c{i}", ready_since="2026-01-01") for i in range(6)],
        [unit(f"u{j}") for j in range(4)],
    )
    first = propose(inst).model_dump(exclude={"solver"})
    assert all(propose(inst).model_dump(exclude={"solver"}) == first for _ in range(3))
