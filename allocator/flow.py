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

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from ortools.graph.python import min_cost_flow

from allocator.decompose import GroupCaps
from allocator.eligibility import EligiblePairs
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


def constant(values: np.ndarray) -> bool:
    """Whether every value is one and the same by construction: a broadcast (zero-stride)
    array, as ``level_coefficients`` gives for a level that counts every pair alike. Its one
    value is read once, never pair by pair."""
    return values.ndim == 1 and len(values) > 0 and values.strides[0] == 0


def per_client_max(
    client: np.ndarray,
    value: np.ndarray,
    starts: np.ndarray | None = None,
    of_client: np.ndarray | None = None,
) -> np.ndarray:
    """The largest ``value`` of each client's pairs (never below 0). Pairs usually come sorted
    by client: then one pass over runs (``starts``, from ``_run_starts``), no scatter; none when
    the value is one number (``constant``) or the client's own (``of_client``: the value per
    client, ``value == of_client[client]``)."""
    if len(client) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = _run_starts(client) if starts is None else starts
    if starts is not None and constant(value):
        return np.full(len(starts), max(int(value[0]), 0), dtype=np.int64)
    if starts is not None and of_client is not None:
        return np.maximum(of_client[client[starts]], 0)
    if starts is not None:
        return np.maximum(np.maximum.reduceat(value, starts), 0)
    best = np.zeros(int(client.max()) + 1, dtype=np.int64)
    np.maximum.at(best, client, value)
    return best


def lexicographic_scale(
    coefficients: list[np.ndarray],
    client: np.ndarray,
    starts: np.ndarray | None = None,
    of_client: list[np.ndarray | None] | None = None,
) -> tuple[list[int], list[int]]:
    """The weight of each level and the range [0, R] of each level's total.

    R is the sum over clients of their largest coefficient; giving a level a weight above every
    possible change of all lower levels makes it dominate them. ``starts``: ``_run_starts(client)``
    when already known; ``of_client``: per level, its coefficient per client when it depends on
    the client alone (``coefficients[j] == of_client[j][client]``), else None.
    """
    starts = _run_starts(client) if starts is None else starts
    of_client = of_client or [None] * len(coefficients)
    ranges = [
        int(per_client_max(client, coef, starts, own).sum())
        for coef, own in zip(coefficients, of_client, strict=True)
    ]
    weights = [1] * len(coefficients)
    for level in range(len(coefficients) - 2, -1, -1):
        weights[level] = 1 + sum(ranges[j] * weights[j] for j in range(level + 1, len(ranges)))
    return weights, ranges


@dataclass(frozen=True)
class Lexicographic:
    """The levels' coefficients and weights behind one integer weight per pair
    (``lexicographic``); the weights of any run of pairs on demand, so that a caller that only
    passes them on (the dense matrix) never holds all of them at once."""

    coefficients: list[np.ndarray]
    maximise: list[bool]
    level_weights: list[int]  # ``lexicographic_scale``'s
    n_pairs: int
    client: np.ndarray | None = None  # of each pair
    # when every level that varies depends on the client alone: each client's weight, so that a
    # pair's is ``client_weights[client]`` (read from a small table, no arithmetic per pair)
    client_weights: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n_pairs

    def weights(self, start: int = 0, stop: int | None = None, out=None) -> np.ndarray:
        """The weights of pairs ``start:stop``, into ``out`` (int64, as long) when given: the
        sum over levels of the level's coefficient times its weight, negated if minimised."""
        stop = self.n_pairs if stop is None else stop
        if self.client_weights is not None:
            # mode "clip" lets numpy write into ``out`` directly (every client is in the table:
            # ``lexicographic``)
            return np.take(self.client_weights, self.client[start:stop], out=out, mode="clip")
        signed = [
            (coef, weight if up else -weight)
            for coef, up, weight in zip(
                self.coefficients, self.maximise, self.level_weights, strict=True
            )
        ]
        # a constant level (``constant``) adds one number to every pair: only the others are
        # read pair by pair
        fixed = sum(w * int(coef[0]) for coef, w in signed if constant(coef))
        varying = [(coef, w) for coef, w in signed if not constant(coef)]
        if not varying:
            out = np.empty(stop - start, dtype=np.int64) if out is None else out
            out[:] = fixed
            return out
        # Horner's scheme: a level's weight is a multiple of every later level's, so the total
        # is built in one array, in place, without a scaled copy of each level (a fresh array
        # is a page fault per page on a first call): multiplied by the ratio of each weight to
        # the next, the first level's sign and ratio in one multiplication
        scales = [abs(w) for _, w in varying] + [1]
        ratios = [w // after for w, after in zip(scales[:-1], scales[1:], strict=True)]
        first, w = varying[0]
        total = np.multiply(
            first[start:stop], ratios[0] if w > 0 else -ratios[0], out=out, dtype=np.int64
        )
        for (coef, w), ratio in zip(varying[1:], ratios[1:], strict=True):
            if w > 0:
                total += coef[start:stop]
            else:
                total -= coef[start:stop]
            if ratio != 1:
                total *= ratio
        if fixed:
            total += fixed
        return total


def lexicographic(
    coefficients: list[np.ndarray],
    maximise: list[bool],
    client: np.ndarray,
    starts: np.ndarray | None = None,
    of_client: list[np.ndarray | None] | None = None,
) -> Lexicographic | None:
    """The scale of one integer weight per pair whose sum orders solutions like the levels do,
    or None when the totals would not fit in int64 (the flow checks its own, scaled, range).
    ``starts``: where each client's run of pairs starts (``DenseIndex.client_starts``), when
    already known; ``of_client``: as for ``lexicographic_scale``."""
    starts = _run_starts(client) if starts is None else starts
    weights, ranges = lexicographic_scale(coefficients, client, starts, of_client)
    if sum(r * w for r, w in zip(ranges, weights, strict=True)) >= _MAX_COST // 16:
        return None
    scale = Lexicographic(coefficients, maximise, weights, len(client), client)
    own = of_client or [None] * len(coefficients)
    # a level per client in place of a level per pair, where there is one
    tables = [c if constant(c) else o for c, o in zip(coefficients, own, strict=True)]
    if len(client) == 0 or any(t is None for t in tables):
        return scale
    # every level that varies depends on the client alone: so does the weight, made once per
    # client by the same sum over levels (the tables must cover every client: read unchecked)
    last = int((client if starts is None else client[starts]).max())
    size = min((len(o) for o in own if o is not None), default=last + 1)
    if last >= size:
        raise IndexError(f"a level's table per client has {size} clients, not client {last}")
    by_client = Lexicographic(tables, maximise, weights, size).weights()
    return replace(scale, client_weights=by_client)


def lexicographic_weights(
    coefficients: list[np.ndarray],
    maximise: list[bool],
    client: np.ndarray,
    starts: np.ndarray | None = None,
) -> np.ndarray | None:
    """``lexicographic``'s weight of every pair, or None when they would not fit in int64."""
    scale = lexicographic(coefficients, maximise, client, starts)
    return None if scale is None else scale.weights()


def _nested_network(
    client: np.ndarray,
    unit: np.ndarray,
    cost: np.ndarray,
    caps: list[GroupCaps],
    skip: bool,
) -> tuple[min_cost_flow.SimpleMinCostFlow, int] | None:
    """The nested network: source -> client -> (pair, ``cost``) -> unit -> complex (its Magic
    Mix room) -> municipality (its quota) -> sink, every client a unit of supply; with ``skip``
    an arc from source to sink at cost 0 lets a client go unplaced. None when the costs could
    overflow the solver's int64 arithmetic. With the network, its first pair arc: the pair arcs
    come right after the clients' (arc ``first + k`` is pair k)."""
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
    np.maximum.at(best, c_local, np.abs(cost))
    if float(best.sum()) * (n_c + n_u + n_x + n_m + 3) >= _MAX_COST:
        return None
    source, sink = 0, 1
    c0, u0 = 2, 2 + n_c
    x0 = u0 + n_u
    m0 = x0 + n_x
    big = n_c

    def capped(left: np.ndarray) -> np.ndarray:
        return np.where(left < 0, big, np.minimum(left, big))

    extra = [source] if skip else []
    tails = np.concatenate(
        [
            np.full(n_c, source),
            c0 + c_local,
            u0 + np.arange(n_u),
            x0 + np.arange(n_x),
            m0 + np.arange(n_m),
            extra,
        ]
    )
    heads = np.concatenate(
        [
            c0 + np.arange(n_c),
            u0 + u_local,
            x0 + x_local,
            m0 + m_local,
            np.full(n_m, sink),
            [sink] if skip else [],
        ]
    )
    capacities = np.concatenate(
        [
            np.ones(n_c),
            np.ones(len(client)),
            np.ones(n_u),
            capped(room[complexes]),
            capped(quota[munis]),
            [n_c] if skip else [],
        ]
    ).astype(np.int64)
    costs = np.concatenate([np.zeros(n_c), -cost, np.zeros(n_u + n_x + n_m + len(extra))]).astype(
        np.int64
    )

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), capacities, costs
    )
    supplies = np.zeros(m0 + n_m, dtype=np.int64)
    supplies[source], supplies[sink] = n_c, -n_c
    flow.set_nodes_supplies(np.arange(len(supplies), dtype=np.int32), supplies)
    return flow, n_c


def _taken(flow: min_cost_flow.SimpleMinCostFlow, first: int, n_pairs: int) -> np.ndarray:
    """The pairs the solved network sends a client through (``_nested_network``'s arcs)."""
    return np.flatnonzero(flow.flows(np.arange(first, first + n_pairs)) > 0)


def solve_flow(
    client: np.ndarray,
    unit: np.ndarray,
    weight: np.ndarray,
    caps: list[GroupCaps],
) -> np.ndarray | None:
    """Which pairs (indices into the given arrays) the flow optimum takes; None on overflow.

    Only pairs with a positive weight are worth taking; the others are left out.
    """
    network = _nested_network(client, unit, weight, caps, skip=True)
    if network is None or network[0].solve() != network[0].OPTIMAL:
        return None
    return _taken(*network, len(client))


def solve_flow_most_placed(
    client: np.ndarray,
    unit: np.ndarray,
    weight: np.ndarray,
    caps: list[GroupCaps],
    per_placement: int,
) -> np.ndarray | None:
    """``solve_flow``'s optimum (its value; ties may pick other pairs) when the first level
    counts placements: every pair's weight is ``per_placement`` plus the lower levels' share,
    and ``per_placement`` outweighs any change of the lower levels (``lexicographic``). Then the
    optimum places as many clients as the network lets through and, among those allocations,
    has the largest total of the shares: a maximum flow of least cost, with costs the shares
    alone. Those are 200 times smaller (on owned-province, 3 * 10^6 against 7.7 * 10^8), and
    the cost scaling needs fewer phases: 15-35 % less time than ``solve_flow`` on the
    owned-province regions. None on overflow or a pair of weight 0 or less (which
    ``solve_flow`` would leave out and a maximum flow could take).

    ``solve_flow`` itself solves as before: the benchmarks hold ``solve auto`` against it."""
    if len(client) == 0:
        return np.zeros(0, dtype=np.int64)
    if int(weight.min()) <= 0:
        return None
    # without the arc from source to sink: the clients the maximum flow cannot place are
    # simply not sent
    network = _nested_network(client, unit, weight - per_placement, caps, skip=False)
    if network is None:
        return None
    flow, first = network
    if flow.solve_max_flow_with_min_cost() != flow.OPTIMAL:
        return None
    return _taken(flow, first, len(client))


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


def assignment_index(
    client: np.ndarray, unit: np.ndarray, whole: EligiblePairs | None = None
) -> DenseIndex:
    """The rows and columns of the dense matrix: (clients, client row of each pair, units,
    unit column of each pair, client runs). ``whole``: the pairs that ``client`` and ``unit``
    are all of, when eligibility made them: their runs and units are known without a pass."""
    starts = None
    if whole is not None and whole.client_runs is not None:
        runs = whole.client_runs
        if np.all(runs[1:] > runs[:-1]):  # every client has a pair: the rows are the clients
            n_c, c_local, starts = len(runs) - 1, client, runs[:-1]
    if starts is None:
        starts = _run_starts(client)
        n_c, c_local = _dense_index(client, starts)
    if whole is not None and whole.unit_present is not None and np.all(whole.unit_present):
        n_u, u_local = len(whole.unit_present), unit  # every unit has a pair: the columns
    else:
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
    weight: np.ndarray | Lexicographic,
    runs: np.ndarray | None = None,
) -> int:
    """``cells[row * width + column] = min(-weight, 0)``, block by block; the largest weight
    (at least 0). numpy's one-index scatter of values already of the matrix's type is several
    times faster than a two-index one that casts each value; small reused buffers keep it from
    touching fresh memory (a fresh page costs more here than the arithmetic on it), and weights
    given as their ``Lexicographic`` scale are made block by block in one of them. ``runs``:
    where each client's pairs start (``DenseIndex.client_starts``), when known."""
    size = max(1, min(_COST_BLOCK, len(weight)))
    weight_buffer = np.empty(size, dtype=np.int64)
    cost_buffer = np.empty(size)
    cell_buffer = np.empty(size, dtype=np.int64)
    high = 0
    client_costs = None
    if isinstance(weight, Lexicographic) and weight.client_weights is not None and runs is not None:
        # a pair's weight is its client's: the cost too, once per client, and the largest weight
        # is that of a client here (the first pair of each run names them)
        high = max(int(weight.client_weights[weight.client[runs]].max()), 0)
        client_costs = np.minimum(np.negative(weight.client_weights, dtype=np.float64), 0.0)
    for start in range(0, len(weight), size):
        stop = min(start + size, len(weight))
        cost, cell = cost_buffer[: stop - start], cell_buffer[: stop - start]
        if client_costs is not None:
            np.take(client_costs, weight.client[start:stop], out=cost, mode="clip")
        else:
            if isinstance(weight, Lexicographic):
                block = weight.weights(start, stop, weight_buffer[: stop - start])
            else:
                block = weight[start:stop]
            high = max(high, int(block.max()))
            np.negative(block, out=cost, dtype=np.float64)
            np.minimum(cost, 0.0, out=cost)
        np.multiply(row[start:stop], width, out=cell, dtype=np.int64)
        cell += column[start:stop]
        cells[cell] = cost
    return high


def solve_assignment(
    client: np.ndarray,
    unit: np.ndarray,
    weight: np.ndarray | Lexicographic,
    index: DenseIndex | None = None,
) -> np.ndarray | None:
    """A plain assignment (only rule 1 binds): the Hungarian method on the dense weight matrix.

    ``weight``: per pair, or the ``Lexicographic`` scale that makes them (then never all held
    at once). ``index``: ``assignment_index(client, unit)`` when already known. None when the
    matrix would be too large, or when its sums could leave the integers that float64
    represents exactly (the optimum must be exact to be a proof).
    """
    if len(client) == 0:
        return np.zeros(0, dtype=np.int64)
    n_c, c_local, n_u, u_local, starts = assignment_index(client, unit) if index is None else index
    if n_c * n_u > _DENSE_LIMIT:
        return None
    # the negated weights as costs (pairs not worth taking cost 0, like absent ones): the
    # minimum needs no copy of the matrix, unlike ``maximize=True``
    matrix = np.zeros((n_c, n_u))
    high = _write_costs(matrix.reshape(-1), c_local, n_u, u_local, weight, starts)
    # an optimum's total, and every sum on the way to it, stays below high * min(n_c, n_u): whole
    # numbers of float64 while that is below 2**52 (and each weight below it is cast exactly)
    if float(high) * min(n_c, n_u) >= 2.0**52:
        return None
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
        # pair; checked, with the full pass below when the runs were not sorted by unit.
        # Branch-free: the first pair of the run whose unit is not below the column lies in
        # [low, low + length]; each step halves length, the same steps for every row
        low = starts[rows]
        end = np.r_[starts[1:], len(c_local)][rows]
        length = end - low  # at least 1: a kept cell is a pair of its row
        longest = int(length.max())
        while longest > 1:
            half = length >> 1
            probe = low + half
            low = np.where(u_local[probe] < cols, probe, low)
            length -= half
            longest -= longest >> 1
        low += u_local[low] < cols
        found = u_local[np.minimum(low, len(u_local) - 1)]
        if np.all(low < end) and np.array_equal(found, cols):
            return np.sort(low)
    # each client-unit pair occurs once: the pairs whose unit is the one their row was given
    col_of_row = np.full(n_c, -1, dtype=np.int32 if n_u < 2**31 else np.int64)
    col_of_row[rows] = cols
    return np.flatnonzero(u_local == col_of_row[c_local])
