"""Which client–unit pairs pass rules 2-7, computed on whole columns.

Pairs are enumerated one municipality at a time: only clients who accept that municipality
(rule 5) meet only its units, in one dense numpy block, and every eligibility rule's mask filters
the block. The work is proportional to the pairs that share a municipality, never N × M, and there
is no Python loop over pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator import rules
from allocator.columns import Columns
from allocator.rules import location
from allocator.variables import groups_of


@dataclass(frozen=True)
class EligiblePairs:
    """Eligible pairs as index arrays into ``Columns``, sorted by client then unit."""

    client: np.ndarray
    unit: np.ndarray

    def __len__(self) -> int:
        return len(self.client)

    def per_client(self, n_clients: int) -> np.ndarray:
        return np.bincount(self.client, minlength=n_clients)

    def per_unit(self, n_units: int) -> np.ndarray:
        return np.bincount(self.unit, minlength=n_units)


def allowed(cols: Columns, ci: np.ndarray, ui: np.ndarray) -> np.ndarray:
    """True for each pair that every eligibility rule allows."""
    ok = np.ones(len(ci), dtype=bool)
    for rule in rules.eligibility():
        if not ok.any():
            break
        ok &= rule.mask(cols, ci, ui)
    return ok


def eligible_pairs(cols: Columns) -> EligiblePairs:
    accept = location.acceptable(cols)
    client_parts, unit_parts = [], []
    for municipality, units in groups_of(cols.unit_municipality):
        clients = np.flatnonzero(accept[:, municipality])
        if len(clients) == 0:
            continue
        ci = np.repeat(clients, len(units))
        ui = np.tile(units, len(clients))
        ok = allowed(cols, ci, ui)
        client_parts.append(ci[ok])
        unit_parts.append(ui[ok])
    if not client_parts:
        empty = np.zeros(0, dtype=np.int64)
        return EligiblePairs(empty, empty)
    client = np.concatenate(client_parts).astype(np.int64)
    unit = np.concatenate(unit_parts).astype(np.int64)
    order = np.lexsort((unit, client))
    return EligiblePairs(client[order], unit[order])


def removals(cols: Columns, client: int) -> tuple[dict[str, int], dict[str, int]]:
    """For one client, out of all units: per eligibility rule, the units it removes on its own
    (no other rule removes them), and the units it removes that other rules remove too."""
    ui = np.arange(cols.n_units)
    ci = np.full(cols.n_units, client)
    found = rules.eligibility()
    removed = np.array([~r.mask(cols, ci, ui) for r in found], dtype=bool).reshape(
        len(found), cols.n_units
    )
    several = removed.sum(axis=0) > 1
    alone = (removed & ~several).sum(axis=1)
    shared = (removed & several).sum(axis=1)
    return (
        {r.label: int(n) for r, n in zip(found, alone, strict=True) if n},
        {r.label: int(n) for r, n in zip(found, shared, strict=True) if n},
    )
