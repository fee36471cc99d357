"""Rule 12 — composition per group: for every complex and every group ``g`` in its
``group_max_share``, ``group_residents[g] + placements of clients with target_group g <=
floor(share_g × units_total)`` (in addition to rule 10). A complex whose group is already at or
over its cap takes nobody more of that group.

The group of a pair depends on its client (the target group) as well as its unit (the complex):
a cap on a group of clients, which the nested flow does not model.
CP-SAT: for each complex and capped group, sum of x over pairs of that group's clients in the
complex's units <= the group's room.
Check: count the proposal's placements per complex and target group.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns
from allocator.models import Complex, Instance, mix_cap
from allocator.rules.base import Capacities, GroupLimit, group_rule
from allocator.rules.magic_mix import complex_name

NUMBER, NAME = 12, "composition per group"


def group_cap(complex_: Complex, group: str) -> int:
    """floor(share_g × units_total): the same cap formula as rule 10."""
    return mix_cap((complex_.group_max_share or {})[group], complex_.units_total)


def room(complex_: Complex, group: str) -> int | None:
    """Placements of the group the complex can still take, or None when it is not capped."""
    if group not in (complex_.group_max_share or {}):
        return None
    return max(0, group_cap(complex_, group) - (complex_.group_residents or {}).get(group, 0))


def _limit(inst: Instance, key) -> int | None:
    return room(inst.complex(key[0]), key[1])


def _group_of(inst: Instance, client, unit):
    capped = inst.complex(unit.complex_id).group_max_share or {}
    return (unit.complex_id, client.target_group) if client.target_group in capped else None


def _full_text(inst: Instance, key, used: int) -> str:
    cx, group = inst.complex(key[0]), key[1]
    before = (cx.group_residents or {}).get(group, 0)
    return (
        f"the share of group {group} in {complex_name(inst, key[0])} is full: "
        f"{before + used} of {group_cap(cx, group)} households "
        f"(at most {cx.group_max_share[group]:.0%} of {cx.units_total})"
    )


def _capacities(cols: Columns) -> Capacities:
    def build(cols: Columns) -> Capacities:
        complexes = cols.instance.complexes
        limit = np.full((len(cols.groups), len(complexes)), -1, dtype=np.int64)
        for x, cx in enumerate(complexes):
            for g, group in enumerate(cols.groups):
                left = room(cx, group)
                if left is not None:
                    limit[g, x] = left
        keys = [(cx.id, group) for group in cols.groups for cx in complexes]
        return Capacities(cols.unit_complex, limit.ravel(), keys, cols.group, len(complexes))

    return cols.cached("rule12", build)


GROUPS = GroupLimit(
    group_of=_group_of,
    limit=_limit,
    noun="complex/group",
    code="group_share",
    title=lambda inst, key: f"the share of group {key[1]} in {complex_name(inst, key[0])}",
    full_text=_full_text,
)

RULE = group_rule(NUMBER, NAME, GROUPS, _capacities, on_clients=True)
