"""The two shapes a hard rule takes.

An *eligibility* rule (rules 2-7) judges one client–unit pair on its own. Its CP-SAT part is that
no variable is created for a pair it forbids; it also has a vectorised mask (for building the
model) and a plain per-pair test (for the validator), kept apart on purpose so that the validator
does not share code with the model it checks.

A *capacity* rule (rules 1, 8-10) limits how many placements a group of pairs may have. Its
CP-SAT part is one linear constraint per group; its check counts a finished proposal's placements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from allocator.columns import Columns
from allocator.models import Client, Instance, Unit
from allocator.variables import AllocationVars

Pair = tuple[str, str]  # (client_id, unit_id)


@dataclass(frozen=True)
class Violation:
    rule: int
    name: str
    message: str
    client_id: str | None = None
    unit_id: str | None = None

    def __str__(self) -> str:
        return f"rule {self.rule} ({self.name}): {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "name": self.name,
            "message": self.message,
            "client_id": self.client_id,
            "unit_id": self.unit_id,
        }


@dataclass(frozen=True)
class EligibilityRule:
    number: int
    name: str
    #: What a unit this rule removes is, in a coordinator's words ("rent above max_rent").
    label: str
    #: Vectorised: for pair arrays (client index, unit index), True where the rule allows.
    mask: Callable[[Columns, np.ndarray, np.ndarray], np.ndarray]
    #: Plain per-pair test, independent of ``mask``.
    allows: Callable[[Instance, Client, Unit], bool]
    #: Why a pair breaks the rule, for a violation message.
    why: Callable[[Instance, Client, Unit], str]

    def check(self, instance: Instance, pairs: Iterable[Pair]) -> list[Violation]:
        found = []
        for client_id, unit_id in pairs:
            client, unit = instance.client(client_id), instance.unit(unit_id)
            if not self.allows(instance, client, unit):
                found.append(
                    Violation(
                        self.number,
                        self.name,
                        f"client {client_id} in unit {unit_id}: {self.why(instance, client, unit)}",
                        client_id,
                        unit_id,
                    )
                )
        return found


@dataclass(frozen=True)
class GroupLimit:
    """A capacity rule's plain view: which group a unit is in and how many placements it takes."""

    #: The group a unit belongs to for this rule, or None when the rule does not cover it.
    group_of: Callable[[Instance, Unit], str | None]
    #: Placements the group may take in this run, or None when unlimited.
    limit: Callable[[Instance, str], int | None]
    #: How the group is named in messages ("municipality", "corporation", "complex").
    noun: str


@dataclass(frozen=True)
class CapacityRule:
    number: int
    name: str
    #: Adds this rule's constraints to the CP-SAT model.
    add: Callable[[Columns, AllocationVars], None]
    #: Re-checks a finished proposal without the solver.
    check: Callable[[Instance, list[Pair]], list[Violation]]
    #: For rules whose groups are named rows (8-10); used by checks and explanations.
    groups: GroupLimit | None = None
    #: Rules 8-10, columnar: the group index of every unit, and each group's limit (-1: none).
    #: Every engine (CP-SAT, flow, LP) reads its capacities from these two.
    unit_group: Callable[[Columns], np.ndarray] | None = None
    group_limit: Callable[[Columns], np.ndarray] | None = None


def group_rule(
    number: int,
    name: str,
    groups: GroupLimit,
    unit_group: Callable[[Columns], np.ndarray],
    group_limit: Callable[[Columns], np.ndarray],
) -> CapacityRule:
    """A rule of the form "placements per group <= the group's limit" (rules 8-10)."""

    def add(columns: Columns, variables: AllocationVars) -> None:
        add_group_limits(variables, unit_group(columns), group_limit(columns))

    return CapacityRule(
        number,
        name,
        add=add,
        check=group_limit_check(number, name, groups),
        groups=groups,
        unit_group=unit_group,
        group_limit=group_limit,
    )


def group_limit_check(number: int, name: str, groups: GroupLimit):
    """The check shared by rules 8-10: placements per group never above the group's limit."""

    def check(instance: Instance, pairs: list[Pair]) -> list[Violation]:
        used = Counter(
            key
            for _, unit_id in pairs
            if (key := groups.group_of(instance, instance.unit(unit_id))) is not None
        )
        found = []
        for key, count in sorted(used.items()):
            limit = groups.limit(instance, key)
            if limit is not None and count > limit:
                found.append(
                    Violation(
                        number,
                        name,
                        f"{groups.noun} {key}: {count} placements, limit {limit}",
                    )
                )
        return found

    return check


def add_group_limits(
    variables: AllocationVars, group_per_unit: np.ndarray, limits: np.ndarray
) -> None:
    """sum of x over the pairs in each group <= its limit (a negative limit means unlimited).

    A group with no more pairs than its limit needs no constraint.
    """
    for group, xs in variables.by(group_per_unit[variables.unit]):
        limit = int(limits[group])
        if 0 <= limit < len(xs):
            variables.model.add(cp_model.LinearExpr.sum(xs) <= limit)
