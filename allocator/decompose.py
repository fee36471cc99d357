"""Taking an instance apart into pieces that can be solved on their own.

Pinned pairs are settled in advance: their clients and units leave the problem and their
placements are subtracted from every cap they count toward (rule 11). What remains falls apart
into *parts*: clients and units linked by eligibility or by a shared limited group (a complex, a
municipality, a corporation with a quota). No rule couples two parts, and every objective level is
a sum over clients, so the lexicographic optimum of the whole is the union of the parts' optima.
Clients accept municipalities of their own region only, and corporations work within one region,
so a national instance splits into about one part per region.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from allocator import rules
from allocator.columns import Columns
from allocator.eligibility import EligiblePairs


@dataclass(frozen=True)
class GroupCaps:
    """One group limit (rules 8-10, 12-15) after pinned pairs: each pair's group and the room
    left per group. A group of units when ``client_group`` is None; else a pair's group is
    ``client_group[client] * width + unit_group[unit]`` (a cap on a group of clients)."""

    rule: int
    unit_group: np.ndarray
    left: np.ndarray  # -1: unlimited
    client_group: np.ndarray | None = None
    width: int = 0

    @property
    def on_clients(self) -> bool:
        return self.client_group is not None

    def of(self, client: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """The group of each pair."""
        if self.client_group is None:
            return self.unit_group[unit]
        return self.client_group[client] * self.width + self.unit_group[unit]

    def of_pairs(self, client: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """The group of each pair (client, unit): the one place that says which pairs a cap row
        covers, so that every engine reads a cap the same way."""
        return self.of(client, unit)

    def with_left(self, left: np.ndarray) -> GroupCaps:
        return GroupCaps(self.rule, self.unit_group, left, self.client_group, self.width)


@dataclass(frozen=True)
class Reduced:
    fixed: np.ndarray  # positions of pinned pairs
    caps: list[GroupCaps]
    n_pairs: int
    # which pairs have an unpinned client and unit and room; None: every pair (nothing pinned,
    # no group full), so that a plain assignment of the whole never spells out 0..n-1
    free_mask: np.ndarray | None = None

    @property
    def all_free(self) -> bool:
        return self.free_mask is None

    @cached_property
    def free(self) -> np.ndarray:
        """Positions of the pairs left to decide (built once, on first use)."""
        if self.free_mask is None:
            return np.arange(self.n_pairs)
        return np.flatnonzero(self.free_mask)


def settle_pinned(cols: Columns, pairs: EligiblePairs) -> Reduced:
    pinned_units = np.zeros(cols.n_units, dtype=bool)
    free: np.ndarray | None  # None: every pair is free (no pass over the pairs needed)
    if not cols.instance.pinned:
        fixed, free = np.zeros(0, dtype=np.int64), None
    else:
        client_ix, unit_ix = cols.client_index(), cols.unit_index()
        pinned_clients = np.zeros(cols.n_clients, dtype=bool)
        for pin in cols.instance.pinned:
            pinned_clients[client_ix[pin.client_id]] = True
            pinned_units[unit_ix[pin.unit_id]] = True
        codes = pairs.client * cols.n_units + pairs.unit
        wanted = np.array(
            [
                client_ix[p.client_id] * cols.n_units + unit_ix[p.unit_id]
                for p in cols.instance.pinned
            ]
        )
        fixed = np.flatnonzero(np.isin(codes, wanted))
        free = ~pinned_clients[pairs.client] & ~pinned_units[pairs.unit]
    caps = []
    # units in a group without room, gathered over the pairs once at the end (per pair work is
    # most of this function's time on a plain assignment)
    full_units = np.zeros(cols.n_units, dtype=bool)
    for rule in rules.group_limits():
        c = rule.capacities(cols)
        if not np.any(c.limit >= 0):
            continue  # a rule this instance does not use costs nothing
        used = np.bincount(c.of(pairs.client[fixed], pairs.unit[fixed]), minlength=len(c.limit))
        left = np.where(c.limit < 0, -1, c.limit - used)
        caps.append(GroupCaps(rule.number, c.unit_group, left, c.client_group, c.width))
        # a pair in a group without room can never be chosen: no path need see it
        if not np.any(left == 0):
            continue
        if c.client_group is None:
            full_units |= left[c.unit_group] == 0
        else:
            room = left[c.of(pairs.client, pairs.unit)] != 0
            free = room if free is None else free & room
    if np.any(full_units):
        room = ~full_units[pairs.unit]
        free = room if free is None else free & room
    return Reduced(fixed, caps, len(pairs), free)


def split(
    cols: Columns, pairs: EligiblePairs, positions: np.ndarray, caps: list[GroupCaps]
) -> list[np.ndarray]:
    """The positions of each independent part, largest first (ties by first position).

    The graph links each client to the municipalities of its eligible units, and each
    municipality to every limited group its units belong to. A unit lies in one complex and one
    municipality, so two clients that share a unit or a cap are always linked through it.
    """
    if len(positions) == 0:
        return []
    n, k = cols.n_clients, len(cols.municipality_ids)
    muni_of_unit = cols.unit_municipality
    client_muni = np.zeros(n * k, dtype=bool)
    client_muni[pairs.client[positions] * k + muni_of_unit[pairs.unit[positions]]] = True
    codes = np.flatnonzero(client_muni)
    rows, cols_ = [codes // k], [n + codes % k]
    offset = n + k
    for cap in caps:
        if cap.on_clients:  # link the municipality of each pair to the pair's limited group
            group = cap.of(pairs.client[positions], pairs.unit[positions])
            limited = cap.left[group] >= 0
            rows.append(n + muni_of_unit[pairs.unit[positions][limited]])
            cols_.append(offset + group[limited])
        else:
            limited = np.flatnonzero(cap.left[cap.unit_group] >= 0)
            rows.append(n + muni_of_unit[limited])
            cols_.append(offset + cap.unit_group[limited])
        offset += len(cap.left)
    r, c = np.concatenate(rows), np.concatenate(cols_)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    part_of_pair = labels[pairs.client[positions]]
    order = np.argsort(part_of_pair, kind="stable")
    sorted_labels = part_of_pair[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    pieces = np.split(positions[order], starts[1:])
    pieces.sort(key=lambda p: (-len(p), int(p[0])))
    return pieces


def _by_size(pieces: list[np.ndarray], first: list[int]) -> list[int]:
    """The order ``split`` gives pieces in: largest first, ties by first position."""
    return sorted(range(len(pieces)), key=lambda i: (-len(pieces[i]), first[i]))


def split_in_regions(
    cols: Columns,
    pairs: EligiblePairs,
    positions: np.ndarray,
    caps: list[GroupCaps],
    client: np.ndarray | None = None,
    unit: np.ndarray | None = None,
) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """``split(cols, pairs, positions, caps)``, each part with its regions: the pieces ``split``
    gives for that part without caps, as indices into the part's positions (each ascending).
    ``positions`` ascending; ``client`` and ``unit``: theirs, when already gathered.

    A part is a union of whole regions (clients and municipalities joined by eligibility),
    those whose municipalities share a limited group: so one pass over the pairs finds both,
    where ``split`` twice reads every pair twice (on the owned-province instance, one part of
    five regions, 15 ms of the solve)."""
    if len(positions) == 0:
        return []
    n, k = cols.n_clients, len(cols.municipality_ids)
    muni_of_unit = cols.unit_municipality
    client = pairs.client[positions] if client is None else client
    unit = pairs.unit[positions] if unit is None else unit
    pair_muni = muni_of_unit[unit]
    client_muni = np.zeros(n * k, dtype=bool)
    client_muni[client * k + pair_muni] = True
    codes = np.flatnonzero(client_muni)
    graph = coo_matrix(
        (np.ones(len(codes), dtype=np.int8), (codes // k, n + codes % k)), shape=(n + k, n + k)
    )
    n_regions, labels = connected_components(graph, directed=False)
    region_of_muni = labels[n:]
    # regions joined by the limited groups of their municipalities (as ``split`` joins them)
    rows, cols_ = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    offset = n_regions
    for cap in caps:
        if cap.on_clients:
            group = cap.of(client, unit)
            limited = cap.left[group] >= 0
            rows.append(region_of_muni[pair_muni[limited]])
            cols_.append(offset + group[limited])
        else:
            limited = np.flatnonzero(cap.left[cap.unit_group] >= 0)
            rows.append(region_of_muni[muni_of_unit[limited]])
            cols_.append(offset + cap.unit_group[limited])
        offset += len(cap.left)
    r, c = np.concatenate(rows), np.concatenate(cols_)
    joined = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(offset, offset))
    _, part_of_region = connected_components(joined, directed=False)

    region_of_pair = labels[client]
    if n_regions < 2**15:  # (numpy sorts 16-bit integers stably by radix, in one pass)
        region_of_pair = region_of_pair.astype(np.int16)
    order = np.argsort(region_of_pair, kind="stable")
    sorted_regions = region_of_pair[order]
    starts = np.flatnonzero(np.r_[True, sorted_regions[1:] != sorted_regions[:-1]])
    regions = np.split(order, starts[1:])  # indices into positions, each ascending
    region_part = part_of_region[sorted_regions[starts]].tolist()
    members: dict[int, list[int]] = {}
    for i, part in enumerate(region_part):
        members.setdefault(part, []).append(i)
    out = []
    for group in members.values():
        pieces = [regions[i] for i in group]
        if len(group) == len(regions):  # the whole: positions themselves
            index, local = None, pieces
        elif len(group) == 1:
            index, local = pieces[0], [np.arange(len(pieces[0]))]
        else:
            index = np.sort(np.concatenate(pieces))
            local = [np.searchsorted(index, piece) for piece in pieces]
        own = positions if index is None else positions[index]
        local = [local[i] for i in _by_size(local, [int(own[p[0]]) for p in local])]
        out.append((own, local))
    return [out[i] for i in _by_size([o[0] for o in out], [int(o[0][0]) for o in out])]
