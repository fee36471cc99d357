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
    # Known to ``eligible_pairs``, which sorts the pairs and sees every municipality's block of
    # clients × units, at a fraction of the cost of a pass over the pairs afterwards (the dense
    # assignment's rows and columns are read off them); None where pairs are made otherwise.
    # Where each client's pairs start, per client and one past the last (the number of pairs):
    client_runs: np.ndarray | None = None
    # Which units have at least one eligible client:
    unit_present: np.ndarray | None = None

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
    unit_present = np.zeros(cols.n_units, dtype=bool)
    for municipality, units in groups_of(cols.unit_municipality):
        clients = np.flatnonzero(accept[:, municipality])
        if len(clients) == 0:
            continue
        ci = np.repeat(clients, len(units))
        ui = np.tile(units, len(clients))
        ok = allowed(cols, ci, ui)
        client_parts.append(ci[ok])
        unit_parts.append(ui[ok])
        # the block is clients × units, row by row: a unit is present when its column has a pair
        unit_present[units] = ok.reshape(len(clients), len(units)).any(axis=0)
    if not client_parts:
        empty = np.zeros(0, dtype=np.int64)
        return EligiblePairs(empty, empty, np.zeros(cols.n_clients + 1, np.int64), unit_present)
    client = np.concatenate(client_parts).astype(np.int64)
    unit = np.concatenate(unit_parts).astype(np.int64)
    order = np.lexsort((unit, client))
    client, unit = client[order], unit[order]
    # sorted by client just now: the runs by bisection, without a pass over the pairs
    runs = np.searchsorted(client, np.arange(cols.n_clients + 1))
    return EligiblePairs(client, unit, runs, unit_present)


#: Pairs per block in ``removals_of``: large enough that numpy, not Python, does the work, small
#: enough to keep a block's masks in a few tens of MB.
_BLOCK_PAIRS = 2_000_000

#: Adds up the eight bytes of a word into its top byte (each byte 0 or 1, so no carry).
_BYTE_SUM = np.uint64(0x0101010101010101)


def _count_per_row(flags: np.ndarray) -> np.ndarray:
    """The True values in each row of a C-contiguous boolean array whose rows are a multiple of
    8 long: eight booleans are added at once, as the bytes of one 64-bit word, several times
    faster than summing them one by one."""
    words = flags.view(np.uint64)
    return ((words * _BYTE_SUM) >> np.uint64(56)).sum(axis=1).astype(np.int64)


def removals_of(cols: Columns, clients: np.ndarray) -> list[tuple[dict[str, int], dict[str, int]]]:
    """For each of ``clients``, out of all units: per eligibility rule, the units it removes on
    its own (no other rule removes them), and the units it removes that other rules remove too.
    Computed in blocks of clients × all units.

    The masks are elementwise numpy expressions, so a block's clients as a column and all units
    as a row give the block's client × unit table by broadcasting, without spelling out every
    pair (10,000 clients × 40,000 units at national scale). A mask that does not broadcast is
    asked pair by pair."""
    found = rules.eligibility()
    n = cols.n_units
    out: list[tuple[dict[str, int], dict[str, int]]] = []
    per_block = max(1, _BLOCK_PAIRS // max(n, 1))
    every_unit = np.arange(n)
    for start in range(0, len(clients), per_block):
        chunk = np.asarray(clients[start : start + per_block], dtype=np.int64)
        k = len(chunk)
        removed = []
        # rows padded with units no rule removes to a multiple of 8 (see _count_per_row)
        width = -(-n // 8) * 8
        removing = np.zeros((k, width), dtype=np.uint8)  # how many rules remove each pair
        for rule in found:
            ok = np.asarray(rule.mask(cols, chunk[:, None], every_unit[None, :]))
            if ok.ndim != 2:
                ok = rule.mask(cols, np.repeat(chunk, n), np.tile(every_unit, k)).reshape(k, n)
            gone = np.zeros((k, width), dtype=bool)
            np.logical_not(np.broadcast_to(ok, (k, n)), out=gone[:, :n])
            removing += gone
            removed.append(gone)
        only = removing == 1
        # per rule: all the units it removes, and those no other rule removes
        every = np.array([_count_per_row(gone) for gone in removed])
        alone = np.array([_count_per_row(gone & only) for gone in removed])
        shared = every - alone
        for j in range(k):
            out.append(
                (
                    {r.label: int(m) for r, m in zip(found, alone[:, j], strict=True) if m},
                    {r.label: int(m) for r, m in zip(found, shared[:, j], strict=True) if m},
                )
            )
    return out
