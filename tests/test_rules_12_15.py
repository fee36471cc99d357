"""Rules 12-15, each on a boundary table written from DOMAIN.md's wording: just inside, just
outside, over, pinned pairs counting, fields absent. Every row runs through three judges that must
agree with the table and with each other: the rule's columnar part (its mask, or its capacities
with the pinned pairs subtracted), its solver-free check (the validator), and a CP-SAT model of
every rule with the pair fixed (FEASIBLE / INFEASIBLE)."""

from __future__ import annotations

import numpy as np
import pytest
from ortools.sat.python import cp_model

from allocator import rules
from allocator.columns import build_columns
from allocator.eligibility import eligible_pairs
from allocator.explain import propose
from allocator.models import Instance
from allocator.rules import composition, neighbourhood_quota, staircases, support
from allocator.solver import build_model
from allocator.validator import validate
from tests.builders import client, complex_, instance, municipality, unit


def columnar_allows(rule_number: int, inst: Instance, pair: tuple[str, str]) -> bool:
    """The rule's columnar part: its mask, and its capacities less the pinned pairs."""
    cols = build_columns(inst)
    ci = np.array([cols.client_index()[pair[0]]])
    ui = np.array([cols.unit_index()[pair[1]]])
    ok = True
    for rule in rules.all_rules():
        if rule.number != rule_number:
            continue
        if isinstance(rule, rules.EligibilityRule):
            ok &= bool(rule.mask(cols, ci, ui)[0])
        elif rule.capacities is not None:
            c = rule.capacities(cols)
            pins = [
                (cols.client_index()[p.client_id], cols.unit_index()[p.unit_id])
                for p in inst.pinned
            ]
            pc = np.array([p[0] for p in pins], dtype=np.int64)
            pu = np.array([p[1] for p in pins], dtype=np.int64)
            used = np.bincount(c.of(pc, pu), minlength=len(c.limit))
            g = int(c.of(ci, ui)[0])
            ok &= bool(c.limit[g] < 0 or c.limit[g] - used[g] >= 1)
    return ok


def check_allows(rule_number: int, inst: Instance, pair: tuple[str, str]) -> bool:
    pairs = [(p.client_id, p.unit_id) for p in inst.pinned] + [pair]
    return not [v for v in validate(inst, pairs) if v.rule == rule_number]


def cp_sat_allows(inst: Instance, pair: tuple[str, str]) -> bool:
    """A CP-SAT model of every rule with the pair fixed: feasible or not."""
    cols = build_columns(inst)
    pairs = eligible_pairs(cols)
    variables = build_model(cols, pairs)
    position = variables.pair(cols.client_index()[pair[0]], cols.unit_index()[pair[1]])
    if position is None:
        return False  # no variable: an eligibility rule forbids the pair
    variables.model.add(variables.x[position] == 1)
    status = cp_model.CpSolver().solve(variables.model)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE)
    return status != cp_model.INFEASIBLE


def judge(rule_number: int, inst: Instance, pair: tuple[str, str], expected: bool) -> None:
    got = {
        "columns": columnar_allows(rule_number, inst, pair),
        "check": check_allows(rule_number, inst, pair),
        "cp-sat": cp_sat_allows(inst, pair),
    }
    assert got == dict.fromkeys(got, expected)


# ---------------------------------------------------------------------------------------------
# Rule 12: group_residents[g] + placements of g-clients <= floor(share_g × units_total)


def rule12(residents, share=0.25, total=10, group="jeugd", pin=False, cap_field=True):
    cx = complex_("cx1", units_total=total, max_vulnerable_share=1.0)
    if cap_field:
        cx["group_max_share"] = {"jeugd": share}
        if residents is not None:
            cx["group_residents"] = {"jeugd": residents}
    clients = [client("c", target_group=group), client("p", target_group="jeugd")]
    return instance(
        clients,
        [unit("u1"), unit("u2")],
        complexes=[cx],
        pinned=[{"client_id": "p", "unit_id": "u2"}] if pin else [],
    )


RULE12_TABLE = [
    # (residents, share, units_total, client's group, a pinned jeugd pair, fields set, allowed)
    (1, 0.25, 10, "jeugd", False, True, True),  # 1 + 1 <= floor(2.5) = 2: just inside
    (2, 0.25, 10, "jeugd", False, True, False),  # 2 + 1 > 2: just outside
    (3, 0.25, 10, "jeugd", False, True, False),  # over the cap already: takes nobody more
    (0, 0.25, 10, "jeugd", True, True, True),  # 0 + pinned 1 + 1 = 2
    (1, 0.25, 10, "jeugd", True, True, False),  # 1 + pinned 1 + 1 = 3 > 2: the pin counts
    (2, 0.25, 10, "BW", False, True, True),  # another group is not capped by jeugd's share
    (None, 0.25, 10, "jeugd", False, True, True),  # group_residents absent: 0 living there
    (2, 0.25, 10, "jeugd", False, False, True),  # group_max_share absent: no rule 12
    (28, 0.29, 100, "jeugd", False, True, True),  # floor(0.29 × 100) = 29 exactly
    (0, 0.0, 10, "jeugd", False, True, False),  # share 0: nobody of the group
]


@pytest.mark.parametrize("residents, share, total, group, pin, fields, allowed", RULE12_TABLE)
def test_rule12_boundary(residents, share, total, group, pin, fields, allowed):
    inst = rule12(residents, share, total, group, pin, fields)
    judge(composition.NUMBER, inst, ("c", "u1"), allowed)


# ---------------------------------------------------------------------------------------------
# Rule 13: staircase_vulnerable_residents[s] + placements in units of s <= max


def rule13(maximum, residents, staircase="A", pinned_in=None):
    cx = complex_("cx1")
    if maximum is not None:
        cx["max_vulnerable_per_staircase"] = maximum
    if residents is not None:
        cx["staircase_vulnerable_residents"] = {"A": residents}
    units = [
        unit("u1", staircase_id=staircase),
        unit("uA", staircase_id="A"),
        unit("uB", staircase_id="B"),
    ]
    pinned = [{"client_id": "p", "unit_id": pinned_in}] if pinned_in else []
    return instance([client("c"), client("p")], units, complexes=[cx], pinned=pinned)


RULE13_TABLE = [
    # (max, residents of A, staircase of the unit, pinned pair's unit, allowed)
    (1, 0, "A", None, True),  # 0 + 1 <= 1: just inside
    (1, 1, "A", None, False),  # 1 + 1 > 1: just outside
    (1, 2, "A", None, False),  # over already
    (2, 1, "A", None, True),
    (0, None, "A", None, False),  # max 0: nobody
    (1, 1, None, None, True),  # a unit without a staircase is not limited
    (None, 1, "A", None, True),  # max absent: no rule 13
    (1, 0, "A", "uA", False),  # the pinned pair in A counts
    (1, 0, "A", "uB", True),  # a pinned pair in B does not
    (1, None, "A", None, True),  # residents absent: 0 there
]


@pytest.mark.parametrize("maximum, residents, staircase, pinned_in, allowed", RULE13_TABLE)
def test_rule13_boundary(maximum, residents, staircase, pinned_in, allowed):
    inst = rule13(maximum, residents, staircase, pinned_in)
    judge(staircases.NUMBER, inst, ("c", "u1"), allowed)


# ---------------------------------------------------------------------------------------------
# Rule 14: placements in the complexes of a neighbourhood <= its quota


def rule14(quota, in_neighbourhood=True, pinned_in=None, table=True):
    cxs = [
        complex_("cx1", neighbourhood_id="nb1" if in_neighbourhood else None),
        complex_("cx2", neighbourhood_id="nb1" if table else None),
        complex_("cx3"),
    ]
    units = [unit("u1", "cx1"), unit("u2", "cx2"), unit("u3", "cx3")]
    pinned = [{"client_id": "p", "unit_id": pinned_in}] if pinned_in else []
    neighbourhoods = [{"id": "nb1", "municipality_id": "m1", "quota": quota}] if table else []
    return instance(
        [client("c"), client("p")],
        units,
        complexes=cxs,
        pinned=pinned,
        neighbourhoods=neighbourhoods,
    )


RULE14_TABLE = [
    # (quota, unit's complex in the neighbourhood, pinned pair's unit, table given, allowed)
    (1, True, None, True, True),  # 0 + 1 <= 1
    (0, True, None, True, False),  # quota 0
    (1, True, "u2", True, False),  # a pinned pair in another complex of it counts
    (2, True, "u2", True, True),
    (1, True, "u3", True, True),  # a pinned pair outside it does not
    (0, False, None, True, True),  # a complex in no neighbourhood is not limited
    (0, False, None, False, True),  # no neighbourhoods table at all
]


@pytest.mark.parametrize("quota, inside, pinned_in, table, allowed", RULE14_TABLE)
def test_rule14_boundary(quota, inside, pinned_in, table, allowed):
    inst = rule14(quota, inside, pinned_in, table)
    judge(neighbourhood_quota.NUMBER, inst, ("c", "u1"), allowed)


# ---------------------------------------------------------------------------------------------
# Rule 15: only in a listed municipality; its clients placed there <= places


def rule15(places, provider="sp1", unit_in="m1", pinned_client_provider=None, listed=True):
    munis = [municipality("m1"), municipality("m2")]
    cxs = [complex_("cx1", "m1"), complex_("cx2", "m2")]
    units = [unit("u1", "cx1" if unit_in == "m1" else "cx2"), unit("u2", "cx1")]
    capacity = [{"municipality_id": "m1", "places": places}] if listed else []
    # "none": no pinned pair; None: a pinned client without a provider
    p_kw = {"support_provider_id": "sp1"} if pinned_client_provider == "sp1" else {}
    return instance(
        [client("c", support_provider_id=provider), client("p", **p_kw)],
        units,
        municipalities=munis,
        complexes=cxs,
        support_providers=[{"id": "sp1", "name": "Provider X", "capacity": capacity}],
        pinned=[{"client_id": "p", "unit_id": "u2"}] if pinned_client_provider != "none" else [],
    )


RULE15_TABLE = [
    # (places, client's provider, unit's municipality, pinned client's provider, allowed)
    (1, "sp1", "m1", "none", True),  # 0 + 1 <= 1
    (0, "sp1", "m1", "none", False),  # no places
    (1, "sp1", "m2", "none", False),  # m2 is not listed by the provider
    (1, "sp1", "m1", "sp1", False),  # a pinned client of the provider there counts
    (2, "sp1", "m1", "sp1", True),
    (1, "sp1", "m1", None, True),  # a pinned client without a provider does not
    (0, None, "m1", "none", True),  # a client without a provider is not limited
    (0, None, "m2", "none", True),  # ... anywhere
]


@pytest.mark.parametrize("places, provider, unit_in, pinned_provider, allowed", RULE15_TABLE)
def test_rule15_boundary(places, provider, unit_in, pinned_provider, allowed):
    inst = rule15(places, provider, unit_in, pinned_provider)
    judge(support.NUMBER, inst, ("c", "u1"), allowed)


def test_an_instance_without_the_new_fields_means_what_it_did():
    inst = instance([client("a"), client("b")], [unit("u1"), unit("u2")])
    assert inst.neighbourhoods == [] and inst.support_providers == []
    proposal = propose(inst)
    assert proposal.objective.placed == 2
    assert proposal.summaries.limits == []


def test_explanations_name_the_binding_new_rule_and_its_object():
    # support by Provider X in m1 has 1 place: the longer-waiting client takes it
    inst = instance(
        [
            client("old", ready_since="2025-01-01", support_provider_id="sp1"),
            client("new", support_provider_id="sp1"),
        ],
        [unit("u1"), unit("u2")],
        support_providers=[
            {
                "id": "sp1",
                "name": "Provider X",
                "capacity": [{"municipality_id": "m1", "places": 1}],
            }
        ],
    )
    proposal = propose(inst)
    assert [a.client_id for a in proposal.assignments] == ["old"]
    (unplaced,) = proposal.unplaced
    (reason,) = [r for r in unplaced.reasons if r.code == "support_places"]
    assert reason.message.startswith("Support by Provider X in M1 is full: 1 of 1 places used")
    assert reason.names == ["sp1/m1"] and reason.count == 1
    (line,) = [s for s in proposal.summaries.limits if s.code == "support_places"]
    assert (line.room, line.used, line.left) == (1, 1, 0)
