"""Rule 1 — a client gets at most one unit; a unit gets at most one client.

CP-SAT: one ``AddAtMostOne`` over each client's pairs and one over each unit's pairs.
Check: no client and no unit appears twice in the proposal.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from allocator.columns import Columns
from allocator.models import Instance
from allocator.rules.base import CapacityRule, Pair, Violation

if TYPE_CHECKING:
    from allocator.variables import AllocationVars

NUMBER, NAME = 1, "one unit per client, one client per unit"


def add(columns: Columns, variables: AllocationVars) -> None:
    for side in (variables.client, variables.unit):
        for _, xs in variables.by(side):
            if len(xs) > 1:
                variables.model.add_at_most_one(xs)


def check(instance: Instance, pairs: list[Pair]) -> list[Violation]:
    found = []
    for position, noun in ((0, "client"), (1, "unit")):
        counts = Counter(pair[position] for pair in pairs)
        for key, count in sorted(counts.items()):
            if count > 1:
                found.append(
                    Violation(
                        NUMBER,
                        NAME,
                        f"{noun} {key} appears in {count} assignments",
                        key if noun == "client" else None,
                        key if noun == "unit" else None,
                    )
                )
    return found


RULE = CapacityRule(NUMBER, NAME, add=add, check=check)
