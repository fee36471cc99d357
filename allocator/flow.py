"""The nested relaxation as a min-cost flow: rules 1, 8 and 10 without the other group limits.

A unit lies in one complex and a complex in one municipality, so units, Magic Mix rooms and
municipal quotas form a tree and the allocation is a flow: source → client (1) → unit (1) →
complex (room left) → municipality (quota left) → sink. The lexicographic objective becomes one
integer cost per pair with weights large enough that a level never trades against a lower one,
so the flow optimum is the lexicographic optimum of the relaxation. When it also respects every
other group limit (corporation quotas, rules 12-15: caps on groups that do not nest in this tree,
or that depend on the client) it is optimal for the whole contract, proven.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from ortools.graph.python import min_cost_flow

from allocator.decompose import GroupCaps
from allocator.rules import magic_mix, municipal_quota
from allocator.variables import compact, count_distinct

# The flow solver scales costs by the node count internally; stay well inside int64.
_MAX_COST = 2**62


def _run_starts(client: np.ndarray) -> np.ndarray | None:
    """Where each client's run of pairs starts, when the pairs are sorted by client (else
    None)."""
    if len(client) == 0:
        return None
    # a short prefix and an evenly spaced sample first rule most unsorted columns out without a
    # pass over all of them (the unit column of pairs sorted by client then unit has a sorted
    # prefix: the first client's units; its sample rises and falls client by client)
    k = min(64, len(client))
    if not np.all(client[1:k] >= client[: k - 1]):
        return None
    sample = client[:: max(1, len(client) // 64)]
    if not np.all(sample[1:] >= sample[:-1]):
        return None
    change = np.flatnonzero(client[1:] != client[:-1])
    starts = np.empty(len(change) + 1, dtype=np.int64)
    starts[0] = 0
    np.add(change, 1, out=starts[1:])
    # runs of equal values whose values increase run by run are a sorted column: checked on
    # the runs, not on every pair
    if not np.all(client[starts[1:]] > client[starts[:-1]]):
        return None
    return starts


def per_client_max(
    client: np.ndarray, value: np.ndarray, starts: np.ndarray | None = None
) -> np.ndarray:
    """The largest ``value`` of each client's pairs (never below 0). Pairs usually come sorted
    by client: then one pass over runs (``starts``, from ``_run_starts``), no scatter."""
    if len(client) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = _run_starts(client) if starts is None else starts
    if starts is not None:
        return np.maximum(np.maximum.reduceat(value, starts), 0)
    best = np.zeros(int(client.max()) + 1, dtype=np.int64)
    np.maximum.at(best, client, value)
    return best


def lexicographic_scale(
    coefficients: list[np.ndarray], client: np.ndarray, starts: np.ndarray | None = None
) -> tuple[list[int], list[int]]:
    """The weight of each level and the range [0, R] of each level's total.

    R is the sum over clients of their largest coefficient; giving a level a weight above every
    possible change of all lower levels makes it dominate them. ``starts``: ``_run_starts(client)``
    when already known.
    """
    starts = _run_starts(client) if starts is None else starts
    ranges = [int(per_client_max(client, coef, starts).sum()) for coef in coefficients]
    weights = [1] * len(coefficients)
    for level in range(len(coefficients) - 2, -1, -1):
        weights[level] = 1 + sum(ranges[j] * weights[j] for j in range(level + 1, len(ranges)))
    return weights, ranges


def lexicographic_weights(
    coefficients: list[np.ndarray],
    maximise: list[bool],
    client: np.ndarray,
    starts: np.ndarray | None = None,
) -> np.ndarray | None:
    """One integer weight per pair whose sum orders solutions like the levels do, or None when
    the totals would not fit in int64 (the flow checks its own, scaled, range). ``starts``: where
    each client's run of pairs starts (``DenseIndex.client_starts``), when already known."""
    weights, ranges = lexicographic_scale(coefficients, client, starts)
    if sum(r * w for r, w in zip(ranges, weights, strict=True)) >= _MAX_COST // 16:
        return None
    if not coefficients:
        return np.zeros(len(client), dtype=np.int64)
    # Horner's scheme: each level's weight is the next one's times (1 + the next range)
    # (weights[j] = 1 + sum of ranges[i] * weights[i] over i > j), so the total is built in one
    # array, in place, without a scaled copy of each level (a fresh array is a page fault per
    # page on a first call)
    total = np.multiply(coefficients[0], 1 if maximise[0] else -1, dtype=np.int64)
    for coef, up, reach in zip(coefficients[1:], maximise[1:], ranges[1:], strict=True):
        if reach:
            total *= reach + 1
        if up:
            total += coef
        else:
            total -= coef
    return total


def solve_flow(
    client: np.ndarray,
    unit: np.ndarray,
    weight: np.ndarray,
    caps: list[GroupCaps],
) -> np.ndarray | None:
    """Which pairs (indices into the given arrays) the flow optimum takes; None on overflow.

    Only pairs with a positive weight are worth taking; the others are left out.
    """
    by_rule = {cap.rule: cap for cap in caps}
    complex_of, room = by_rule[magic_mix.NUMBER].unit_group, by_rule[magic_mix.NUMBER].left
    muni_of, quota = (
        by_rule[municipal_quota.NUMBER].unit_group,
        by_rule[municipal_quota.NUMBER].left,
    )

    clients, c_local = compact(client)
    units, u_local = compact(unit)
    complexes, x_local = compact(complex_of[units])
    # a complex lies in one municipality: read it off any of its units
    unit_of_complex = np.empty(len(complexes), dtype=np.int64)
    unit_of_complex[x_local] = units
    munis, m_local = compact(muni_of[unit_of_complex])
    n_c, n_u, n_x, n_m = len(clients), len(units), len(complexes), len(munis)
    # the flow solver scales costs by the node count: the largest total must stay in int64
    best = np.zeros(n_c, dtype=np.int64)
    np.maximum.at(best, c_local, np.abs(weight))
    if float(best.sum()) * (n_c + n_u + n_x + n_m + 3) >= _MAX_COST:
        return None
    source, sink = 0, 1
    c0, u0 = 2, 2 + n_c
    x0 = u0 + n_u
    m0 = x0 + n_x
    big = n_c

    def capped(left: np.ndarray) -> np.ndarray:
        return np.where(left < 0, big, np.minimum(left, big))

    tails = np.concatenate(
        [
            np.full(n_c, source),
            c0 + c_local,
            u0 + np.arange(n_u),
            x0 + np.arange(n_x),
            m0 + np.arange(n_m),
            [source],
        ]
    )
    heads = np.concatenate(
        [
            c0 + np.arange(n_c),
            u0 + u_local,
            x0 + x_local,
            m0 + m_local,
            np.full(n_m, sink),
            [sink],
        ]
    )
    capacities = np.concatenate(
        [
            np.ones(n_c),
            np.ones(len(client)),
            np.ones(n_u),
            capped(room[complexes]),
            capped(quota[munis]),
            [n_c],
        ]
    ).astype(np.int64)
    costs = np.concatenate([np.zeros(n_c), -weight, np.zeros(n_u + n_x + n_m + 1)]).astype(np.int64)

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), capacities, costs
    )
    supplies = np.zeros(m0 + n_m, dtype=np.int64)
    supplies[source], supplies[sink] = n_c, -n_c
    flow.set_nodes_supplies(np.arange(len(supplies), dtype=np.int32), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        return None
    pair_arcs = np.arange(n_c, n_c + len(client))
    return np.flatnonzero(flow.flows(pair_arcs) > 0)


# Dense matrices up to this many entries (32 MB of float64) go to the assignment solver.
_DENSE_LIMIT = 4_000_000


def caps_cannot_bind(
    client: np.ndarray,
    unit: np.ndarray,
    caps: list[GroupCaps],
    index: DenseIndex | None = None,
) -> bool:
    """True when no limited group could be filled: each takes at least as many placements as
    it has units here, or as there are clients here. Then only rule 1 is left. ``index``:
    ``assignment_index(client, unit)`` when already known."""
    if index is not None:
        n_clients = index[0]
        # the unit columns are the units themselves when every unit 0..n-1 is here
        units = np.arange(index[2]) if index[3] is unit else None
    else:
        n_clients = count_distinct(client)
        units = None
    if units is None:  # (a count per unit id: no sort, unlike np.unique)
        units = np.flatnonzero(np.bincount(unit)) if len(unit) else unit[:0]
    for cap in caps:
        if cap.on_clients:
            if not _pair_caps_cannot_bind(client, unit, cap):
                return False
            continue
        counts = np.bincount(cap.unit_group[units])
        groups = np.flatnonzero(counts)
        counts, left = counts[groups], cap.left[groups]
        if np.any((left >= 0) & (left < np.minimum(counts, n_clients))):
            return False
    return True


def _pair_caps_cannot_bind(client: np.ndarray, unit: np.ndarray, cap: GroupCaps) -> bool:
    """For a cap on groups of clients: each group takes as many placements as it has distinct
    clients or distinct units here."""
    group = cap.of(client, unit)
    limited = cap.left[group] >= 0
    group, client, unit = group[limited], client[limited], unit[limited]
    if len(group) == 0:
        return True
    groups, g_local = compact(group)
    n_clients = np.bincount(np.unique(np.stack([g_local, client]), axis=1)[0])
    n_units = np.bincount(np.unique(np.stack([g_local, unit]), axis=1)[0])
    return not np.any(cap.left[groups] < np.minimum(n_clients, n_units))


class DenseIndex(NamedTuple):
    """The rows and columns of the dense assignment matrix."""

    n_clients: int
    client_row: np.ndarray  # per pair
    n_units: int
    unit_column: np.ndarray  # per pair
    # where each client's run of pairs starts when the pairs are sorted by client (they come so
    # from eligibility), else None; ``lexicographic_weights`` reuses it
    client_starts: np.ndarray | None = None


def _dense_index(values: np.ndarray, starts: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """How many distinct values and each value's index among them (like ``compact``), without
    a copy when the values already are 0..n-1, all present (a whole instance's pairs).
    ``starts``: the runs of sorted values (``_run_starts``), None when unsorted."""
    if starts is not None:
        n = len(starts)
        if values[0] == 0 and values[-1] == n - 1:
            return n, values
        local = np.zeros(len(values), dtype=np.int64)
        local[starts[1:]] = 1
        return n, np.cumsum(local, out=local)
    counts = np.bincount(values)
    present = counts > 0
    n = int(np.count_nonzero(present))
    if n == len(counts):
        return n, values
    return n, (np.cumsum(present) - 1)[values]


def assignment_index(client: np.ndarray, unit: np.ndarray) -> DenseIndex:
    """The rows and columns of the dense matrix: (clients, client row of each pair, units,
    unit column of each pair, client runs)."""
    starts = _run_starts(client)
    n_c, c_local = _dense_index(client, starts)
    n_u, u_local = _dense_index(unit, _run_starts(unit))
    return DenseIndex(n_c, c_local, n_u, u_local, starts)


# Pairs per block when the costs are written into the dense matrix: two buffers of this many
# numbers (256 kB each) stay in cache and are reused block after block.
_COST_BLOCK = 1 << 15


def _write_costs(
    cells: np.ndarray,
    row: np.ndarray,
    width: int,
    column: np.ndarray,
    weight: np.ndarray,
    clip: bool,
) -> None:
    """``cells[row * width + column] = min(-weight, 0 if clip)``, block by block. numpy's
    one-index scatter of values already of the matrix's type is several times faster than a
    two-index one that casts each value; small reused buffers keep it from touching fresh
    memory (a fresh page costs more here than the arithmetic on it)."""
    size = max(1, min(_COST_BLOCK, len(weight)))
    cost_buffer = np.empty(size)
    cell_buffer = np.empty(size, dtype=np.int64)
    for start in range(0, len(weight), size):
        stop = min(start + size, len(weight))
        cost, cell = cost_buffer[: stop - start], cell_buffer[: stop - start]
        np.negative(weight[start:stop], out=cost, dtype=np.float64)
        if clip:
            np.minimum(cost, 0.0, out=cost)
        np.multiply(row[start:stop], width, out=cell, dtype=np.int64)
        cell += column[start:stop]
        cells[cell] = cost


def solve_assignment(
    client: np.ndarray,
    unit: np.ndarray,
    weight: np.ndarray,
    index: DenseIndex | None = None,
) -> np.ndarray | None:
    """A plain assignment (only rule 1 binds): the Hungarian method on the dense weight matrix.

    ``index``: ``assignment_index(client, unit)`` when already known. None when the matrix
    would be too large, or when its sums could leave the integers that float64 represents
    exactly (the optimum must be exact to be a proof).
    """
    if len(client) == 0:
        return np.zeros(0, dtype=np.int64)
    n_c, c_local, n_u, u_local, starts = assignment_index(client, unit) if index is None else index
    if n_c * n_u > _DENSE_LIMIT:
        return None
    low, high = int(weight.min()), int(weight.max())
    if float(max(high, 0)) * min(n_c, n_u) >= 2.0**52:
        return None
    # the negated weights as costs (pairs not worth taking cost 0, like absent ones): the
    # minimum needs no copy of the matrix, unlike ``maximize=True``
    matrix = np.zeros((n_c, n_u))
    _write_costs(matrix.reshape(-1), c_local, n_u, u_local, weight, clip=low < 0)
    # imported here: scipy.optimize takes a tenth of a second to import, and most runs never
    # get here
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(matrix)
    keep = matrix[rows, cols] < 0  # a zero cell is no pair worth taking
    rows, cols = rows[keep], cols[keep]
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    if starts is not None:
        # back to pair positions through the client runs, without a pass over all pairs: a row's
        # pairs are one run, sorted by unit when the pairs are sorted by client then unit (as
        # eligibility gives them), so a bisection within each run, all rows at once, finds the
        # pair; checked, with the full pass below when the runs were not sorted by unit
        low, high = starts[rows], np.r_[starts[1:], len(c_local)][rows]
        end = high.copy()
        active = low < high
        while np.any(active):
            mid = (low + high) // 2
            right = active & (u_local[np.minimum(mid, len(u_local) - 1)] < cols)
            low, high = np.where(right, mid + 1, low), np.where(active & ~right, mid, high)
            active = low < high
        if np.all(low < end) and np.array_equal(u_local[np.minimum(low, len(u_local) - 1)], cols):
            return np.sort(low)
    # each client-unit pair occurs once: the pairs whose unit is the one their row was given
    col_of_row = np.full(n_c, -1, dtype=np.int32 if n_u < 2**31 else np.int64)
    col_of_row[rows] = cols
    return np.flatnonzero(u_local == col_of_row[c_local])
