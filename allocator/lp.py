"""The LP relaxation of a part with every rule, solved level by level with HiGHS.

An LP optimum that is integral is an integer optimum, with its own proof: the LP bound equals the
value. For this assignment structure the relaxation is integral in most parts; where a level comes
out fractional, the caller hands that part to CP-SAT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix

from allocator.decompose import GroupCaps
from allocator.variables import groups_of

_INTEGRAL = 1e-6


@dataclass
class LpOutcome:
    """``chosen`` is set when the LP optimum was integral at every level: then ``values`` are
    proven optima. Otherwise ``values`` holds the LP bounds of the levels whose bound was a whole
    number (each computed with the earlier levels held at their bounds), and ``free`` marks the
    pairs with zero reduced cost in the last LP: a solution reaching every bound must leave the
    others where the LP has them (complementary slackness), at ``x`` rounded."""

    chosen: np.ndarray | None
    values: list[int]
    seconds: list[float]
    x: np.ndarray | None = None
    free: np.ndarray | None = None


def capacity_rows(client: np.ndarray, unit: np.ndarray, caps: list[GroupCaps]):
    """A x <= b for rule 1 and every limited group of the group limits, over the given pairs."""
    row_ix, col_ix, rhs = [], [], []
    row = 0
    keys = [(client, None), (unit, None)] + [(cap.of(client, unit), cap.left) for cap in caps]
    for key, left in keys:
        for group, positions in groups_of(key):
            limit = 1 if left is None else int(left[group])
            if limit < 0 or limit >= len(positions):
                continue  # this row could never bind
            row_ix.append(np.full(len(positions), row))
            col_ix.append(positions)
            rhs.append(limit)
            row += 1
    if row == 0:
        return coo_matrix((0, len(client))).tocsr(), np.zeros(0)
    data = np.ones(sum(len(c) for c in col_ix))
    a = coo_matrix(
        (data, (np.concatenate(row_ix), np.concatenate(col_ix))), shape=(row, len(client))
    )
    return a.tocsr(), np.array(rhs, dtype=float)


class ColumnLp:
    """The LP relaxation of one part by column generation.

    It starts with a few promising pairs and, at each solve, takes in every pair the duals price
    as improving, until none is left: the restricted optimum is then optimal over all pairs.
    Primal simplex throughout: measured 10x faster than dual on these highly degenerate
    assignment LPs (0.46 s against 5.1 s for an 85,000-pair part), and both added columns and a
    level row added at the current value keep the basis primal feasible, so every re-solve is warm.
    """

    def __init__(self, client: np.ndarray, unit: np.ndarray, caps: list[GroupCaps]):
        a, b = capacity_rows(client, unit, caps)
        self.a = a.tocsc()
        self.b = b
        self.n, self.n_rows = len(client), a.shape[0]
        self.client = client
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("simplex_strategy", 4)
        highs.setOptionValue("threads", 1)
        highs.setOptionValue("random_seed", 0)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 0, self.n_rows
        lp.row_lower_ = np.full(self.n_rows, -highspy.kHighsInf)
        lp.row_upper_ = b
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.zeros(1, dtype=np.int32)
        highs.passModel(lp)
        self.highs = highs
        self.in_model = np.full(self.n, -1, dtype=np.int64)  # HiGHS column of each pair
        self.columns: list[int] = []
        self.level_rows: list[np.ndarray] = []  # coefficients over all pairs of each level row
        self.reduced = np.zeros(self.n)

    def seed(self, value: np.ndarray, start: np.ndarray | None, per_client: int) -> None:
        """First columns: ``start`` and each client's ``per_client`` most valuable pairs."""
        order = np.lexsort((-value, self.client))
        c = self.client[order]
        run_start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if self.n else np.zeros(0, int)
        rank = np.arange(self.n) - np.repeat(run_start, np.diff(np.r_[run_start, self.n]))
        initial = np.zeros(self.n, dtype=bool)
        initial[order[rank < per_client]] = True
        if start is not None:
            initial[start] = True
        self._add(np.flatnonzero(initial), np.zeros(self.n))

    def _add(self, new: np.ndarray, cost: np.ndarray) -> None:
        new = new[self.in_model[new] < 0]
        if len(new) == 0:
            return
        sub = self.a[:, new]
        starts, index, value = sub.indptr, sub.indices, sub.data.astype(float)
        if self.level_rows:
            # each new column also enters every level row added so far
            k = len(self.level_rows)
            per_col = np.diff(starts)
            index = np.insert(
                index,
                np.repeat(starts[1:], k),
                np.tile(np.arange(self.n_rows, self.n_rows + k), len(new)),
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
        self.in_model[new] = np.arange(len(self.columns), len(self.columns) + len(new))
        self.columns.extend(new.tolist())

    def solve(self, cost: np.ndarray, deadline: float) -> np.ndarray | None:
        """Minimise ``cost`` over all pairs; x over all pairs, or None (time-out, failure)."""
        ids = np.array(self.columns, dtype=np.int64)
        self.highs.changeColsCost(len(ids), np.arange(len(ids), dtype=np.int32), cost[ids])
        tolerance = 1e-9 * max(1.0, float(np.abs(cost).max(initial=0.0)))
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self.highs.setOptionValue("time_limit", float(remaining))
            self.highs.run()
            if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
            duals = np.asarray(self.highs.getSolution().row_dual)
            d = cost - self.a.T @ duals[: self.n_rows]
            for row, y in zip(self.level_rows, duals[self.n_rows :], strict=True):
                d -= row * y
            self.reduced = d
            improving = np.flatnonzero((d < -tolerance) & (self.in_model < 0))
            if len(improving) == 0:
                break
            # the most improving first, in batches, so that the LP stays small
            size = max(2000, len(self.columns) // 4)
            self._add(improving[np.argsort(d[improving], kind="stable")[:size]], cost)
        x = np.zeros(self.n)
        x[np.array(self.columns, dtype=np.int64)] = np.asarray(self.highs.getSolution().col_value)
        return x

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

    def upper_bound(self, weight: np.ndarray) -> float:
        """A proven upper bound on max weight·x over the integer (and LP) allocations.

        Any duals y >= 0 of the capacity rows give one by weak duality: b·y plus, per pair, what
        its weight exceeds the duals it uses (the bound x <= 1 pays for that). Valid for whatever
        y HiGHS returns, so floating-point error in y can only loosen it, never make it false.
        """
        duals = np.maximum(0.0, -np.asarray(self.highs.getSolution().row_dual)[: self.n_rows])
        excess = np.maximum(0.0, weight - self.a.T @ duals)
        return float(self.b @ duals + excess.sum())


def solve_lp_combined(
    client: np.ndarray,
    unit: np.ndarray,
    caps: list[GroupCaps],
    weight: np.ndarray,
    deadline: float,
    start: np.ndarray | None = None,
    per_client: int = 6,
) -> np.ndarray | None:
    """One LP for all levels at once, with the flow's lexicographic integer weights. Returns the
    chosen pairs when the LP vertex is integral and its dual bound proves it: then no allocation
    has a larger weight, so it is the lexicographic optimum. None otherwise."""
    if len(client) == 0:
        return np.zeros(0, dtype=np.int64)
    lp = ColumnLp(client, unit, caps)
    lp.seed(weight.astype(float), start, per_client)
    x = lp.solve(-weight.astype(float), deadline)
    if x is None or np.abs(x - np.round(x)).max(initial=0.0) > _INTEGRAL:
        return None
    chosen = np.flatnonzero(x > 0.5)
    value = int(weight[chosen].sum())
    # integer allocations have integer weight: a bound below value + 1 leaves no better one
    if lp.upper_bound(weight.astype(float)) < value + 0.5:
        return chosen
    return None


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
    """Level by level: each level optimised with the earlier ones held at their bounds."""
    lp = ColumnLp(client, unit, caps)
    # seed by the levels in order (a float tie-break is fine: this only picks first columns)
    value = np.zeros(len(client))
    for coef, up in zip(coefficients[::-1], maximise[::-1], strict=True):
        value = (coef if up else -coef) + 1e-6 * value
    lp.seed(value, start, per_client)
    values: list[int] = []
    seconds: list[float] = []
    x = np.zeros(len(client))
    for coef, up in zip(coefficients, maximise, strict=True):
        started = time.perf_counter()
        x = lp.solve((-coef if up else coef).astype(float), deadline)  # HiGHS minimises
        seconds.append(time.perf_counter() - started)
        if x is None:
            return LpOutcome(None, values, seconds)
        value = float(coef @ x)
        if abs(value - round(value)) > _INTEGRAL * max(1.0, abs(value)):
            break  # a fractional bound: integer solutions fall short of it, the chain ends here
        values.append(int(round(value)))
        lp.hold(coef, up, values[-1])
    # An integral last vertex reaches every level's bound at once (the level rows hold it
    # there), which proves each bound optimal, whatever the vertices on the way looked like.
    integral = np.abs(x - np.round(x)).max(initial=0.0) <= _INTEGRAL
    if integral and len(values) == len(coefficients):
        return LpOutcome(np.flatnonzero(x > 0.5), values, seconds)
    d = lp.reduced
    scale = max(1.0, float(np.abs(d).max(initial=0.0)))
    return LpOutcome(None, values, seconds, x=x, free=np.abs(d) <= 1e-9 * scale)
