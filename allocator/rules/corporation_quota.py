"""Rule 9 — corporation quota: placements in a corporation's units <= its ``quota``, where set.

Corporation quotas cut across municipalities (a corporation owns units in several).
CP-SAT: for each corporation with a quota, sum of x over pairs of its units <= quota.
Check: count the proposal's placements per corporation.
"""

from __future__ import annotations

from allocator.rules.base import GroupLimit, group_rule, unit_capacities

NUMBER, NAME = 9, "corporation quota"

GROUPS = GroupLimit(
    group_of=lambda inst, client, unit: unit.corporation_id,
    limit=lambda inst, key: inst.corporation(key).quota,
    noun="corporation",
    code="corporation_quota",
    title=lambda inst, key: f"the quota of {inst.corporation(key).name}",
    full_text=lambda inst, key, used: (
        f"the quota of {inst.corporation(key).name} is used up: "
        f"{used} of {inst.corporation(key).quota} placements"
    ),
)


RULE = group_rule(
    NUMBER,
    NAME,
    GROUPS,
    lambda cols: unit_capacities(
        cols.unit_corporation,
        [-1 if c.quota is None else c.quota for c in cols.instance.corporations],
        list(cols.corporation_ids),
    ),
)
