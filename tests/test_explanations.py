"""Explanations a coordinator can act on, each stated count compared with a count made
independently: from the rules' plain (solver-free) views and the validator, never from the
columnar code the explanations use.

For an unplaced client, every eligible unit falls in one class: held by someone; without room
from the start of the run; blocked by one full limit alone (raising that limit alone would open
it); blocked by several full limits together; or not chosen. The counts add up to the eligible
units.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from allocator import rules
from allocator.explain import forced_cost, make_proposal, propose
from allocator.generator import generate
from allocator.io import read_instance
from allocator.models import Instance, Proposal
from allocator.solver import solve
from allocator.validator import objective_of, validate
from tests.builders import client, complex_, instance, unit

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "westfriesland" / "instance.json"
LIMIT_CODES = {r.groups.code for r in rules.group_limits()}


def plain_eligible(inst: Instance, client_id: str) -> list[str]:
    c = inst.client(client_id)
    return [u.id for u in inst.units if all(r.allows(inst, c, u) for r in rules.eligibility())]


def independent_classes(inst: Instance, proposal: Proposal, client_id: str) -> Counter:
    """The class of each eligible unit, judged with the rules' plain views. A unit without room
    for this client from the start of the run is "closed" even when someone else holds it (it
    could not be this client's in this run whatever the others got)."""
    pairs = [(a.client_id, a.unit_id) for a in proposal.assignments]
    held = {u for _, u in pairs}
    c = inst.client(client_id)
    out: Counter = Counter()
    for unit_id in plain_eligible(inst, client_id):
        u = inst.unit(unit_id)
        closed, full = False, []
        for rule in rules.group_limits():
            key = rule.groups.group_of(inst, c, u)
            if key is None or (limit := rule.groups.limit(inst, key)) is None:
                continue
            used = sum(
                1
                for pc, pu in pairs
                if rule.groups.group_of(inst, inst.client(pc), inst.unit(pu)) == key
            )
            closed |= limit == 0
            if used + 1 > limit:
                full.append((rule.groups.code, rule.groups.label(key)))
        if closed:
            out["closed"] += 1
        elif unit_id in held:
            out["taken"] += 1
        elif len(full) == 1:
            out[("alone", *full[0])] += 1
        elif full:
            out["together"] += 1
            for f in full:
                out[("with", *f)] += 1
        else:
            out["not_chosen"] += 1
    return out


def stated_classes(u) -> Counter:
    out: Counter = Counter()
    for r in u.reasons:
        if r.code in (
            "taken_by_pinned",
            "equally_good",
            "taken_by_longer_waiting",
            "taken_to_place_more",
        ):
            out["taken"] += r.count
        elif r.code in ("closed_before_run", "cannot_be_placed"):
            out["closed"] += r.count
        elif r.code == "blocked_together":
            out["together"] += r.count
        elif r.code == "not_chosen":
            out["not_chosen"] += r.count
        elif r.code in LIMIT_CODES:
            (name,) = r.names
            if r.count:
                out[("alone", r.code, name)] += r.count
            if r.together:
                out[("with", r.code, name)] += r.together
    return +out


def instances():
    yield "demo", read_instance(DEMO)
    for seed in range(3):
        yield f"generated {seed}", generate(120, 400, 8, seed, rules_12_15=True, pinned=2)
    yield "generated without 12-15", generate(120, 400, 8, 7, pinned=2)


CASES = list(instances())


@pytest.fixture(scope="module", params=range(len(CASES)), ids=[c[0] for c in CASES])
def case(request):
    inst = CASES[request.param][1]
    return inst, propose(inst)


def test_counts_add_up_and_match_an_independent_classification(case):
    inst, proposal = case
    checked = 0
    for u in proposal.unplaced:
        eligible = plain_eligible(inst, u.client_id)
        assert u.eligible_units == len(eligible)
        if not eligible:
            continue
        assert sum(r.count for r in u.reasons) == u.eligible_units, u
        assert stated_classes(u) == independent_classes(inst, proposal, u.client_id), u.client_id
        checked += 1
    assert checked


def test_cannot_be_placed_comes_first_and_only_when_no_unit_has_room(case):
    inst, proposal = case
    for u in proposal.unplaced:
        codes = [r.code for r in u.reasons]
        classes = independent_classes(inst, proposal, u.client_id)
        if "cannot_be_placed" in codes:
            assert codes[0] == "cannot_be_placed"
            assert u.reasons[0].message.startswith("Cannot be placed in this run")
            assert classes["closed"] == u.eligible_units
        elif u.eligible_units:
            assert classes["closed"] < u.eligible_units


def test_removed_by_rule_alone_and_with_others(case):
    inst, proposal = case
    for u in proposal.unplaced[:40]:
        c = inst.client(u.client_id)
        alone, shared = Counter(), Counter()
        for row in inst.units:
            failing = [r.label for r in rules.eligibility() if not r.allows(inst, c, row)]
            for label in failing:
                (alone if len(failing) == 1 else shared)[label] += 1
        assert u.removed_by_rule == dict(alone)
        assert u.removed_with_others == dict(shared)


def test_equally_good_claims_hold(case):
    inst, proposal = case
    pairs = {(a.client_id, a.unit_id) for a in proposal.assignments}
    holder = {u: c for c, u in pairs}
    for u in proposal.unplaced:
        for r in u.reasons:
            if r.code != "equally_good":
                continue
            for unit_id in r.names:
                swapped = pairs - {(holder[unit_id], unit_id)} | {(u.client_id, unit_id)}
                assert validate(inst, swapped) == []
                assert objective_of(inst, swapped) == proposal.objective


def test_demo_clients_from_the_issue():
    inst = read_instance(DEMO)
    proposal = propose(inst)
    by_id = {u.client_id: u for u in proposal.unplaced}
    # WF-C074: every eligible unit is in a building at its cap before the run
    first = by_id["WF-C074"].reasons[0]
    assert first.code == "cannot_be_placed" and first.count == by_id["WF-C074"].eligible_units
    # WF-C008: reasons no longer add up to more than the eligible units
    assert sum(r.count for r in by_id["WF-C008"].reasons) == by_id["WF-C008"].eligible_units
    # WF-C077: rent removes units only together with other rules, and says so
    assert "rent above max_rent" not in by_id["WF-C077"].removed_by_rule
    assert by_id["WF-C077"].removed_with_others["rent above max_rent"] == 21


def test_a_tie_is_said_to_be_one():
    # two clients who waited equally long, one unit: either proposal is equally good
    inst = instance([client("a"), client("b")], [unit("u1")])
    proposal = propose(inst)
    (u,) = proposal.unplaced
    assert [r.code for r in u.reasons] == ["equally_good"]
    assert "an equally good proposal could place you instead of" in u.reasons[0].message.lower()


def test_a_limit_that_decides_nothing_alone_says_so():
    # the unit is in a full municipality AND a full building: neither alone opens it
    cxs = [complex_("cx1", units_total=10, vulnerable_residents=2)]
    inst = instance(
        [client("old", ready_since="2024-01-01"), client("new")],
        [unit("u1"), unit("u2")],
        complexes=cxs,
        municipalities=[{"id": "m1", "name": "M1", "quota": 1}],
    )
    proposal = propose(inst)
    (u,) = proposal.unplaced
    by_code = {r.code: r for r in u.reasons}
    assert by_code["blocked_together"].count == 1
    assert by_code["mix_cap"].count == 0 and by_code["mix_cap"].together == 1
    assert "Raising it alone opens no unit" in by_code["mix_cap"].message
    assert "Raising it alone opens no unit" in by_code["municipality_quota"].message


def test_forced_cost_says_better_or_worse_in_words():
    inst = instance(
        [client("old", ready_since="2024-01-01"), client("new", ready_since="2026-06-01")],
        [unit("u1")],
    )
    base = solve(inst)
    cost = forced_cost(inst, "new", base)
    assert cost.possible
    assert "worse" in cost.message and "waiting" in cost.message
    assert "-" not in cost.message.split(":", 1)[1]  # no bare signed numbers
    assert make_proposal(inst, base).assignments[0].client_id == "old"


def test_alternatives_for_a_client_with_an_accepted_offer_say_it_would_be_withdrawn():
    from allocator.alternatives import alternatives

    inst = instance(
        [client("a"), client("b", ready_since="2025-01-01")],
        [unit("u1"), unit("u2", rent=500.0)],
        pinned=[{"client_id": "a", "unit_id": "u1"}],
    )
    _, found = alternatives(inst, "a", k=3)
    by_unit = {a.unit_id: a for a in found}
    assert by_unit["u1"].withdraws is None and by_unit["u1"].change == "equally good on every level"
    assert "withdraws a's accepted offer of unit u1" in by_unit["u2"].withdraws
    # b, who waited longer, loses u2 to a while u1 goes free: b moves there, nothing lost
    assert by_unit["u2"].objective is not None
