"""Rule 7 — a unit with ``allowed_groups`` only goes to a client whose ``target_group`` is listed.

CP-SAT: no variable for a pair of a reserved unit and a client outside its groups.
Check: each assigned reserved unit's groups contain its client's target group.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns, pick
from allocator.rules.base import EligibilityRule


def _admits(cols: Columns) -> np.ndarray:
    """Group × unit: True where the unit admits the group (``unit_groups`` turned, so that a
    client's row is one contiguous read)."""
    return np.ascontiguousarray(cols.unit_groups.T)


RULE = EligibilityRule(
    number=7,
    name="target group",
    label="reserved for another target group",
    mask=lambda cols, ci, ui: pick(cols.cached("rule7", _admits), cols.group[ci], ui),
    allows=lambda inst, c, u: not u.allowed_groups or c.target_group in u.allowed_groups,
    why=lambda inst, c, u: f"unit reserved for {u.allowed_groups}, client is {c.target_group}",
)
