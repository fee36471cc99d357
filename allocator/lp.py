"""The LP relaxation of a part with every rule, solved level by level with HiGHS (scipy).

An LP optimum that is integral is an integer optimum, with its own proof: the LP bound equals the
value. For this assignment structure the relaxation is integral in most parts; where a level comes
out fractional, the caller hands that part to CP-SAT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack

from allocator.decompose import GroupCaps
from allocator.variables import groups_of

_INTEGRAL = 1e-6


@dataclass
class LpOutcome:
    chosen: np.ndarray | None  # indices into the part's pairs; None unless every level integral
    values: list[int]  # proven integer optimum of each level solved integrally
    fractional_bound: float | None  # LP bound of the first fractional level
    seconds: list[float]


def capacity_rows(client: np.ndarray, unit: np.ndarray, caps: list[GroupCaps]):
    """A x <= b for rule 1 and every limited group of rules 8-10, over the given pairs."""
    row_ix, col_ix, rhs = [], [], []
    row = 0
    keys = [(client, None), (unit, None)] + [(cap.unit_group[unit], cap.left) for cap in caps]
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


def solve_lp_levels(
    client: np.ndarray,
    unit: np.ndarray,
    caps: list[GroupCaps],
    coefficients: list[np.ndarray],
    maximise: list[bool],
    deadline: float,
) -> LpOutcome:
    a, b = capacity_rows(client, unit, caps)
    values: list[int] = []
    seconds: list[float] = []
    x = None
    for coef, up in zip(coefficients, maximise, strict=True):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return LpOutcome(None, values, None, seconds)
        started = time.perf_counter()
        c = -coef.astype(float) if up else coef.astype(float)
        result = linprog(
            c,
            A_ub=a,
            b_ub=b,
            bounds=(0, 1),
            method="highs",
            options={"time_limit": remaining, "presolve": True},
        )
        seconds.append(time.perf_counter() - started)
        if result.status != 0:
            return LpOutcome(None, values, None, seconds)
        x = result.x
        value = float(coef @ x)
        if np.abs(x - np.round(x)).max(initial=0.0) > _INTEGRAL:
            return LpOutcome(None, values, value, seconds)
        level_value = int(round(value))
        values.append(level_value)
        # later levels keep this level at its optimum
        row = coo_matrix(-coef[None, :] if up else coef[None, :]).tocsr()
        a = vstack([a, row]).tocsr()
        b = np.append(b, -level_value if up else level_value)
    chosen = np.flatnonzero(x > 0.5) if x is not None else np.zeros(0, dtype=np.int64)
    return LpOutcome(chosen, values, None, seconds)
