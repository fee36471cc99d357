"""Rule 14 — neighbourhood quota: placements in the complexes of a neighbourhood <= its ``quota``.

A complex lies in at most one neighbourhood, inside its own municipality: a group of units.
Complexes without a ``neighbourhood_id`` are not limited by this rule.
CP-SAT: for each neighbourhood, sum of x over pairs of its complexes' units <= quota.
Check: count the proposal's placements per neighbourhood.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns
from allocator.models import Instance
from allocator.rules.base import Capacities, GroupLimit, group_rule

NUMBER, NAME = 14, "neighbourhood quota"


def _title(inst: Instance, key: str) -> str:
    nb = inst.neighbourhood(key)
    return nb.name or f"neighbourhood {nb.id} ({inst.municipality(nb.municipality_id).name})"


def _capacities(cols: Columns) -> Capacities:
    def build(cols: Columns) -> Capacities:
        inst = cols.instance
        index = {nb.id: i for i, nb in enumerate(inst.neighbourhoods)}
        none = len(index)  # the last group: complexes in no neighbourhood, not limited
        of_complex = np.array(
            [index.get(cx.neighbourhood_id, none) for cx in inst.complexes], dtype=np.int64
        )
        limit = np.array([nb.quota for nb in inst.neighbourhoods] + [-1], dtype=np.int64)
        keys = [nb.id for nb in inst.neighbourhoods] + [None]
        return Capacities(of_complex[cols.unit_complex], limit, keys)

    return cols.cached("rule14", build)


GROUPS = GroupLimit(
    group_of=lambda inst, client, unit: inst.complex(unit.complex_id).neighbourhood_id,
    limit=lambda inst, key: inst.neighbourhood(key).quota,
    noun="neighbourhood",
    code="neighbourhood_quota",
    title=_title,
    full_text=lambda inst, key, used: (
        f"the quota of {_title(inst, key)} is used up: "
        f"{used} of {inst.neighbourhood(key).quota} placements"
    ),
)

RULE = group_rule(NUMBER, NAME, GROUPS, _capacities)
