"""Rule 6 — never a unit in the client's ``refused_units``.

CP-SAT: no variable for a refused pair.
Check: no assigned unit is in its client's refused_units.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns
from allocator.rules.base import EligibilityRule


def _mask(cols: Columns, ci: np.ndarray, ui: np.ndarray) -> np.ndarray:
    if len(cols.refused_codes) == 0:
        return np.ones(len(ci), dtype=bool)
    return ~np.isin(ci.astype(np.int64) * cols.n_units + ui, cols.refused_codes)


RULE = EligibilityRule(
    number=6,
    name="not refused",
    label="refused before",
    mask=_mask,
    allows=lambda inst, c, u: u.id not in c.refused_units,
    why=lambda inst, c, u: "the client refused this unit before",
)
