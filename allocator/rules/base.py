"""The shapes a hard rule takes, and what every rule carries.

An *eligibility* rule (rules 2-7, and rule 15's list of municipalities) judges one client–unit
pair on its own. Its CP-SAT part is that no variable is created for a pair it forbids; it also has
a vectorised mask (for building the model) and a plain per-pair test (for the validator), kept
apart on purpose so that the validator does not share code with the model it checks.

A *capacity* rule (rules 1, 8-15) limits how many placements a group of pairs may have. Its
CP-SAT part is one linear constraint per group; its check counts a finished proposal's placements.
A *group limit* is a capacity rule of the form "placements per named group <= the group's room":
a group of units (municipality, corporation, complex, staircase, neighbourhood: rules 8-10, 13,
14) or a group of pairs that depends on the client too (a target group in a complex, a support
provider in a municipality: rules 12, 15). A group limit also owns its reason code and the
sentence that explains a block, so explanations and summaries loop over the registered rules.

Nothing here imports the solver: the validator and the checks run without OR-Tools.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from allocator.columns import Columns
from allocator.models import Client, Instance, LimitRef, Unit

if TYPE_CHECKING:  # the model's variables; only the solver's side calls ``add``
    from allocator.variables import AllocationVars

Pair = tuple[str, str]  # (client_id, unit_id)


@dataclass(frozen=True)
class Violation:
    rule: int
    name: str
    message: str
    client_id: str | None = None
    unit_id: str | None = None
    #: A group limit over its room: which group (as a proposal's reasons name it), how many
    #: placements it would take and how many it has room for; ``message`` says the same in
    #: English. For a caller that words it in another language without reading ``message``.
    limit: LimitRef | None = None
    placements: int | None = None
    room: int | None = None

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
    """A group limit's plain view (no numpy): which group a pair is in, the group's room, and
    how a block is explained."""

    #: The group a pair belongs to for this rule, or None when the rule does not cover it.
    group_of: Callable[[Instance, Client, Unit], Hashable | None]
    #: Placements the group may take in this run, or None when unlimited.
    limit: Callable[[Instance, Hashable], int | None]
    #: How the group is named in messages ("municipality", "corporation", "complex").
    noun: str
    #: The reason code of an unplaced client's line when this limit blocks a unit.
    code: str
    #: The group in a coordinator's words ("Hoorn", "support by Provider X in Hoorn").
    title: Callable[[Instance, Hashable], str]
    #: Why the group is full, given the placements of this run in it
    #: ("support by Provider X in Hoorn is full: 3 of 3 places used").
    full_text: Callable[[Instance, Hashable, int], str]

    def label(self, key: Hashable) -> str:
        """The key as one string (for ``names`` in a proposal)."""
        return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


@dataclass(frozen=True)
class Capacities:
    """A group limit in columns. A pair's group is ``unit_group[unit]`` for a group of units, or
    ``client_group[client] * width + unit_group[unit]`` for a group that depends on the client.
    ``limit`` is the room per group (-1: unlimited) and ``keys`` the plain key of each group."""

    unit_group: np.ndarray
    limit: np.ndarray
    keys: list[Hashable]
    client_group: np.ndarray | None = None
    width: int = 0

    def of(self, client: np.ndarray, unit: np.ndarray) -> np.ndarray:
        if self.client_group is None:
            return self.unit_group[unit]
        return self.client_group[client] * self.width + self.unit_group[unit]


@dataclass(frozen=True)
class CapacityRule:
    number: int
    name: str
    #: Adds this rule's constraints to the CP-SAT model.
    add: Callable[[Columns, AllocationVars], None]
    #: Re-checks a finished proposal without the solver.
    check: Callable[[Instance, list[Pair]], list[Violation]]
    #: For group limits: the plain view, used by checks and explanations.
    groups: GroupLimit | None = None
    #: For group limits: the same groups in columns. Every engine (CP-SAT, flow, LP, greedy,
    #: explanations) reads its capacities from here.
    capacities: Callable[[Columns], Capacities] | None = None
    #: True when the rule caps groups of clients, not only of units (a pair's group depends on
    #: its client): then no path that groups units alone (the nested flow) models it.
    on_clients: bool = False


def group_rule(
    number: int,
    name: str,
    groups: GroupLimit,
    capacities: Callable[[Columns], Capacities],
    *,
    on_clients: bool = False,
) -> CapacityRule:
    """A rule of the form "placements per group <= the group's room"."""

    def add(columns: Columns, variables: AllocationVars) -> None:
        caps = capacities(columns)
        variables.add_limits(caps.of(variables.client, variables.unit), caps.limit)

    return CapacityRule(
        number,
        name,
        add=add,
        check=group_limit_check(number, name, groups),
        groups=groups,
        capacities=capacities,
        on_clients=on_clients,
    )


def group_limit_check(number: int, name: str, groups: GroupLimit):
    """The check shared by group limits: placements per group never above the group's room."""

    def check(instance: Instance, pairs: list[Pair]) -> list[Violation]:
        used = Counter(
            key
            for client_id, unit_id in pairs
            if (
                key := groups.group_of(instance, instance.client(client_id), instance.unit(unit_id))
            )
            is not None
        )
        found = []
        for key, count in sorted(used.items(), key=lambda kv: groups.label(kv[0])):
            limit = groups.limit(instance, key)
            if limit is not None and count > limit:
                found.append(
                    Violation(
                        number,
                        name,
                        f"{groups.noun} {groups.label(key)}: {count} placements, limit {limit}",
                        limit=LimitRef(code=groups.code, group=groups.label(key)),
                        placements=count,
                        room=limit,
                    )
                )
        return found

    return check


def unit_capacities(unit_group: np.ndarray, limit: np.ndarray, keys: list[Hashable]) -> Capacities:
    return Capacities(np.asarray(unit_group, dtype=np.int64), np.asarray(limit, np.int64), keys)


def index_or_none(keys: list[Hashable | None]) -> tuple[np.ndarray, list[Hashable]]:
    """Dense group indices for keys, with every None sent to one extra group at the end (which
    callers leave unlimited): every pair has a group, so no engine meets a negative index."""
    known = sorted({k for k in keys if k is not None}, key=str)
    index = {k: i for i, k in enumerate(known)}
    return np.array([index.get(k, len(known)) for k in keys], dtype=np.int64), known
