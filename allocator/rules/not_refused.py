"""Rule 6 — never a unit in the client's ``refused_units``.

CP-SAT: no variable for a refused pair.
Check: no assigned unit is in its client's refused_units.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns
from allocator.rules.base import EligibilityRule


def _refusing(cols: Columns) -> np.ndarray:
    out = np.zeros(cols.n_clients, dtype=bool)
    out[cols.refused_codes // max(cols.n_units, 1)] = True
    return out


def _mask(cols: Columns, ci: np.ndarray, ui: np.ndarray) -> np.ndarray:
    ci, ui = np.asarray(ci, dtype=np.int64), np.asarray(ui, dtype=np.int64)
    ok = np.ones(np.broadcast_shapes(ci.shape, ui.shape), dtype=bool)
    if len(cols.refused_codes) == 0:
        return ok
    # Few clients refused anything: only their pairs are looked up, by binary search in the
    # sorted, unique ``refused_codes``
    refusing = cols.cached("refusing", _refusing)
    if ok.ndim == 2 and ci.shape == (ok.shape[0], 1):
        # a block of clients × units: the rows of the clients who refused something
        rows = np.flatnonzero(refusing[ci[:, 0]])
        keys = ci[rows] * cols.n_units + np.broadcast_to(ui, ok.shape)[rows]
        ok[rows] = _not_in(cols.refused_codes, keys)
        return ok
    asked = np.broadcast_to(refusing[ci], ok.shape)
    if not asked.any():
        return ok
    keys = (
        np.broadcast_to(ci, ok.shape)[asked] * cols.n_units + np.broadcast_to(ui, ok.shape)[asked]
    )
    ok[asked] = _not_in(cols.refused_codes, keys)
    return ok


def _not_in(codes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """True for each key not among the sorted, unique ``codes``."""
    return codes[np.minimum(np.searchsorted(codes, keys), len(codes) - 1)] != keys


RULE = EligibilityRule(
    number=6,
    name="not refused",
    label="refused before",
    mask=_mask,
    allows=lambda inst, c, u: u.id not in c.refused_units,
    why=lambda inst, c, u: "the client refused this unit before",
)
