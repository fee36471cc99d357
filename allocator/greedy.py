"""First come, first served: today's hand practice, as a baseline and as a starting solution.

Clients in order of waiting (longest first, then id); each takes the first unit it is eligible
for that still has room under every cap, trying its preferred municipalities in rank order and
units in input order. Pinned pairs are placed first.
"""

from __future__ import annotations

import numpy as np

from allocator import rules
from allocator.columns import Columns
from allocator.eligibility import EligiblePairs


def first_come_first_served(cols: Columns, pairs: EligiblePairs) -> np.ndarray:
    """Positions (into ``pairs``) of the chosen pairs."""
    inst = cols.instance
    unlimited = np.iinfo(np.int64).max
    # (group of each pair, room left per group) for every group limit
    caps = [
        (c.of(pairs.client, pairs.unit), np.where(c.limit < 0, unlimited, c.limit))
        for rule in rules.group_limits()
        for c in [rule.capacities(cols)]
    ]
    unit_free = np.ones(cols.n_units, dtype=bool)
    client_done = np.zeros(cols.n_clients, dtype=bool)
    chosen: list[int] = []

    def take(position: int) -> None:
        c, u = int(pairs.client[position]), int(pairs.unit[position])
        chosen.append(position)
        unit_free[u] = False
        client_done[c] = True
        for group, left in caps:
            left[group[position]] -= 1

    if inst.pinned:
        client_ix, unit_ix = cols.client_index(), cols.unit_index()
        codes = pairs.client * cols.n_units + pairs.unit
        wanted = [client_ix[p.client_id] * cols.n_units + unit_ix[p.unit_id] for p in inst.pinned]
        for position in np.flatnonzero(np.isin(codes, wanted)).tolist():
            take(position)

    rank = cols.rank_of(pairs.client, pairs.unit)
    # within a client, try units by preference rank, then in input order
    order = np.lexsort((pairs.unit, rank, pairs.client))
    starts = np.searchsorted(pairs.client[order], np.arange(cols.n_clients + 1))
    queue = sorted(range(cols.n_clients), key=lambda c: (-cols.waiting_days[c], cols.client_ids[c]))
    for c in queue:
        if client_done[c]:
            continue
        # the client's pairs in order, checked at once (a loop over them in Python, one numpy
        # scalar at a time, took 2.6 s at national size): the first with room everywhere
        mine = order[starts[c] : starts[c + 1]]
        room = unit_free[pairs.unit[mine]]
        for group, left in caps:
            room &= left[group[mine]] > 0
        first = int(np.argmax(room)) if len(mine) else 0
        if len(mine) and room[first]:
            take(int(mine[first]))
    return np.array(sorted(chosen), dtype=np.int64)
