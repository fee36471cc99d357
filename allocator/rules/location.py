"""Rule 5 — location: never in an excluded municipality; when the client lists preferred
municipalities, only in one of them. An empty preference list accepts every municipality that is
not excluded.

CP-SAT: no variable for a pair whose unit lies in a municipality the client does not accept.
Check: each assigned unit's municipality (its complex's) is accepted by the client.
"""

from __future__ import annotations

import numpy as np

from allocator.columns import Columns, pick
from allocator.models import Client, Instance, Unit
from allocator.rules.base import EligibilityRule


def acceptable(cols: Columns) -> np.ndarray:
    """Client × municipality: True where the client may live there."""
    listed = cols.preference_rank > 0
    return ~cols.excluded & (listed | ~cols.has_preferences[:, None])


def _mask(cols: Columns, ci: np.ndarray, ui: np.ndarray) -> np.ndarray:
    # one lookup in the client × municipality table, built once per run
    return pick(cols.cached("rule5", acceptable), ci, cols.unit_municipality[ui])


def _allows(instance: Instance, client: Client, unit: Unit) -> bool:
    muni = instance.unit_municipality_id(unit)
    if muni in client.excluded_municipalities:
        return False
    return not client.preferred_municipalities or muni in client.preferred_municipalities


def _why(instance: Instance, client: Client, unit: Unit) -> str:
    muni = instance.unit_municipality_id(unit)
    if muni in client.excluded_municipalities:
        return f"municipality {muni} is excluded for this client"
    return f"municipality {muni} is not among the client's preferred municipalities"


RULE = EligibilityRule(
    number=5,
    name="location",
    label="municipality excluded or not preferred",
    mask=_mask,
    allows=_allows,
    why=_why,
)
