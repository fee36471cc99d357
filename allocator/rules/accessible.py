"""Rule 4 — accessible: a client who ``needs_accessible`` only gets an ``accessible`` unit.

CP-SAT: no variable for a pair of such a client with a unit that is not accessible.
Check: each assigned client who needs access has an accessible unit.
"""

from __future__ import annotations

from allocator.rules.base import EligibilityRule

RULE = EligibilityRule(
    number=4,
    name="accessible",
    label="not accessible",
    mask=lambda cols, ci, ui: cols.accessible[ui] | ~cols.needs_accessible[ci],
    allows=lambda inst, c, u: u.accessible or not c.needs_accessible,
    why=lambda inst, c, u: "client needs an accessible unit; this one is not",
)
