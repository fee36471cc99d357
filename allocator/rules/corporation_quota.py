"""Rule 9 — corporation quota: placements in a corporation's units <= its ``quota``, where set.

Corporation quotas cut across municipalities (a corporation owns units in several).
CP-SAT: for each corporation with a quota, sum of x over pairs of its units <= quota.
Check: count the proposal's placements per corporation.
"""

from __future__ import annotations

import numpy as np

from allocator.rules.base import GroupLimit, group_rule

NUMBER, NAME = 9, "corporation quota"

GROUPS = GroupLimit(
    group_of=lambda inst, unit: unit.corporation_id,
    limit=lambda inst, key: inst.corporation(key).quota,
    noun="corporation",
)


RULE = group_rule(
    NUMBER,
    NAME,
    GROUPS,
    unit_group=lambda cols: cols.unit_corporation,
    group_limit=lambda cols: np.array(
        [-1 if c.quota is None else c.quota for c in cols.instance.corporations], dtype=np.int64
    ),
)
