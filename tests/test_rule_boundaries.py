"""One boundary table per hard rule, written from DOMAIN.md's wording (just inside, just outside).

Every row goes through three views of its rule, which must all agree with the table:

- the columnar view the solver is built from (an eligibility rule's ``mask``; a capacity rule's
  groups and limits, rule 1's counts, rule 11's settled pinned pairs);
- the solver-free check the validator uses (``allows`` / ``check``);
- a CP-SAT model of the instance (the solver's own ``build_model``) with the row's pairs fixed to
  1 and the other candidate pairs to 0: FEASIBLE exactly when the table says the row is allowed.

A misreading shared by the mask and the check would still disagree with the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from ortools.sat.python import cp_model

from allocator import rules
from allocator.columns import build_columns
from allocator.decompose import settle_pinned
from allocator.eligibility import eligible_pairs
from allocator.models import Instance
from allocator.rules import (
    accessible,
    affordable,
    corporation_quota,
    household_fits,
    location,
    magic_mix,
    municipal_quota,
    not_refused,
    one_to_one,
    pinned,
    target_group,
)
from allocator.solver import build_model
from tests.builders import client, complex_, corporation, instance, municipality, unit


@dataclass(frozen=True)
class Row:
    """``pairs`` placed together; ``allowed``: what DOMAIN.md says."""

    name: str
    instance: Instance
    pairs: tuple[tuple[str, str], ...]
    allowed: bool


def one_pair(name, allowed, client_kw=None, unit_kw=None, **instance_kw) -> Row:
    inst = instance(
        [client("c1", **(client_kw or {}))], [unit("u1", **(unit_kw or {}))], **instance_kw
    )
    return Row(name, inst, (("c1", "u1"),), allowed)


ELIGIBILITY_TABLE = {
    # 2. min_occupants <= household_size <= max_occupants
    household_fits.RULE: [
        one_pair("size = min", True, {"household_size": 2}, {"min_occupants": 2}),
        one_pair("size = min - 1", False, {"household_size": 1}, {"min_occupants": 2}),
        one_pair("size = max", True, {"household_size": 3}, {"max_occupants": 3}),
        one_pair("size = max + 1", False, {"household_size": 4}, {"max_occupants": 3}),
    ],
    # 3. rent <= max_rent where max_rent is set
    affordable.RULE: [
        one_pair("rent = max_rent", True, {"max_rent": 700.0}, {"rent": 700.0}),
        one_pair("rent a cent above", False, {"max_rent": 700.0}, {"rent": 700.01}),
        one_pair("max_rent unset", True, {}, {"rent": 2500.0}),
        one_pair("max_rent 0", False, {"max_rent": 0.0}, {"rent": 1.0}),
    ],
    # 4. a client who needs_accessible only gets an accessible unit
    accessible.RULE: [
        one_pair("needs, accessible", True, {"needs_accessible": True}, {"accessible": True}),
        one_pair("needs, not accessible", False, {"needs_accessible": True}, {}),
        one_pair("no need, not accessible", True, {}, {}),
        one_pair("no need, accessible", True, {}, {"accessible": True}),
    ],
    # 5. never excluded; when preferred is non-empty only there; empty accepts every other
    location.RULE: [
        one_pair("excluded", False, {"excluded_municipalities": ["m1"]}),
        one_pair(
            "preferred elsewhere",
            False,
            {"preferred_municipalities": ["m2"]},
            municipalities=[municipality("m1"), municipality("m2")],
        ),
        one_pair(
            "preferred second",
            True,
            {"preferred_municipalities": ["m2", "m1"]},
            municipalities=[municipality("m1"), municipality("m2")],
        ),
        one_pair(
            "no preference",
            True,
            {"excluded_municipalities": ["m2"]},
            municipalities=[municipality("m1"), municipality("m2")],
        ),
    ],
    # 6. never a unit in the client's refused_units
    not_refused.RULE: [
        one_pair("refused", False, {"refused_units": ["u1"]}),
        one_pair("refused another", True, {"refused_units": ["u9"]}),
    ],
    # 7. a unit with allowed_groups only goes to a client whose target_group is listed
    target_group.RULE: [
        one_pair("group listed", True, {"target_group": "MO"}, {"allowed_groups": ["BW", "MO"]}),
        one_pair("group not listed", False, {"target_group": "jeugd"}, {"allowed_groups": ["BW"]}),
        one_pair("no reservation", True, {"target_group": "jeugd"}, {}),
        one_pair("empty list", True, {"target_group": "jeugd"}, {"allowed_groups": []}),
    ],
}


def placements(name, allowed, n, **instance_kw) -> Row:
    """``n`` clients in ``n`` units of complex cx1 (municipality m1, corporation k1)."""
    clients = [client(f"c{i}") for i in range(n)]
    units = [unit(f"u{i}") for i in range(n)]
    inst = instance(clients, units, **instance_kw)
    return Row(name, inst, tuple((f"c{i}", f"u{i}") for i in range(n)), allowed)


def mix(name, allowed, n, residents, share=None, total=10) -> Row:
    extra = {} if share is None else {"max_vulnerable_share": share}
    cx = complex_("cx1", units_total=total, vulnerable_residents=residents, **extra)
    return placements(name, allowed, n, complexes=[cx])


def pinned_rows() -> list[Row]:
    inst = instance(
        [client("c1"), client("c2")],
        [unit("u1"), unit("u2")],
        pinned=[{"client_id": "c1", "unit_id": "u1"}],
    )
    return [
        Row("pinned pair kept", inst, (("c1", "u1"), ("c2", "u2")), True),
        Row("pinned pair dropped", inst, (("c2", "u2"),), False),
        Row("pinned client moved", inst, (("c1", "u2"),), False),
    ]


def one_to_one_rows() -> list[Row]:
    inst = instance([client("c1"), client("c2")], [unit("u1"), unit("u2")])
    return [
        Row("one each", inst, (("c1", "u1"), ("c2", "u2")), True),
        Row("client twice", inst, (("c1", "u1"), ("c1", "u2")), False),
        Row("unit twice", inst, (("c1", "u1"), ("c2", "u1")), False),
        Row("nobody", inst, (), True),
    ]


CAPACITY_TABLE = {
    # 1. at most one unit per client, one client per unit
    one_to_one.RULE: one_to_one_rows(),
    # 8. placements in a municipality <= its quota
    municipal_quota.RULE: [
        placements("quota reached", True, 2, municipalities=[municipality("m1", quota=2)]),
        placements("quota + 1", False, 3, municipalities=[municipality("m1", quota=2)]),
        placements("quota 0", False, 1, municipalities=[municipality("m1", quota=0)]),
    ],
    # 9. placements in a corporation's units <= its quota, where set
    corporation_quota.RULE: [
        placements("quota reached", True, 1, corporations=[corporation("k1", quota=1)]),
        placements("quota + 1", False, 2, corporations=[corporation("k1", quota=1)]),
        placements("no quota", True, 3, corporations=[corporation("k1")]),
        placements("quota 0", False, 1, corporations=[corporation("k1", quota=0)]),
    ],
    # 10. vulnerable_residents + placements <= floor(share × units_total); at or over: nobody
    magic_mix.RULE: [
        mix("floor(3) with 2 there, 1 more", True, 1, residents=2),
        mix("floor(3) with 2 there, 2 more", False, 2, residents=2),
        mix("at the cap", False, 1, residents=3),
        mix("over the cap", False, 1, residents=4),
        mix("share 0.2999999999: cap 2", True, 1, residents=1, share=0.2999999999),
        mix("share 0.2999999999: cap 2, one over", False, 2, residents=1, share=0.2999999999),
    ],
    # 11. pinned pairs stay
    pinned.RULE: pinned_rows(),
}


def cpsat_allows(row: Row) -> bool:
    """The solver's CP-SAT model with the row's pairs fixed to 1, every other pair to 0."""
    cols = build_columns(row.instance)
    pairs = eligible_pairs(cols)
    variables = build_model(cols, pairs)
    ci, ui = cols.client_index(), cols.unit_index()
    wanted = {(ci[c], ui[u]) for c, u in row.pairs}
    if any(variables.pair(c, u) is None for c, u in wanted):
        return False  # no variable: the model forbids the pair outright
    for p, x in enumerate(variables.x):
        variables.model.add(x == int((int(pairs.client[p]), int(pairs.unit[p])) in wanted))
    status = cp_model.CpSolver().solve(variables.model)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE)
    return status != cp_model.INFEASIBLE


def columnar_allows(rule, row: Row) -> bool:
    cols = build_columns(row.instance)
    ci, ui = cols.client_index(), cols.unit_index()
    c = np.array([ci[a] for a, _ in row.pairs], dtype=np.int64)
    u = np.array([ui[b] for _, b in row.pairs], dtype=np.int64)
    if rule.number in (2, 3, 4, 5, 6, 7):
        return bool(rule.mask(cols, c, u).all())
    if rule.number == 1:
        return bool(
            np.bincount(c, minlength=1).max(initial=0) <= 1
            and np.bincount(u, minlength=1).max(initial=0) <= 1
        )
    if rule.number == 11:
        pairs = eligible_pairs(cols)
        fixed = settle_pinned(cols, pairs).fixed
        kept = set(zip(c.tolist(), u.tolist(), strict=True))
        return all((int(pairs.client[p]), int(pairs.unit[p])) in kept for p in fixed.tolist())
    caps = rule.capacities(cols)
    used = np.bincount(caps.of(c, u), minlength=len(caps.limit))
    return bool(np.all((caps.limit < 0) | (used <= caps.limit)))


def check_allows(rule, row: Row) -> bool:
    if rule.number in (2, 3, 4, 5, 6, 7):
        inst = row.instance
        return all(rule.allows(inst, inst.client(c), inst.unit(u)) for c, u in row.pairs)
    return rule.check(row.instance, list(row.pairs)) == []


CASES = [
    pytest.param(rule, row, id=f"rule{rule.number}-{row.name}")
    for table in (ELIGIBILITY_TABLE, CAPACITY_TABLE)
    for rule, rows in table.items()
    for row in rows
]


@pytest.mark.parametrize("rule, row", CASES)
def test_mask_check_and_model_agree_with_the_table(rule, row: Row) -> None:
    assert columnar_allows(rule, row) is row.allowed, "columnar view"
    assert check_allows(rule, row) is row.allowed, "solver-free check"
    assert cpsat_allows(row) is row.allowed, "CP-SAT model"


def test_every_rule_has_a_table_with_both_sides() -> None:
    tables = {**ELIGIBILITY_TABLE, **CAPACITY_TABLE}
    # rules 1-11 here; rules 12-15 have their tables in tests/test_rules_12_15.py
    assert {r.number for r in tables} == set(range(1, 12))
    assert {r.number for r in rules.all_rules()} >= set(range(1, 12))
    for rule, rows in tables.items():
        assert 2 <= len(rows) <= 6, rule.number
        assert {row.allowed for row in rows} == {True, False}, rule.number
