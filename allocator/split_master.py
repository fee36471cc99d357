"""The integer split of several linking limits over the regions: a bound no whole split can
pass, and the split that could reach it (``allocator.linked``, several linking limits).

Each region r is worth ``v_r(b)`` under a budget vector b (its allocation's combined weight,
linking group k at most ``b_k``). What is known of ``v_r`` is exact:

- every cut ``(D, mu)``: ``v_r(b) <= D + mu·b`` for every b, from a dual of the region's LP
  under some budget, or from its best at prices mu on the linking rows (the price rounds);
- every point ``(p, v)`` where the region was solved to proven optimality: ``v_r(p) = v``, and
  since a smaller budget only takes allocations away, ``v_r(b) <= v`` for every ``b <= p``.

The master chooses a whole budget vector per region within the limits and, per region, the
largest value all of that allows: ``max sum_r t_r`` with ``t_r`` under every cut and every
point that covers ``b_r``. Every whole split's true value is at most the master's optimum, so
CP-SAT's proven bound on it is a bound on the part (exact: every number is a whole number, cuts
rounded up). Unlike the LP over the same cuts (the price rounds' bound), it cannot share a
placement between two regions' budgets, which is where the LP's last few units come from.

When the split the master picks has only proven points, its value is the master's optimum:
then that split is the optimum. Otherwise regions are solved under a split it suggests and the
master is asked again (generalised Benders with an integer master); each round adds points.
The caller asks for the split near its best one (``radius``): far from the known points the
cuts promise more than the regions give.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

#: At most this share of the time left goes to one master solve (it is small: a few integer
#: variables per region and linking limit).
MASTER_SHARE = 0.25


@dataclass
class RegionKnowledge:
    """What is known of one region's value as a function of its budget vector."""

    #: (D, mu): v(b) <= D + mu·b for every budget vector b
    cuts: list[tuple[float, np.ndarray]]
    #: budget vector (as a tuple) -> the region's proven optimum under it
    points: dict[tuple[int, ...], int]
    #: per linking limit, the most the region could ever use of it (its distinct clients or
    #: units in the group): a larger budget is worth no more, so the master gives none
    most: np.ndarray | None = None


@dataclass
class MasterAnswer:
    bound: int  # no whole split of the limits gives the part more
    split: np.ndarray | None  # regions × limits: the split that reaches ``bound``, if found
    proven: bool  # ``bound`` is the master's optimum (else only CP-SAT's bound at the limit)


class SplitMaster:
    """The master's CP-SAT model, built once from what is known and asked as often as needed:
    over every whole split (``solve()``), or near one split only (``solve(radius=...)``, on a
    copy of the model with the radius added)."""

    def __init__(self, regions: list[RegionKnowledge], quota: np.ndarray, workers: int = 1) -> None:
        self.regions, self.quota, self.workers = regions, quota, workers
        n_links = len(quota)
        model = cp_model.CpModel()
        top_budget = [
            np.minimum(quota, quota if region.most is None else region.most).astype(np.int64)
            for region in regions
        ]
        tops = [_top(region, top_budget[r]) for r, region in enumerate(regions)]
        for r, region in enumerate(regions):
            if region.points.get((0,) * n_links, -1) >= tops[r]:
                # worth all it can be worth without any budget: a budget there only takes from
                # the others (one CP-SAT model of owned-national seed 2: 10 of 44 regions)
                top_budget[r] = np.zeros(n_links, dtype=np.int64)
        # each region's value counted from its best known one: the numbers CP-SAT works with
        # stay near the differences that matter rather than at 10^13 (3x faster there)
        self.bases = [max(region.points.values(), default=0) for region in regions]
        self.top_budget, self.tops = top_budget, tops
        self.budget = [
            [
                model.new_int_var(0, max(0, int(top_budget[r][k])), f"b{r}_{k}")
                for k in range(n_links)
            ]
            for r in range(len(regions))
        ]
        for k in range(n_links):
            model.add(sum(self.budget[r][k] for r in range(len(regions))) <= int(quota[k]))
        self.values = []
        # per region, its cuts in whole numbers (price per budget unit, right-hand side) and
        # its points' indicators (limit k, point's budget, variable): what a hint must satisfy
        self.cuts: list[list[tuple[list[int], int]]] = []
        self.belows: list[list[tuple[int, int, cp_model.IntVar]]] = []
        for r, region in enumerate(regions):
            base = self.bases[r]
            # the region's value less its base: at least -base (no allocation), at most the top
            value = model.new_int_var(-base, max(-base, tops[r] - base), f"t{r}")
            cuts, belows = [], []
            for d, mu in region.cuts:
                if not np.any(mu > 0):
                    continue
                # rounded up: still a bound for every budget vector, and whole
                price = np.ceil(np.maximum(mu, 0.0)).astype(np.int64).tolist()
                model.add(
                    value - sum(p * b for p, b in zip(price, self.budget[r], strict=True) if p)
                    <= math.ceil(d) - base
                )
                cuts.append((price, math.ceil(d) - base))
            for point, v in region.points.items():
                # v covers every budget vector at or below the point, and nothing above it
                within = []
                for k, p_k in enumerate(point):
                    if p_k >= int(top_budget[r][k]):
                        continue  # every budget of this limit lies at or below it
                    below = model.new_bool_var(f"r{r}_p{k}_{p_k}")
                    model.add(self.budget[r][k] <= p_k).only_enforce_if(below)
                    model.add(self.budget[r][k] >= p_k + 1).only_enforce_if(~below)
                    within.append(below)
                    belows.append((k, p_k, below))
                model.add(value <= v - base).only_enforce_if(within)
            self.values.append(value)
            self.cuts.append(cuts)
            self.belows.append(belows)
        model.maximize(sum(self.values))
        self.model = model

    def solve(
        self, deadline: float, hint: np.ndarray | None = None, radius: int | None = None
    ) -> MasterAnswer | None:
        """The best whole split that the knowledge allows; None when no time was left.

        With ``radius``, only splits within that many budget units of ``hint`` (summed over
        every region and limit): the best split near the best one known, where the regions'
        values are known best. Its ``bound`` then holds for those splits only."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return None
        model = self.model
        model.clear_hints()  # an earlier ask's
        if radius is not None and hint is not None:
            model = self.model.clone()
            moves = []
            for r, row in enumerate(self.budget):
                for k, var in enumerate(row):
                    top = int(self.top_budget[r][k])
                    start = min(int(hint[r, k]), top)
                    move = model.new_int_var(0, max(start, top - start), "")
                    budget = model.get_int_var_from_proto_index(var.index)
                    model.add_abs_equality(move, budget - start)
                    model.add_hint(move, 0)  # the hint is the split itself
                    moves.append(move)
            model.add(sum(moves) <= radius)
        if hint is not None:
            self._hint(model, hint)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = self.workers
        # CP-SAT's presolve turns these rows (coefficients near 10^10, a placement's weight)
        # into a model whose LP bound is far weaker: on an owned-national master
        # 231,536,3xx,xxx,xxx after 30 s against 231,433,79x,xxx,xxx in 5 s without it (the LP
        # over the cuts: 231,433,748,1xx,xxx)
        solver.parameters.cp_model_presolve = False
        solver.parameters.max_time_in_seconds = max(0.01, MASTER_SHARE * remaining)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if status == cp_model.UNKNOWN:
                return None
            # every split is feasible for the master (the empty one at least): not reached
            raise RuntimeError(f"the split master ended {solver.status_name(status)}")
        split = np.array(
            [[solver.value(var) for var in row] for row in self.budget], dtype=np.int64
        ).reshape(len(self.regions), len(self.quota))
        if status == cp_model.OPTIMAL:
            bound = sum(int(solver.value(v)) for v in self.values)  # exact, in whole numbers
        else:
            # CP-SAT's bound on a whole objective, read as a float: rounded up, never below it
            bound = math.ceil(solver.best_objective_bound)
        bound += sum(self.bases)
        return MasterAnswer(bound, split, status == cp_model.OPTIMAL)

    def _hint(self, model: cp_model.CpModel, hint: np.ndarray) -> None:
        """``hint`` as a whole solution (every variable, the values at the most the cuts and
        points allow there): with only the budgets hinted, CP-SAT without presolve found no
        split at all in 4 s on owned-stress's master (nine limits), and the rounds stopped."""
        for r, row in enumerate(self.budget):
            at = [min(int(hint[r, k]), int(self.top_budget[r][k])) for k in range(len(row))]
            for var, b in zip(row, at, strict=True):
                model.add_hint(var, b)
            value = self.tops[r] - self.bases[r]
            for price, rhs in self.cuts[r]:
                value = min(value, rhs + sum(p * b for p, b in zip(price, at, strict=True)))
            for k, p_k, below in self.belows[r]:
                model.add_hint(below, at[k] <= p_k)
            for point, v in self.regions[r].points.items():
                if all(
                    b <= p_k or p_k >= int(self.top_budget[r][k])
                    for k, (b, p_k) in enumerate(zip(at, point, strict=True))
                ):
                    value = min(value, v - self.bases[r])
            model.add_hint(self.values[r], max(value, -self.bases[r]))


def solve_master(
    regions: list[RegionKnowledge],
    quota: np.ndarray,
    deadline: float,
    hint: np.ndarray | None = None,
    radius: int | None = None,
) -> MasterAnswer | None:
    """The integer master over the regions' cuts and points, asked once (``SplitMaster``)."""
    if deadline - time.perf_counter() <= 0:
        return None
    return SplitMaster(regions, quota).solve(deadline, hint, radius)


def _top(region: RegionKnowledge, top_budget: np.ndarray) -> int:
    """What the region can be worth under any budget: every cut at the largest budgets."""
    if not region.cuts:
        raise ValueError("a region without a cut: nothing bounds its value")
    return min(
        math.ceil(d + float(np.maximum(mu, 0.0) @ top_budget.astype(float)))
        for d, mu in region.cuts
    )
