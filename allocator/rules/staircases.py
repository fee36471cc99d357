"""Rule 13 — spreading over staircases: where a complex sets ``max_vulnerable_per_staircase``,
for every staircase ``s`` of its units, ``staircase_vulnerable_residents[s] + placements in units
of s <= max``. Units without a ``staircase_id`` are not limited by this rule; a staircase already
at or over the maximum takes nobody more.

A staircase lies inside one complex: its group is (complex, staircase), a group of units.
CP-SAT: for each limited staircase, sum of x over pairs of its units <= its room.
Check: count the proposal's placements per staircase.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns
from allocator.models import Instance
from allocator.rules.base import Capacities, GroupLimit, group_rule, index_or_none
from allocator.rules.magic_mix import complex_name

NUMBER, NAME = 13, "spreading over staircases"


def _group_of(inst: Instance, client, unit):
    limited = inst.complex(unit.complex_id).max_vulnerable_per_staircase is not None
    return (unit.complex_id, unit.staircase_id) if limited and unit.staircase_id else None


def _before(inst: Instance, key) -> int:
    return (inst.complex(key[0]).staircase_vulnerable_residents or {}).get(key[1], 0)


def _limit(inst: Instance, key) -> int:
    return max(0, inst.complex(key[0]).max_vulnerable_per_staircase - _before(inst, key))


def _capacities(cols: Columns) -> Capacities:
    def build(cols: Columns) -> Capacities:
        inst = cols.instance
        if any(cx.max_vulnerable_per_staircase is not None for cx in inst.complexes):
            group, keys = index_or_none([_group_of(inst, None, u) for u in inst.units])
        else:
            # no complex limits its staircases: every unit is in the one unlimited group, without
            # asking unit by unit (what index_or_none gives for all None)
            group, keys = np.zeros(len(inst.units), dtype=np.int64), []
        limit = [_limit(inst, key) for key in keys] + [-1]  # the last group: not limited
        return Capacities(group, np.array(limit, dtype=np.int64), [*keys, None])

    return cols.cached("rule13", build)


GROUPS = GroupLimit(
    group_of=_group_of,
    limit=_limit,
    noun="staircase",
    code="staircase",
    title=lambda inst, key: f"staircase {key[1]} of {complex_name(inst, key[0])}",
    full_text=lambda inst, key, used: (
        f"staircase {key[1]} of {complex_name(inst, key[0])} is full: "
        f"{_before(inst, key) + used} of {inst.complex(key[0]).max_vulnerable_per_staircase} "
        "vulnerable households"
    ),
)

RULE = group_rule(NUMBER, NAME, GROUPS, _capacities)
