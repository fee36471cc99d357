"""Rule 8 — municipal quota: placements in a municipality <= its ``quota``.

A unit's municipality is its complex's municipality. Pinned pairs count toward the quota.
CP-SAT: for each municipality, sum of x over pairs of its units <= quota.
Check: count the proposal's placements per municipality.
"""

from __future__ import annotations

from allocator.rules.base import GroupLimit, group_rule, unit_capacities

NUMBER, NAME = 8, "municipal quota"

GROUPS = GroupLimit(
    group_of=lambda inst, client, unit: inst.unit_municipality_id(unit),
    limit=lambda inst, key: inst.municipality(key).quota,
    noun="municipality",
    code="municipality_quota",
    title=lambda inst, key: f"the municipal quota of {inst.municipality(key).name}",
    full_text=lambda inst, key, used: (
        f"the municipal quota of {inst.municipality(key).name} is used up: "
        f"{used} of {inst.municipality(key).quota} placements"
    ),
)


RULE = group_rule(
    NUMBER,
    NAME,
    GROUPS,
    lambda cols: unit_capacities(
        cols.unit_municipality,
        [m.quota for m in cols.instance.municipalities],
        list(cols.municipality_ids),
    ),
)
