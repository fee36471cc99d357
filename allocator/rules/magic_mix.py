"""Rule 10 — Magic Mix: for every complex,
``vulnerable_residents + placements <= floor(share × units_total)``, with ``share`` the complex's
``max_vulnerable_share`` or else the policy's. Every uitstromer counts as vulnerable, so a complex
already at or over its cap takes nobody.

CP-SAT: for each complex, sum of x over pairs of its units <= cap - vulnerable_residents (at
least 0).
Check: count the proposal's placements per complex against the same room.
"""

from __future__ import annotations

import numpy as np

from allocator.models import Complex, Instance, mix_cap
from allocator.rules.base import GroupLimit, group_rule

NUMBER, NAME = 10, "Magic Mix cap"


def room(instance: Instance, complex_: Complex) -> int:
    """Placements the complex can still take in this run."""
    cap = mix_cap(instance.mix_share(complex_), complex_.units_total)
    return max(0, cap - complex_.vulnerable_residents)


GROUPS = GroupLimit(
    group_of=lambda inst, unit: unit.complex_id,
    limit=lambda inst, key: room(inst, inst.complex(key)),
    noun="complex",
)


RULE = group_rule(
    NUMBER,
    NAME,
    GROUPS,
    unit_group=lambda cols: cols.unit_complex,
    group_limit=lambda cols: np.array(
        [room(cols.instance, c) for c in cols.instance.complexes], dtype=np.int64
    ),
)
