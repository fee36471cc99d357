"""Rule 3 — affordable: ``rent <= max_rent`` where the client's ``max_rent`` is set.

CP-SAT: no variable for a pair whose rent is above the client's maximum.
Check: each assigned unit's rent is at most the client's max_rent.
"""

from __future__ import annotations

from allocator.rules.base import EligibilityRule

RULE = EligibilityRule(
    number=3,
    name="affordable",
    label="rent above max_rent",
    # max_rent is +inf in the columns where unset.
    mask=lambda cols, ci, ui: cols.rent[ui] <= cols.max_rent[ci],
    allows=lambda inst, c, u: c.max_rent is None or u.rent <= c.max_rent,
    why=lambda inst, c, u: f"rent {u.rent:.2f} above max_rent {c.max_rent:.2f}",
)
