"""Rule 2 — the household fits: ``min_occupants <= household_size <= max_occupants``.

CP-SAT: no variable for a pair where the household does not fit.
Check: each assigned pair's household size lies within the unit's occupancy range.
"""

from __future__ import annotations

from allocator.rules.base import EligibilityRule

RULE = EligibilityRule(
    number=2,
    name="household fits",
    label="household size outside the unit's occupancy",
    mask=lambda cols, ci, ui: (
        (cols.min_occupants[ui] <= cols.household[ci])
        & (cols.household[ci] <= cols.max_occupants[ui])
    ),
    allows=lambda inst, c, u: u.min_occupants <= c.household_size <= u.max_occupants,
    why=lambda inst, c, u: (
        f"household of {c.household_size} outside {u.min_occupants}-{u.max_occupants} occupants"
    ),
)
