"""The ``expected_acceptance`` objective level: maximise the sum of the placed pairs' chances of
being accepted (``instance.acceptance``; a pair not listed counts as certain).

Placed first (``placed, expected_acceptance, ...``) it keeps every placement and, among the
allocations that place as many, prefers the offers most likely to be accepted: fewer refusals,
fewer vacancy weeks lost. Placed before ``placed`` it maximises expected placements, which may
offer fewer units. Solvers take whole numbers: a chance p counts as round(1000 · p) thousandths
(``SCALE``), so chances closer than 0.0005 are not told apart. The level goes to CP-SAT
(lexicographic, every level proven before the next), which takes any linear level.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns
from allocator.eligibility import EligiblePairs

LEVEL = "expected_acceptance"
#: Thousandths: the whole-number coefficient of a chance p is round(SCALE · p).
SCALE = 1000


def coefficients(cols: Columns, pairs: EligiblePairs) -> np.ndarray:
    """Per eligible pair, round(SCALE · chance of acceptance); SCALE where no estimate is given."""
    out = np.full(len(pairs), SCALE, dtype=np.int64)
    estimates = cols.instance.acceptance
    if not estimates or not len(pairs):
        return out
    client_ix, unit_ix = cols.client_index(), cols.unit_index()
    code = {
        client_ix[e.client_id] * cols.n_units + unit_ix[e.unit_id]: round(SCALE * e.probability)
        for e in estimates
    }
    keys = pairs.client * cols.n_units + pairs.unit
    listed = np.fromiter(code.keys(), dtype=np.int64, count=len(code))
    values = np.fromiter(code.values(), dtype=np.int64, count=len(code))
    order = np.argsort(listed)
    listed, values = listed[order], values[order]
    at = np.clip(np.searchsorted(listed, keys), 0, len(listed) - 1)
    hit = listed[at] == keys
    out[hit] = values[at[hit]]
    return out


def method_for(levels: list[str], method: str) -> str:
    """The solver path: CP-SAT whenever the objective names this level."""
    return "cp-sat" if LEVEL in levels else method
