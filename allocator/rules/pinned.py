"""Rule 11 — pinned pairs (accepted offers) stay, and count toward rules 8-10.

A pinned pair that breaks any other rule is an input error, reported before solving.
CP-SAT: x = 1 for every pinned pair (the pair always has a variable: it passed rules 2-7).
Check: every pinned pair is in the proposal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from allocator.columns import Columns
from allocator.models import Instance
from allocator.rules.base import CapacityRule, Pair, Violation

if TYPE_CHECKING:
    from allocator.variables import AllocationVars

NUMBER, NAME = 11, "pinned pairs stay"


def add(columns: Columns, variables: AllocationVars) -> None:
    clients, units = columns.client_index(), columns.unit_index()
    for pair in columns.instance.pinned:
        position = variables.pair(clients[pair.client_id], units[pair.unit_id])
        if position is None:  # cannot happen after input checks; fail loudly rather than drop it
            raise AssertionError(f"pinned pair {pair} has no variable")
        variables.model.add(variables.x[position] == 1)


def check(instance: Instance, pairs: list[Pair]) -> list[Violation]:
    present = set(pairs)
    return [
        Violation(
            NUMBER,
            NAME,
            f"pinned pair client {p.client_id} / unit {p.unit_id} is missing",
            p.client_id,
            p.unit_id,
        )
        for p in instance.pinned
        if (p.client_id, p.unit_id) not in present
    ]


RULE = CapacityRule(NUMBER, NAME, add=add, check=check)
