"""The CP-SAT decision variables: one Boolean per eligible client–unit pair, in one container."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model


def groups_of(keys: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (key, positions) for each distinct key, in key order; keys < 0 are skipped."""
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    for s, e in zip(starts, ends, strict=True):
        key = int(sorted_keys[s])
        if key >= 0:
            yield key, order[s:e]


def count_distinct(values: np.ndarray) -> int:
    """How many distinct non-negative values (without building the compact index)."""
    if len(values) == 0:
        return 0
    if np.all(values[1:] >= values[:-1]):
        return 1 + int(np.count_nonzero(values[1:] != values[:-1]))
    return int(np.count_nonzero(np.bincount(values)))


def compact(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for non-negative indices, without sorting."""
    if len(values) == 0:
        return values[:0], values[:0]
    if np.all(values[1:] >= values[:-1]):  # sorted (pairs come sorted by client): one pass
        new = np.r_[True, values[1:] != values[:-1]]
        return values[new], np.cumsum(new) - 1
    present = np.zeros(int(values.max()) + 1, dtype=bool)
    present[values] = True
    local = np.cumsum(present) - 1
    return np.flatnonzero(present), local[values]


@dataclass
class AllocationVars:
    """``x[p]`` is 1 when client ``client[p]`` gets unit ``unit[p]`` (indices into Columns)."""

    model: cp_model.CpModel
    client: np.ndarray
    unit: np.ndarray
    x: list[cp_model.IntVar]
    _pair_index: dict[tuple[int, int], int] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls, model: cp_model.CpModel, client: np.ndarray, unit: np.ndarray
    ) -> AllocationVars:
        x = [
            model.new_bool_var(f"x_{c}_{u}")
            for c, u in zip(client.tolist(), unit.tolist(), strict=True)
        ]
        return cls(model=model, client=client, unit=unit, x=x)

    def __len__(self) -> int:
        return len(self.x)

    def pair(self, client: int, unit: int) -> int | None:
        """Position of the (client, unit) pair, or None when the pair is not eligible."""
        if self._pair_index is None:
            self._pair_index = {
                (c, u): p
                for p, (c, u) in enumerate(
                    zip(self.client.tolist(), self.unit.tolist(), strict=False)
                )
            }
        return self._pair_index.get((client, unit))

    def by(self, key_per_pair: np.ndarray) -> Iterator[tuple[int, list[cp_model.IntVar]]]:
        """The variables grouped by a key of each pair (its client, unit, municipality, ...)."""
        for key, positions in groups_of(key_per_pair):
            yield key, [self.x[p] for p in positions.tolist()]

    def total(self, coefficients: np.ndarray | None = None) -> cp_model.LinearExprT:
        if coefficients is None:
            return cp_model.LinearExpr.sum(self.x)
        return cp_model.LinearExpr.weighted_sum(self.x, [int(c) for c in coefficients])

    def add_limits(self, group_per_pair: np.ndarray, limits: np.ndarray) -> None:
        """sum of x over the pairs in each group <= its limit (a negative limit: unlimited).

        A group with no more pairs than its limit needs no constraint.
        """
        for group, xs in self.by(group_per_pair):
            limit = int(limits[group])
            if 0 <= limit < len(xs):
                self.model.add(cp_model.LinearExpr.sum(xs) <= limit)
