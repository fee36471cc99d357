"""The core's shape: a new rule is one module and one ``register`` call. Two made-up rules of the
existing kinds, defined here and nowhere else, are enforced by every method, checked by the
validator and explained in the proposal, with no other file edited."""

from __future__ import annotations

import numpy as np
import pytest

from allocator import rules
from allocator.explain import propose
from allocator.rules.base import (
    EligibilityRule,
    GroupLimit,
    group_rule,
    index_or_none,
    unit_capacities,
)
from allocator.solver import SolverSettings
from allocator.validator import validate
from tests.builders import client, instance, unit

# A unit mask: "a single person gets at most 3 rooms".
NO_BIG_UNIT_FOR_ONE = EligibilityRule(
    number=90,
    name="no big unit for one person",
    label="more than 3 rooms for one person",
    mask=lambda cols, ci, ui: (
        (cols.household[ci] > 1)
        | (cols.cached("rooms", lambda c: np.array([u.rooms for u in c.instance.units]))[ui] <= 3)
    ),
    allows=lambda inst, c, u: c.household_size > 1 or u.rooms <= 3,
    why=lambda inst, c, u: f"{u.rooms} rooms for one person",
)


# A cap on a group of units: "at most one placement per street" (the street is in the unit id).
def street(unit_id: str) -> str:
    return unit_id.split("-")[0]


def _capacities(cols):
    group, keys = index_or_none([street(u) for u in cols.unit_ids])
    return unit_capacities(group, [1] * len(keys) + [-1], [*keys, None])


ONE_PER_STREET = group_rule(
    91,
    "one per street",
    GroupLimit(
        group_of=lambda inst, c, u: street(u.id),
        limit=lambda inst, key: 1,
        noun="street",
        code="street_cap",
        title=lambda inst, key: f"street {key}",
        full_text=lambda inst, key, used: f"street {key} already has {used} of 1 newcomer",
    ),
    _capacities,
)


def street_instance():
    return instance(
        [
            client("old", ready_since="2024-01-01"),
            client("mid", ready_since="2025-01-01"),
            client("new"),
        ],
        [unit("elm-1"), unit("elm-2"), unit("oak-1", rooms=5)],
    )


@pytest.mark.parametrize("method", ["auto", "lp", "parts", "cp-sat"])
def test_a_registered_unit_mask_and_street_cap_are_enforced_checked_and_explained(method):
    inst = street_instance()
    # without the made-up rules everyone is housed
    assert propose(inst).objective.placed == 3
    with rules.registered(NO_BIG_UNIT_FOR_ONE), rules.registered(ONE_PER_STREET):
        proposal = propose(inst, SolverSettings(method=method))
        pairs = [(a.client_id, a.unit_id) for a in proposal.assignments]
        # enforced: oak-1 has 5 rooms (nobody here is more than one person), elm is one street
        assert proposal.objective.placed == 1
        assert pairs in ([("old", "elm-1")], [("old", "elm-2")])
        assert validate(inst, pairs) == []
        # checked
        broken = {v.rule for v in validate(inst, [("old", "elm-1"), ("mid", "elm-2")])}
        assert broken == {91}
        assert {v.rule for v in validate(inst, [("old", "oak-1")])} == {90}
        # explained: the street's own code and sentence, the mask's label
        by_client = {u.client_id: u for u in proposal.unplaced}
        codes = {r.code for r in by_client["mid"].reasons}
        assert "street_cap" in codes
        (street_reason,) = [r for r in by_client["mid"].reasons if r.code == "street_cap"]
        assert street_reason.message.startswith("Street elm already has 1 of 1 newcomer")
        assert street_reason.names == ["elm"] and street_reason.count == 1
        assert by_client["mid"].removed_by_rule == {"more than 3 rooms for one person": 1}
        assert any(s.code == "street_cap" and s.used == 1 for s in proposal.summaries.limits)
    # unregistered again: nothing of it is left behind
    assert propose(inst).objective.placed == 3


def test_the_validator_and_the_rules_import_no_solver():
    """The solver-free check stays solver-free: importing the validator (and every rule module
    through the registry) loads nothing of OR-Tools."""
    import subprocess
    import sys

    code = (
        "import sys, allocator.validator, allocator.rules\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'ortools')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
