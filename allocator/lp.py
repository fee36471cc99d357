"""The LP relaxation of a part with every rule, solved level by level with HiGHS.

An LP optimum that is integral is an integer optimum, with its own proof: the LP bound equals the
value. For this assignment structure the relaxation is integral in most parts; where a level comes
out fractional, the caller hands that part to CP-SAT.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
from scipy.sparse import csc_matrix

from allocator.decompose import GroupCaps
from allocator.flow import per_client_max

_INTEGRAL = 1e-6
#: Column generation takes in at most this many improving pairs per client and per unit a
#: round (``ColumnLp._spread``).
NEW_PER_CLIENT = 8
NEW_PER_UNIT = 3
#: A fractional optimum: how many re-solves on the optimal face look for an integral one.
FACE_TRIES = 4


def _first_per_group(group: np.ndarray, k: int) -> np.ndarray:
    """Mask of the entries among the first ``k`` of their group, in the given order."""
    by_group = np.argsort(group, kind="stable")  # ties keep the given order
    g = group[by_group]
    run_start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    rank = np.arange(len(g)) - np.repeat(run_start, np.diff(np.r_[run_start, len(g)]))
    keep = np.empty(len(g), dtype=bool)
    keep[by_group] = rank < k
    return keep


def _smallest_per_run(values: np.ndarray, starts: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` smallest values of each run (runs of consecutive entries, starting at
    ``starts``), ties by position: the entries a stable sort by run then value would put
    first in their run, found without a sort. Each pass takes every run's smallest value left,
    as many of its entries as the run still needs; the runs done drop out. Reduced costs fall
    into few tie classes per client (a client's pairs differ by little more than their
    municipality's rank): measured 1-5 passes, most runs done after the first."""
    n = len(values)
    keep = np.zeros(n, dtype=bool)
    position = None  # of the entries still in play (None: all of them)
    value = values
    lengths = np.diff(np.r_[starts, n])
    need = np.full(len(starts), k)
    while len(value):
        # (per-run numbers spread to the entries by np.repeat: a sequential write, no gather)
        run_starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=run_starts[1:])
        at_min = value == np.repeat(np.minimum.reduceat(value, run_starts), lengths)
        seen = np.zeros(len(value) + 1, dtype=np.int64)  # entries at their run's minimum so far
        np.cumsum(at_min, out=seen[1:])
        before = seen[run_starts]
        take = at_min & (seen[1:] <= np.repeat(before + need, lengths))
        if position is None:
            keep |= take
        else:
            keep[position[take]] = True
        at_min_count = seen[run_starts + lengths] - before
        need = need - np.minimum(at_min_count, need)
        lengths = lengths - at_min_count
        going = (need > 0) & (lengths > 0)
        stay = np.repeat(going, lengths + at_min_count) & ~at_min
        position = np.flatnonzero(stay) if position is None else position[stay]
        value = value[stay]
        lengths, need = lengths[going], need[going]
    return keep


@dataclass
class LpOutcome:
    """``chosen`` is set when the LP optimum was integral at every level and reached every
    bound: then ``values`` are proven optima. Otherwise ``values`` holds, per level solved, the
    whole-number bound no integer allocation can pass (the LP's proven dual bound rounded
    inwards, computed with the earlier levels held at their bounds), ``bounds`` the same before
    rounding, and ``free`` marks the pairs with zero reduced cost in the last LP: a solution
    reaching every bound must leave the others where the LP has them (complementary
    slackness), at ``x`` rounded."""

    chosen: np.ndarray | None
    values: list[int]
    seconds: list[float]
    x: np.ndarray | None = None
    free: np.ndarray | None = None
    bounds: list[float] = field(default_factory=list)


@dataclass
class CombinedOutcome:
    """The one-LP attempt: ``chosen`` when its integral vertex is proven optimal; ``bound`` a
    proven upper bound on the combined weight of any allocation (None: no LP answer)."""

    chosen: np.ndarray | None
    bound: float | None
    x: np.ndarray | None = None


#: Float64 represents the integers exactly up to 2^53; a proof compares totals to a unit, so
#: weights whose possible total comes near that are not proven by one combined LP.
SAFE_TOTAL = 2.0**50


class CapRows:
    """A x <= b for rule 1 and every limited group of the cap rows, over the given pairs (one
    column per pair), with per row its key: (-2, client), (-1, unit) or (index into ``caps``,
    group). Rows that could never bind are left out, except those named in ``keep`` (their
    limit will change). Rows are numbered family by family (clients, units, then the caps in
    order), groups in key order.

    A pair lies in at most one group of each family, and a family of units (rule 1 and every
    cap on units) gives each unit one row: so A is kept as each family's row per client, per
    unit or (caps on groups of clients) per pair, and never written out. ``A'y`` is then a sum
    per client and one per unit, read off for each pair: two gathers over the pairs, where a
    sparse product touches every entry (and building the matrix took longer than the LP's
    pricing rounds on the owned-province instance)."""

    CLIENT, UNIT, PAIR = 0, 1, 2

    def __init__(
        self,
        client: np.ndarray,
        unit: np.ndarray,
        caps: list[GroupCaps],
        keep: frozenset[tuple[int, int]] = frozenset(),
    ):
        self.client, self.unit = client, unit
        self.n = n = len(client)
        #: the pairs come sorted by client (as eligibility gives them)
        self.by_client = bool(np.all(client[1:] >= client[:-1]))
        self._scratch: dict[np.dtype, np.ndarray] = {}  # per dtype, one array over the pairs
        per_client = np.bincount(client) if n else np.zeros(0, dtype=np.int64)
        per_unit = np.bincount(unit) if n else np.zeros(0, dtype=np.int64)
        units = np.flatnonzero(per_unit)
        # (kind, family, counts per group, limit per group or None, then per client / unit /
        # pair the group: None where the groups are the clients or units themselves)
        families = [
            (self.CLIENT, -2, per_client, None, None),
            (self.UNIT, -1, per_unit, None, None),
        ]
        for i, cap in enumerate(caps):
            if cap.on_clients:
                key = cap.of_pairs(client, unit)
                valid = key >= 0  # keys < 0 belong to no group
                counts = np.bincount(key[valid], minlength=len(cap.left))
                families.append((self.PAIR, i, counts, cap.left, key))
            else:
                group = cap.unit_group[: len(per_unit)]
                valid = group[units] >= 0
                counts = np.bincount(
                    group[units][valid], weights=per_unit[units][valid], minlength=len(cap.left)
                ).astype(np.int64)
                families.append((self.UNIT, i, counts, cap.left, group))
        #: per family kept: (kind, its row per client, unit or pair; -1 where none)
        self.families: list[tuple[int, np.ndarray]] = []
        rhs: list[int] = []
        self.keys: list[tuple[int, int]] = []
        row = 0
        for kind, family, counts, left, group_of in families:
            groups = np.flatnonzero(counts)
            if len(groups) == 0:
                continue
            count = counts[groups]
            limit = np.ones(len(groups), dtype=np.int64) if left is None else left[groups]
            kept = (limit >= 0) & (limit < count)  # a row that could never bind is left out
            for fam, group in keep:  # unless its limit will change
                if fam == family:
                    kept |= groups == group
            n_kept = int(np.count_nonzero(kept))
            if n_kept == 0:
                continue
            row_of_group = np.full(len(counts) + 1, -1, dtype=np.int64)  # [-1]: no group
            row_of_group[groups[kept]] = np.arange(row, row + n_kept)
            # the groups are the clients or units themselves, else each one's group (-1: none)
            row_of = row_of_group[:-1] if group_of is None else row_of_group[group_of]
            self.families.append((kind, row_of))
            rhs.extend(np.where(limit[kept] >= 0, limit[kept], count[kept]).tolist())
            self.keys.extend(zip(itertools.repeat(family), groups[kept].tolist()))
            row += n_kept
        self.n_rows = row
        self.b = np.array(rhs, dtype=float)
        #: at most one row per family: a bound on the rows of any column
        self.max_column_rows = len(self.families)

    def of(self, pairs: np.ndarray) -> np.ndarray:
        """The rows of the given pairs: pairs × families, -1 where a pair has none."""
        out = np.empty((len(pairs), len(self.families)), dtype=np.int64)
        for f, (kind, row_of) in enumerate(self.families):
            if kind == self.PAIR:
                out[:, f] = row_of[pairs]
            else:
                out[:, f] = row_of[(self.client if kind == self.CLIENT else self.unit)[pairs]]
        return out

    def _sums(self, y: np.ndarray):
        """``y`` summed per client, per unit and per pair (None where no family of that kind)."""
        extended = np.append(y, np.zeros(1, dtype=y.dtype))  # row -1: no row, adds 0
        per_client = per_unit = None
        per_pair = []
        for kind, row_of in self.families:
            part = extended[row_of]
            if kind == self.CLIENT:
                per_client = part if per_client is None else per_client + part
            elif kind == self.UNIT:
                per_unit = part if per_unit is None else per_unit + part
            else:
                per_pair.append(part)
        return per_client, per_unit, per_pair

    def reduced(self, cost: np.ndarray, y: np.ndarray, out: np.ndarray | None = None):
        """``cost - A'y`` per pair (exact in int64 for whole ``cost`` and ``y``), into ``out``
        when given: the pricing rounds reuse one array, and each term is taken off in place
        (these passes over every pair are bound by memory, not arithmetic)."""
        per_client, per_unit, per_pair = self._sums(y)
        dtype = np.result_type(cost.dtype, y.dtype)
        out = np.empty(self.n, dtype=dtype) if out is None else out
        # the gathers go into a kept array (``take`` with ``out``, unbuffered in mode "clip":
        # the indices are valid), not a fresh one per call: in a fresh process each new page
        # costs more than the gather
        scratch = self._scratch.get(dtype)
        if scratch is None:
            scratch = self._scratch[dtype] = np.empty(self.n, dtype=dtype)
        np.copyto(out, cost)
        for values, at in ((per_client, self.client), (per_unit, self.unit)):
            if values is not None:
                out -= np.take(values.astype(dtype, copy=False), at, out=scratch, mode="clip")
        for part in per_pair:
            out -= part
        return out

    def column_sums(self, y: np.ndarray) -> np.ndarray:
        """``A'y``: per pair, the sum of ``y`` over its rows (exact in int64 for whole ``y``)."""
        return -self.reduced(np.zeros(self.n, dtype=y.dtype), y)

    def counts(self, chosen: np.ndarray) -> np.ndarray:
        """``A x`` for the 0/1 ``x`` that takes the pairs ``chosen``."""
        rows = self.of(chosen)
        return np.bincount(rows[rows >= 0], minlength=self.n_rows)

    def matrix(self) -> csc_matrix:
        """A written out, by columns."""
        rows = self.of(np.arange(self.n))
        present = rows >= 0
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.count_nonzero(present, axis=1), out=indptr[1:])
        indices = rows[present].astype(np.int32)
        return csc_matrix((np.ones(len(indices)), indices, indptr), shape=(self.n_rows, self.n))


class ColumnLp:
    """The LP relaxation of one part by column generation.

    It starts with a few promising pairs and, at each solve, takes in pairs the duals price as
    improving (a few per client and unit, ``_spread``), until none is left: the restricted
    optimum is then optimal over all pairs.
    Primal simplex throughout: measured 10x faster than dual on these highly degenerate
    assignment LPs (0.46 s against 5.1 s for an 85,000-pair part), and both added columns and a
    level row added at the current value keep the basis primal feasible, so every re-solve is warm.

    With ``lazy_rows`` a cap row enters HiGHS only once the pairs taken in could overfill it (more
    of them than its limit; until then the column bounds imply it, and its price is 0): on the
    owned-province LP 2,900 of 6,700 rows, a fifth less time. HiGHS's row ``highs_row[r]`` is
    then cap row ``r`` (-1: not in yet); without, row ``r`` itself. ``perturb=False`` turns
    the primal simplex's bound perturbation off (see ``solve_lp_combined``).
    """

    def __init__(
        self,
        client: np.ndarray,
        unit: np.ndarray,
        caps: list[GroupCaps],
        keep: frozenset[tuple[int, int]] = frozenset(),
        lazy_rows: bool = False,
        perturb: bool = True,
    ):
        self.rows = CapRows(client, unit, caps, keep)
        self.row_keys = self.rows.keys
        self.b = b = self.rows.b
        self.n, self.n_rows = len(client), self.rows.n_rows
        self.client, self.unit = client, unit
        # pairs sorted by client (as eligibility gives them): ``_spread`` reads clients as runs
        self.by_client = self.rows.by_client
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("simplex_strategy", 4)
        highs.setOptionValue("threads", 1)
        highs.setOptionValue("random_seed", 0)
        if not perturb:
            highs.setOptionValue("primal_simplex_bound_perturbation_multiplier", 0.0)
        self.lazy_rows = lazy_rows
        self.n_highs_rows = 0 if lazy_rows else self.n_rows
        self.highs_row = np.full(self.n_rows, -1, dtype=np.int64)
        if not lazy_rows:
            self.highs_row[:] = np.arange(self.n_rows)
        self.level_highs: list[int] = []  # HiGHS row of each level row
        self.taken_in_row = np.zeros(self.n_rows, dtype=np.int64)  # pairs taken in, per cap row
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 0, self.n_highs_rows
        lp.row_lower_ = np.full(self.n_highs_rows, -highspy.kHighsInf)
        lp.row_upper_ = b[: self.n_highs_rows]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.zeros(1, dtype=np.int32)
        highs.passModel(lp)
        self.highs = highs
        self.in_model = np.full(self.n, -1, dtype=np.int64)  # HiGHS column of each pair
        self.out_of_model = np.ones(self.n, dtype=bool)  # in_model < 0
        self.columns: list[int] = []
        self.taken_rows: list[np.ndarray] = []  # ``CapRows.of`` the columns, batch by batch
        self.level_rows: list[np.ndarray] = []  # coefficients over all pairs of each level row
        self.level_bounds: list[tuple[float, float]] = []
        self.max_column_rows = self.rows.max_column_rows
        self.reduced = np.zeros(self.n)
        self.bound_duals: np.ndarray | None = None  # the multipliers of the last bound
        # the last solve's cost, the cap duals its final ``reduced`` was priced with, and the
        # largest |cost| (``_priced_bound``)
        self._priced: tuple[np.ndarray, np.ndarray, float] | None = None

    def seed(self, value: np.ndarray, start: np.ndarray | None, per_client: int) -> None:
        """First columns: ``start`` and each client's ``per_client`` most valuable pairs."""
        initial = np.zeros(self.n, dtype=bool)
        if per_client > 0:  # (the sort of every pair is a good part of a small LP's set-up)
            order = np.lexsort((-value, self.client))
            initial[order[_first_per_group(self.client[order], per_client)]] = True
        if start is not None:
            initial[start] = True
        self._add(np.flatnonzero(initial), np.zeros(self.n))

    def _add(self, new: np.ndarray, cost: np.ndarray) -> None:
        new = new[self.in_model[new] < 0]
        if len(new) == 0:
            return
        rows = self.rows.of(new)
        present = rows >= 0
        index = rows[present]  # column by column, each column's rows in family order
        starts = np.zeros(len(new) + 1, dtype=np.int64)
        np.cumsum(np.count_nonzero(present, axis=1), out=starts[1:])
        value = np.ones(len(index))
        if self.lazy_rows:
            self.taken_in_row += np.bincount(index, minlength=self.n_rows)
            self._rows_in(np.flatnonzero((self.taken_in_row > self.b) & (self.highs_row < 0)))
            index = self.highs_row[index]
            present = index >= 0
            seen = np.r_[0, np.cumsum(present)]
            starts = seen[starts]
            index, value = index[present], value[present]
        if self.level_rows:
            # each new column also enters every level row added so far
            k = len(self.level_rows)
            per_col = np.diff(starts)
            index = np.insert(
                index,
                np.repeat(starts[1:], k),
                np.tile(np.array(self.level_highs), len(new)),
            )
            extra = np.stack([r[new] for r in self.level_rows], axis=1).ravel()
            value = np.insert(value, np.repeat(starts[1:], k), extra)
            starts = np.r_[0, np.cumsum(per_col + k)]
        self.highs.addCols(
            len(new),
            cost[new].astype(float),
            np.zeros(len(new)),
            np.ones(len(new)),
            len(index),
            starts[:-1].astype(np.int32),
            index.astype(np.int32),
            value,
        )
        self.taken_rows.append(rows)
        self.in_model[new] = np.arange(len(self.columns), len(self.columns) + len(new))
        self.out_of_model[new] = False
        self.columns.extend(new.tolist())

    def _column_rows(self) -> np.ndarray:
        """The cap rows of each column taken in, in HiGHS's order (``CapRows.of``)."""
        if len(self.taken_rows) > 1:
            self.taken_rows = [np.concatenate(self.taken_rows)]
        if not self.taken_rows:
            return np.zeros((0, len(self.rows.families)), dtype=np.int64)
        return self.taken_rows[0]

    def _rows_in(self, rows: np.ndarray) -> None:
        """Lazy cap rows into HiGHS, over the pairs already taken in (all at 0 or within the
        row's limit, as it was implied: the basis stays primal feasible)."""
        if len(rows) == 0:
            return
        # the entries of these rows among the columns taken in (HiGHS column j is pair
        # columns[j]), row by row, columns in order
        new_row = np.full(self.n_rows + 1, -1, dtype=np.int64)  # [-1]: no row
        new_row[rows] = np.arange(len(rows))
        local = new_row[self._column_rows()]
        column, family = np.nonzero(local >= 0)
        local = local[column, family]
        order = np.argsort(local, kind="stable")
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(local, minlength=len(rows)), out=starts[1:])
        self.highs.addRows(
            len(rows),
            np.full(len(rows), -highspy.kHighsInf),
            self.b[rows].astype(float),
            len(local),
            starts[:-1].astype(np.int32),
            column[order].astype(np.int32),
            np.ones(len(local)),
        )
        self.highs_row[rows] = np.arange(self.n_highs_rows, self.n_highs_rows + len(rows))
        self.n_highs_rows += len(rows)

    def _duals(self) -> tuple[np.ndarray, np.ndarray]:
        """The last solve's duals: per cap row (0 for one not in HiGHS) and per level row."""
        duals = np.asarray(self.highs.getSolution().row_dual, dtype=float)
        if not self.lazy_rows:
            return duals[: self.n_rows], duals[self.n_rows :]
        cap = np.zeros(self.n_rows)
        present = self.highs_row >= 0
        cap[present] = duals[self.highs_row[present]]
        return cap, duals[np.array(self.level_highs, dtype=np.int64)]

    def solve(self, cost: np.ndarray, deadline: float) -> np.ndarray | None:
        """Minimise ``cost`` over all pairs; x over all pairs, or None (time-out, failure)."""
        ids = np.array(self.columns, dtype=np.int64)
        self.highs.changeColsCost(len(ids), np.arange(len(ids), dtype=np.int32), cost[ids])
        self.bound_duals = None
        # columns left out add their reduced cost to the dual bound: keep that well under a unit
        largest = max(float(cost.max(initial=0.0)), -float(cost.min(initial=0.0)))  # |cost|
        tolerance = max(1e-7, 1e-13 * largest)
        d = np.empty(self.n)  # the reduced costs, rewritten each round
        improving_mask = np.empty(self.n, dtype=bool)
        self._priced = None
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self.highs.setOptionValue("time_limit", float(remaining))
            self.highs.run()
            if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
            cap, level = self._duals()
            self.rows.reduced(cost, cap, out=d)
            for row, y in zip(self.level_rows, level, strict=True):
                d -= row * y
            self.reduced = d
            np.less(d, -tolerance, out=improving_mask)
            improving_mask &= self.out_of_model
            improving = np.flatnonzero(improving_mask)
            if len(improving) == 0:
                if not self.level_rows:
                    self._priced = (cost, cap, largest)
                break
            self._add(self._spread(improving, d), cost)
        x = np.zeros(self.n)
        x[np.array(self.columns, dtype=np.int64)] = np.asarray(self.highs.getSolution().col_value)
        return x

    def _spread(self, improving: np.ndarray, d: np.ndarray) -> np.ndarray:
        """The improving pairs to take in: per client its ``NEW_PER_CLIENT`` most improving,
        of those per unit its ``NEW_PER_UNIT`` most improving. A batch of the most improving
        overall piles onto the few clients and units the duals price worst, most of them never
        used: on the owned-province LP (217,000 pairs, the flow's pairs first) that took 42,500
        columns and 6,400 simplex iterations, spread 6,600 columns and 3,800 iterations in 7
        rounds, about half the time (4 and 2 a round: 15 rounds, 25 % slower)."""
        if self.by_client:
            # each client's pairs are one run of ``improving``: the same pairs without sorting
            # them all (a fifth of the LP's own time on owned-province)
            client = self.client[improving]
            starts = np.flatnonzero(np.r_[True, client[1:] != client[:-1]])
            chosen = improving[_smallest_per_run(d[improving], starts, NEW_PER_CLIENT)]
            order = chosen[np.argsort(d[chosen], kind="stable")]
        else:
            order = improving[np.argsort(d[improving], kind="stable")]
            order = order[_first_per_group(self.client[order], NEW_PER_CLIENT)]
        return order[_first_per_group(self.unit[order], NEW_PER_UNIT)]

    def whole_vertex(self, x: np.ndarray, deadline: float, tries: int = FACE_TRIES):
        """An integral vertex among the optima of the last solve, when ``x`` (its vertex) is
        fractional; None if none was found. Complementary slackness with the last duals marks
        the optimal face: pairs with a positive reduced cost stay at 0, negative at 1, rows
        with a non-zero price stay at their limit. Every vertex of that face is an optimal
        vertex of the LP, so the warm re-solves below only look for another one, with new
        objectives: first the fractional pairs pushed down, then random ones. Its rows are
        checked exactly before it is returned. Changes the model: the last thing done with it.

        Measured on owned-province instances whose vertex came out fractional: one to three
        re-solves of 100-3,500 simplex iterations found an integral optimum, where CP-SAT
        around the fractional pairs and the level-by-level LP took seconds."""
        ids = np.array(self.columns, dtype=np.int64)
        d = self.reduced[ids]
        scale = max(1.0, float(np.abs(d).max(initial=0.0)))
        off, on = np.flatnonzero(d > 1e-9 * scale), np.flatnonzero(d < -1e-9 * scale)
        self.highs.changeColsBounds(
            len(off), off.astype(np.int32), np.zeros(len(off)), np.zeros(len(off))
        )
        self.highs.changeColsBounds(
            len(on), on.astype(np.int32), np.ones(len(on)), np.ones(len(on))
        )
        duals = self._duals()[0]
        row_scale = max(1.0, float(np.abs(duals).max(initial=0.0)))
        for row in np.flatnonzero(np.abs(duals) > 1e-9 * row_scale).tolist():
            limit = float(self.b[row])
            self.highs.changeRowBounds(int(self.highs_row[row]), limit, limit)
        xs = x[ids]
        pushed_down = ((xs > _INTEGRAL) & (xs < 1 - _INTEGRAL)).astype(float)
        rng = np.random.default_rng(0)
        objectives = [pushed_down] + [rng.random(len(ids)) for _ in range(tries - 1)]
        for objective in objectives:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self.highs.setOptionValue("time_limit", float(remaining))
            self.highs.changeColsCost(len(ids), np.arange(len(ids), dtype=np.int32), objective)
            self.highs.run()
            if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
            values = np.asarray(self.highs.getSolution().col_value)
            if np.abs(values - np.round(values)).max(initial=0.0) > _INTEGRAL:
                continue
            whole = np.zeros(self.n)
            whole[ids[values > 0.5]] = 1.0
            if np.all(self.rows.counts(np.flatnonzero(whole)) <= self.b):
                return whole
        return None

    def hold(self, coefficient: np.ndarray, maximise: bool, value: int) -> None:
        """Keep a level at ``value`` from now on (a row over every pair, present and future)."""
        lower, upper = (value, highspy.kHighsInf) if maximise else (-highspy.kHighsInf, value)
        ids = np.array(self.columns, dtype=np.int64)
        self.highs.addRow(
            lower,
            upper,
            len(ids),
            np.arange(len(ids), dtype=np.int32),
            coefficient[ids].astype(float),
        )
        self.level_rows.append(coefficient.astype(float))
        self.level_bounds.append((float(lower), float(upper)))
        self.level_highs.append(self.n_highs_rows)
        self.n_highs_rows += 1

    def lower_bound(self, cost: np.ndarray, whole_cost: bool = False) -> float:
        """A proven lower bound on min cost·x over every x in [0, 1] meeting the rows (so over
        every integer allocation that meets them), from whatever duals HiGHS returned.

        Weak duality holds for any multipliers of the right sign: ``pi·bound + sum(min(0,
        cost - A'pi))``. The sums are taken in floating point, so the bound is lowered by a
        rigorous bound on their rounding error (about 2^-52 of the magnitudes summed): on
        totals near 2^52 that margin reaches a whole unit and the caller cannot prove a level.
        ``whole_cost``: the caller knows every cost is a whole number (made from integers).
        """
        cap, level = self._duals()
        if whole_cost:
            priced = self._priced_bound(cost, cap)
            if priced is not None:
                return priced
        duals = np.r_[cap, level]
        whole = self._whole_lower_bound(cost, duals)
        if whole is not None and np.array_equal(duals, np.round(duals)):
            # the same multipliers summed exactly: the float sum below, less its rounding
            # margin, cannot pass it
            self.bound_duals = whole[1]
            return float(whole[0])
        cap = np.minimum(cap, 0.0)  # rows sum <= b: dual <= 0 when minimising
        rhs = [cap * self.b]
        reduced = self.rows.reduced(cost, cap)
        magnitude = np.abs(cost) + self.rows.column_sums(np.abs(cap))
        for row, y, (lower, upper) in zip(self.level_rows, level, self.level_bounds, strict=True):
            y = min(y, 0.0) if np.isinf(lower) else max(y, 0.0)  # the side that is finite
            rhs.append(np.array([y * (upper if np.isinf(lower) else lower)]))
            reduced -= row * y
            magnitude += np.abs(row * y)
        terms = np.concatenate(rhs)
        negative = np.minimum(reduced, 0.0)
        # per column at most (rows it is in + 2) roundings; columns clearly positive add 0
        unit = 2.0**-52 * (self.max_column_rows + len(self.level_rows) + 2)
        err = unit * magnitude
        margin = float(err[reduced <= err].sum()) + 2.0**-52 * float(np.abs(terms).sum())
        total = math.fsum(terms.tolist()) + math.fsum(negative[negative < 0].tolist())
        bound = total - margin - 2.0**-52 * abs(total) * 4
        self.bound_duals = np.r_[cap, level] if self.level_rows else cap
        if whole is not None and whole[0] > bound:
            bound, self.bound_duals = float(whole[0]), whole[1]
        return bound

    def _priced_bound(self, cost: np.ndarray, cap: np.ndarray) -> float | None:
        """``_whole_lower_bound``'s bound read off the reduced costs the last solve priced with,
        when it priced this very ``cost`` (whole numbers) with these duals, whole and of the right
        sign, and no level row: then those multipliers are the rounded ones, and every
        difference and partial sum stays a whole number below 2^53, so the float sums are exact
        and equal the integer ones. It saves the integer pass over every pair (on the
        owned-province LP, a tenth of its time out of HiGHS). None when it does not apply."""
        priced = self._priced
        if priced is None or priced[0] is not cost or self.level_rows:
            return None
        if not np.array_equal(priced[1], cap) or np.any(cap > 0):
            return None
        if not np.array_equal(cap, np.round(cap)) or not np.array_equal(self.b, np.round(self.b)):
            return None
        big_cap = float(np.abs(cap).max(initial=0.0))
        per_column = priced[2] + self.max_column_rows * big_cap
        if max(1, self.n) * per_column + float(np.abs(self.b).sum()) * big_cap >= 2.0**53:
            return None
        total = float((cap * self.b).sum()) + float(np.minimum(self.reduced, 0.0).sum())
        self.bound_duals = cap.copy()
        return total

    def _whole_lower_bound(
        self, cost: np.ndarray, duals: np.ndarray
    ) -> tuple[int, np.ndarray] | None:
        """The same weak-duality bound with the duals rounded to whole numbers and every sum
        taken exactly in integers: (bound, the multipliers behind it), or None when the costs,
        limits or level rows are not whole or the sums could leave int64.

        Any multipliers of the right sign give a valid bound, rounded ones too. With the
        combined lexicographic weights (about 10^10 per placement) the float bound above needs
        a margin of several units over tens of thousands of columns, enough to miss a proof by
        a few rank points; on these rows and whole weights HiGHS's duals at a vertex are whole
        numbers (measured: every region of the owned-national instance), so the exact sum
        meets the integer optimum where the LP reaches it."""
        # whole and within int64 (NaN and infinities fail the first test)
        if len(cost) and not max(float(cost.max()), -float(cost.min())) < 2.0**62:
            return None
        whole_cost = cost.astype(np.int64)
        if not np.array_equal(whole_cost, cost):
            return None
        b = np.round(self.b)
        if np.any(b != self.b):
            return None
        for row, (lower, upper) in zip(self.level_rows, self.level_bounds, strict=True):
            side = upper if np.isinf(lower) else lower
            if np.any(row != np.round(row)) or side != round(side):
                return None
        cap = np.minimum(np.round(duals[: self.n_rows]), 0.0)
        level = []
        for y, (lower, _upper) in zip(duals[self.n_rows :], self.level_bounds, strict=True):
            y = round(float(y))
            level.append(min(y, 0) if np.isinf(lower) else max(y, 0))
        # every partial sum below stays under 2^62 in absolute value
        big_cap = float(np.abs(cap).max(initial=0.0))
        per_column = float(np.abs(cost).max(initial=0.0)) + self.max_column_rows * big_cap
        for row, y in zip(self.level_rows, level, strict=True):
            per_column += float(np.abs(row).max(initial=0.0)) * abs(y)
        rhs_size = float(np.abs(b).sum()) * big_cap + sum(
            abs(y) * abs(upper if np.isinf(lower) else lower)
            for y, (lower, upper) in zip(level, self.level_bounds, strict=True)
        )
        if max(1, self.n) * per_column + rhs_size >= 2.0**62:
            return None
        cap_whole = cap.astype(np.int64)
        reduced = self.rows.reduced(whole_cost, cap_whole)
        total = int((cap_whole * b.astype(np.int64)).sum())
        for row, y, (lower, upper) in zip(self.level_rows, level, self.level_bounds, strict=True):
            reduced -= row.astype(np.int64) * y
            total += y * int(upper if np.isinf(lower) else lower)
        total += int(np.minimum(reduced, 0).sum())
        return total, np.r_[cap, np.array(level, dtype=float)]

    @functools.cached_property
    def a(self) -> csc_matrix:
        """The cap rows' matrix written out (``CapRows.matrix``), for whoever needs it whole."""
        return self.rows.matrix()

    def set_limit(self, key: tuple[int, int], limit: int) -> None:
        """Change one cap row's limit (a row kept with ``keep``); the next solve is warm."""
        if key not in self.row_keys:
            return  # no pair of this group here
        row = self.row_keys.index(key)
        self.b[row] = limit
        if self.highs_row[row] >= 0:
            self.highs.changeRowBounds(int(self.highs_row[row]), -highspy.kHighsInf, float(limit))
        elif self.taken_in_row[row] > limit:  # a lazy row the pairs taken in could now overfill
            self._rows_in(np.array([row]))

    def limit_ranges(
        self, keys: list[tuple[int, int]]
    ) -> dict[tuple[int, int], tuple[float, float]]:
        """Per cap row, how far its limit can move down and up with its price unchanged
        (HiGHS's ranging of the last solve): (0, 0) when ranging is not available, (limit, inf)
        for a group without pairs here."""
        status, ranging = self.highs.getRanging()
        ok = status == highspy.HighsStatus.kOk and ranging.valid
        out = {}
        for key in keys:
            if key not in self.row_keys:
                out[key] = (math.inf, math.inf)
                continue
            if not ok:
                out[key] = (0.0, 0.0)
                continue
            row = self.row_keys.index(key)
            limit = float(self.b[row])
            if self.highs_row[row] < 0:  # a lazy row not in: free down to the pairs taken in
                out[key] = (max(0.0, limit - float(self.taken_in_row[row])), math.inf)
                continue
            row = int(self.highs_row[row])
            down = limit - float(ranging.row_bound_dn.value_[row])
            up = float(ranging.row_bound_up.value_[row]) - limit
            out[key] = (max(0.0, down), max(0.0, up))
        return out

    def cap_multipliers(self) -> np.ndarray:
        """Per cap row, the multiplier behind the last bound since the last solve (so a cut
        ``bound + price·(b' - b)`` and reduced-cost fixing against that bound are exact), else
        the dual HiGHS returned."""
        if self.bound_duals is not None:
            return self.bound_duals[: self.n_rows]
        return self._duals()[0]

    def cap_duals(self) -> dict[tuple[int, int], float]:
        """The price (>= 0, in objective units per placement) of each binding cap row, by
        (index into caps, group), from ``cap_multipliers``."""
        return {
            key: float(-min(y, 0.0))
            for key, y in zip(self.row_keys, self.cap_multipliers().tolist(), strict=True)
            if key[0] >= 0
        }

    def upper_bound(self, weight: np.ndarray) -> float:
        """A proven upper bound on max weight·x over the integer (and LP) allocations."""
        return -self.lower_bound(-weight.astype(float))


def best_total(client: np.ndarray, weight: np.ndarray) -> float:
    """The largest total weight any allocation could have: each client at its best pair (a
    client takes one unit). Also a proven, if weak, upper bound."""
    if len(client) == 0:
        return 0.0
    # (one pass over the client runs when the pairs come sorted by client, as they do)
    return float(per_client_max(client, weight).sum())


def solve_lp_combined(
    client: np.ndarray,
    unit: np.ndarray,
    caps: list[GroupCaps],
    weight: np.ndarray,
    deadline: float,
    start: np.ndarray | None = None,
    per_client: int = 6,
) -> CombinedOutcome:
    """One LP for all levels at once, with the flow's lexicographic integer weights. ``chosen``
    is set when the LP vertex is integral and its dual bound proves it: then no allocation has
    a larger weight, so it is the lexicographic optimum.

    Not tried (None, None) when the weights' possible total is beyond what float64 can prove
    to a unit (``SAFE_TOTAL``)."""
    if len(client) == 0:
        return CombinedOutcome(np.zeros(0, dtype=np.int64), 0.0)
    if best_total(client, weight) >= SAFE_TOTAL:
        return CombinedOutcome(None, None)
    # without the simplex's bound perturbation: on owned-province (seeds 0-3) 9-12 % fewer
    # iterations, 5-20 % less time, vertices as often integral. (Not for the linked path's
    # region LPs: on owned-national their vertices came out fractional more often, and the
    # CP-SAT repairs cost more than the simplex saved.) The proof does not depend on the path.
    lp = ColumnLp(client, unit, caps, lazy_rows=True, perturb=False)
    cost = -weight.astype(float)  # HiGHS minimises
    lp.seed(-cost, start, per_client)
    x = lp.solve(cost, deadline)
    if x is None:
        return CombinedOutcome(None, None)
    bound = -lp.lower_bound(cost, whole_cost=True)  # (``upper_bound`` of the weights)
    vertex = x
    if np.abs(x - np.round(x)).max(initial=0.0) > _INTEGRAL:
        vertex = lp.whole_vertex(x, deadline)  # the bound above stays the proof
        if vertex is None:
            return CombinedOutcome(None, bound, x)
    chosen = np.flatnonzero(vertex > 0.5)
    value = int(weight[chosen].sum())
    # integer allocations have integer weight: a bound below value + 1 leaves no better one
    if bound < value + 1:
        return CombinedOutcome(chosen, bound, vertex)
    return CombinedOutcome(None, bound, x)


def solve_lp_levels(
    client: np.ndarray,
    unit: np.ndarray,
    caps: list[GroupCaps],
    coefficients: list[np.ndarray],
    maximise: list[bool],
    deadline: float,
    start: np.ndarray | None = None,
    per_client: int = 6,
) -> LpOutcome:
    """Level by level: each level optimised with the earlier ones held at their bounds.

    Each level's bound is the LP's proven dual bound (``ColumnLp.lower_bound``), rounded to the
    whole number no integer allocation can pass; the level is then held there. An integral
    vertex reaching every held bound is the lexicographic optimum."""
    lp = ColumnLp(client, unit, caps, lazy_rows=True)
    # seed by the levels in order (a float tie-break is fine: this only picks first columns)
    value = np.zeros(len(client))
    for coef, up in zip(coefficients[::-1], maximise[::-1], strict=True):
        value = (coef if up else -coef) + 1e-6 * value
    lp.seed(value, start, per_client)
    values: list[int] = []
    bounds: list[float] = []
    seconds: list[float] = []
    x = np.zeros(len(client))
    for coef, up in zip(coefficients, maximise, strict=True):
        started = time.perf_counter()
        cost = (-coef if up else coef).astype(float)  # HiGHS minimises
        x = lp.solve(cost, deadline)
        seconds.append(time.perf_counter() - started)
        if x is None:
            return LpOutcome(None, values, seconds, bounds=bounds)
        low = lp.lower_bound(cost)
        bounds.append(-low if up else low)
        values.append(math.floor(-low) if up else math.ceil(low))
        lp.hold(coef, up, values[-1])
    # An integral last vertex reaching every level's bound (the level rows hold it there)
    # proves each bound optimal, whatever the vertices on the way looked like.
    if np.abs(x - np.round(x)).max(initial=0.0) <= _INTEGRAL:
        chosen = np.flatnonzero(x > 0.5)
        reached = [int(c[chosen].sum()) for c in coefficients]
        if reached == values:
            return LpOutcome(chosen, values, seconds, bounds=bounds)
    d = lp.reduced
    scale = max(1.0, float(np.abs(d).max(initial=0.0)))
    return LpOutcome(None, values, seconds, x=x, free=np.abs(d) <= 1e-9 * scale, bounds=bounds)
