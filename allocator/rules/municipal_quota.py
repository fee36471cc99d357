"""Rule 8 — municipal quota: placements in a municipality <= its ``quota``.

A unit's municipality is its complex's municipality. Pinned pairs count toward the quota.
CP-SAT: for each municipality, sum of x over pairs of its units <= quota.
Check: count the proposal's placements per municipality.
"""

from __future__ import annotations

import numpy as np

from allocator.rules.base import GroupLimit, group_rule

NUMBER, NAME = 8, "municipal quota"

GROUPS = GroupLimit(
    group_of=lambda inst, unit: inst.unit_municipality_id(unit),
    limit=lambda inst, key: inst.municipality(key).quota,
    noun="municipality",
)


RULE = group_rule(
    NUMBER,
    NAME,
    GROUPS,
    unit_group=lambda cols: cols.unit_municipality,
    group_limit=lambda cols: np.array(
        [m.quota for m in cols.instance.municipalities], dtype=np.int64
    ),
)
