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


def _removals(cols: Columns, client: int) -> tuple[list[str], np.ndarray]:
    """Rule labels and a rules × units matrix: True where the rule removes the unit."""
    ui = np.arange(cols.n_units)
    ci = np.full(cols.n_units, client)
    found = rules.eligibility()
    return [r.label for r in found], np.array(
        [~r.mask(cols, ci, ui) for r in found], dtype=bool
    ).reshape(len(found), cols.n_units)


def removed_by_rule(cols: Columns, client: int) -> dict[str, int]:
    """For one client: per rule, the units it removes on its own (no other rule does)."""
    labels, removed = _removals(cols, client)
    alone = removed & (removed.sum(axis=0) == 1)
    return {label: int(n) for label, n in zip(labels, alone.sum(axis=1), strict=True) if n}


def removed_with_others(cols: Columns, client: int) -> dict[str, int]:
    """For one client: per rule, the units it removes that at least one other rule removes too."""
    labels, removed = _removals(cols, client)
    shared = removed & (removed.sum(axis=0) > 1)
    return {label: int(n) for label, n in zip(labels, shared.sum(axis=1), strict=True) if n}
