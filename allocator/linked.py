"""A part held together by a few cap rows (a corporation owning buildings in many regions):
solved region by region, the joining caps split into budgets, proven by a Lagrangian bound.

Without its *linking* rows (limited groups whose pairs lie in more than one region) the part
falls apart into regions that the ordinary paths solve fast and exactly. Each linking group's
limit is split into a budget per region; with the budgets as ordinary caps the regions are
independent again, and the union of their optima is a feasible allocation.

The bound is weak duality, whatever the split: for region r, any dual solution of its LP
(with prices mu_r >= 0 on its budget rows) gives ``v_r(b) <= D_r + mu_r·b`` for *every* budget
b, with ``D_r`` the rest of its dual objective. So no split of the linking limits q can beat
``sum_r D_r + sum_g q_g · max_r mu_gr``. When the prices of a group agree across the regions
that use it, this equals the LP optimum of the whole part; budgets move from the regions that
value them least to those that value them most until the allocation's (integer, exact) combined
weight reaches the bound, which proves it optimal, or the time is up, when the bound and the
gap are reported.

Everything here is over generic cap rows (``GroupCaps``): which rule a row comes from does not
matter, only which pairs it covers and its limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from allocator.decompose import GroupCaps
from allocator.lp import SAFE_TOTAL, ColumnLp, best_total

Key = tuple[int, int]  # (index into caps, group)
log = logging.getLogger("allocator.linked")
#: Rounds without a better allocation before the budgets stop moving.
STALL_ROUNDS = 4


@dataclass
class RegionAnswer:
    """One region under its budgets: ``chosen`` local to the region; ``bound`` a proven upper
    bound on its combined weight and ``prices`` the budget rows' duals behind it (None: no LP
    answer in time, then the trivial bound stands in)."""

    chosen: np.ndarray
    proven: bool
    bound: float | None = None
    prices: dict[Key, float] = field(default_factory=dict)
    #: per linking key, how far its budget may move down and up with the price unchanged
    ranges: dict[Key, tuple[float, float]] = field(default_factory=dict)
    x: np.ndarray | None = None  # the LP's vertex, when it was not integral and proven


@dataclass
class LinkedOutcome:
    chosen: np.ndarray  # positions local to the part
    value: int  # combined weight of ``chosen``
    bound: float  # proven upper bound on the combined weight of any allocation of the part
    proven: bool
    regions: int
    linking: int
    rounds: int


def regions_and_links(
    client: np.ndarray, unit: np.ndarray, region_of_pair: np.ndarray, caps: list[GroupCaps]
) -> list[Key]:
    """The limited groups whose pairs lie in more than one region."""
    links = []
    n_regions = int(region_of_pair.max()) + 1 if len(region_of_pair) else 0
    for i, cap in enumerate(caps):
        group = cap.of_pairs(client, unit)
        limited = cap.left[group] >= 0
        codes = np.unique(group[limited] * n_regions + region_of_pair[limited])
        groups, counts = np.unique(codes // max(1, n_regions), return_counts=True)
        links.extend((i, int(g)) for g in groups[counts > 1])
    return links


def trivial_bound(client: np.ndarray, weight: np.ndarray) -> float:
    """Each client takes at most one unit: the sum of every client's best positive weight."""
    return best_total(client, weight)


class Region:
    """One region of a linked part, its LP kept between budget changes (warm re-solves)."""

    def __init__(self, client, unit, caps, weight, links, members, flow, exact):
        self.client, self.unit, self.weight = client[members], unit[members], weight[members]
        self.caps, self.links, self.members = caps, links, members
        self.flow, self.exact = flow, exact
        self.lp: ColumnLp | None = None
        self.relaxed: np.ndarray | None = None  # the flow's answer without any cap but 8 and 10
        self.trivial = trivial_bound(self.client, self.weight)

    def caps_with(self, budget: np.ndarray) -> list[GroupCaps]:
        lefts = [cap.left.copy() for cap in self.caps]
        for (i, g), b in zip(self.links, budget.tolist(), strict=True):
            lefts[i][g] = b
        return [cap.with_left(left) for cap, left in zip(self.caps, lefts, strict=True)]

    def solve(self, budget: np.ndarray, deadline: float, quick: bool = False) -> RegionAnswer:
        """The region under ``budget``. ``quick``: while budgets still move, a fractional LP
        vertex gets only a short repair, else its rounding cut to the caps (unproven)."""
        caps = self.caps_with(budget)
        # the nested flow drops every other cap: when its answer meets them all it is optimal,
        # and its value bounds the region under any budget (prices 0)
        if self.relaxed is None and self.flow is not None:
            self.relaxed = self.flow(self.client, self.unit, self.weight, caps)
        if self.relaxed is not None and _meets(caps, self.client, self.unit, self.relaxed):
            # price 0 while the budget is not all used: the rest can go
            ranges = {}
            for (i, g), b in zip(self.links, budget.tolist(), strict=True):
                group = self.caps[i].of_pairs(self.client[self.relaxed], self.unit[self.relaxed])
                ranges[(i, g)] = (float(b - np.count_nonzero(group == g)), math.inf)
            value = float(self.weight[self.relaxed].sum())
            return RegionAnswer(self.relaxed, True, value, {}, ranges)
        if self.trivial < SAFE_TOTAL:
            answer = self._lp(budget, deadline)
            if answer is not None and answer.proven:
                return answer
        else:
            answer = None
        x = None if answer is None else answer.x
        bound = None if answer is None else answer.bound
        if quick and x is not None and bound is not None:
            picked, proven = self.exact(self.members, caps, deadline, x, bound, self.weight, True)
            if not proven:
                rounded = within(caps, self.client, self.unit, np.flatnonzero(x > 0.5), self.weight)
                picked = max(
                    (picked, rounded), key=lambda c: int(self.weight[c].sum()) if len(c) else 0
                )
            return RegionAnswer(picked, proven, answer.bound, answer.prices, answer.ranges, x)
        picked, proven = self.exact(self.members, caps, deadline, x, bound, self.weight)
        if answer is None:
            return RegionAnswer(picked, proven)
        return RegionAnswer(picked, proven, answer.bound, answer.prices, answer.ranges)

    def _lp(self, budget: np.ndarray, deadline: float) -> RegionAnswer | None:
        if self.lp is None:
            self.lp = ColumnLp(
                self.client, self.unit, self.caps_with(budget), keep=frozenset(self.links)
            )
            self.lp.seed(self.weight.astype(float), self.relaxed, 6)
        else:
            for key, b in zip(self.links, budget.tolist(), strict=True):
                self.lp.set_limit(key, b)
        x = self.lp.solve(-self.weight.astype(float), deadline)
        if x is None:
            self.lp = None  # a half-finished solve is no warm start
            return None
        bound = self.lp.upper_bound(self.weight.astype(float))
        duals = self.lp.cap_duals()
        prices = {key: duals.get(key, 0.0) for key in self.links}
        picked = np.flatnonzero(x > 0.5)
        integral = np.abs(x - np.round(x)).max(initial=0.0) <= 1e-6
        proven = integral and bound < int(self.weight[picked].sum()) + 1
        ranges = self.lp.limit_ranges(self.links)
        return RegionAnswer(picked, proven, bound, prices, ranges, None if proven else x)


def _meets(caps: list[GroupCaps], client, unit, picked: np.ndarray) -> bool:
    for cap in caps:
        used = np.bincount(cap.of_pairs(client[picked], unit[picked]), minlength=len(cap.left))
        if np.any((cap.left >= 0) & (used > cap.left)):
            return False
    return True


def solve_linked(
    client: np.ndarray,
    unit: np.ndarray,
    caps: list[GroupCaps],
    weight: np.ndarray,
    region_of_pair: np.ndarray,
    links: list[Key],
    exact_region: Callable[..., tuple[np.ndarray, bool]],
    deadline: float,
    say: Callable[..., None] = lambda *a, **k: None,
    flow: Callable | None = None,
) -> LinkedOutcome:
    """Split the linking limits into budgets per region until the allocation meets the bound.

    ``exact_region(positions, caps, deadline, x, bound, weight)`` returns an optimal (or, after a
    time-out, the best found) allocation of the region's pairs under ``caps`` and whether it is
    proven, starting from the region LP's fractional vertex ``x`` and its ``bound`` when given;
    ``flow(client, unit, weight, caps)`` the nested relaxation's optimum (or None).
    """
    n_regions = int(region_of_pair.max()) + 1
    order = np.argsort(region_of_pair, kind="stable")
    starts = np.searchsorted(region_of_pair[order], np.arange(n_regions + 1))
    members = [order[starts[r] : starts[r + 1]] for r in range(n_regions)]
    quota = np.array([caps[i].left[g] for i, g in links], dtype=np.int64)
    link_of = [cap.of_pairs(client, unit) for cap in caps]

    regions = [Region(client, unit, caps, weight, links, m, flow, exact_region) for m in members]

    def used(r: int, chosen: np.ndarray) -> np.ndarray:
        pos = members[r][chosen]
        return np.array(
            [int(np.count_nonzero(link_of[i][pos] == g)) for i, g in links], dtype=np.int64
        )

    slowest = [0.0]  # the longest region solve so far: a new one starts only if it fits

    def fits() -> bool:
        return time.perf_counter() + slowest[0] < deadline

    def solve_region(r: int, budget: np.ndarray, quick: bool = True) -> RegionAnswer:
        started = time.perf_counter()
        answer = regions[r].solve(budget, deadline, quick)
        slowest[0] = max(slowest[0], time.perf_counter() - started)
        return answer

    # 1. the nested flow of every region (no cap but the municipal and Magic Mix ones): what
    #    each region would take of every linking limit; when those answers meet every cap they
    #    are the optimum, proven by the flow
    budgets = np.tile(quota, (n_regions, 1))
    relaxed = []
    for r, region in enumerate(regions):
        say(f"region {r + 1}/{n_regions}: nested flow", r, n_regions)
        region.relaxed = None
        if flow is not None and fits():
            started = time.perf_counter()
            caps_r = region.caps_with(budgets[r])
            region.relaxed = flow(region.client, region.unit, region.weight, caps_r)
            slowest[0] = max(slowest[0], time.perf_counter() - started)
        relaxed.append(region.relaxed)
    rounds = 0
    best = None
    if all(x is not None for x in relaxed):
        usage = np.array([used(r, x) for r, x in enumerate(relaxed)]).reshape(n_regions, len(links))
        meets_all = all(
            _meets(region.caps_with(budgets[r]), region.client, region.unit, relaxed[r])
            for r, region in enumerate(regions)
        )
        if meets_all and np.all(usage.sum(axis=0) <= quota):
            chosen = np.sort(np.concatenate([members[r][x] for r, x in enumerate(relaxed)]))
            value = int(weight[chosen].sum())
            return LinkedOutcome(chosen, value, float(value), True, n_regions, len(links), 0)
    else:
        # no flow: each region's share of the linking groups' pairs stands in for its use
        usage = np.array(
            [[np.count_nonzero(link_of[i][m] == g) for i, g in links] for m in members]
        ).reshape(n_regions, len(links))
    log.info("nested flows done")
    relaxed_bound = float("inf")
    answers = [None] * n_regions

    # 2. split each limit in proportion to what the regions took without it
    budgets = _proportional(usage, quota)
    for r in range(n_regions):
        say(f"region {r + 1}/{n_regions}", r, n_regions)
        if fits():
            answers[r] = solve_region(r, budgets[r])
        else:  # out of time: the flow's answer cut to the budgets (or nothing), no price
            start = relaxed[r] if relaxed[r] is not None else np.zeros(0, dtype=np.int64)
            region = regions[r]
            kept = within(
                region.caps_with(budgets[r]), region.client, region.unit, start, region.weight
            )
            answers[r] = RegionAnswer(kept, False)
    bound = relaxed_bound
    seen = {budgets.tobytes()}
    stalled = 0
    while True:
        rounds += 1
        value = sum(int(weight[members[r][a.chosen]].sum()) for r, a in enumerate(answers))
        if best is None or value > best[0]:
            best = (value, [a.chosen for a in answers], budgets.copy())
            best_proven = [a.proven for a in answers]
            stalled = 0
        else:
            stalled += 1
        bound = min(bound, _bound(answers, budgets, quota, links, client, weight, members))
        log.info(
            "round %d: value %d, bound %.1f, gap %.1f, %s",
            rounds,
            value,
            bound,
            bound - best[0],
            [(a.proven, a.bound is not None) for a in answers].count((True, True)),
        )
        if bound < best[0] + 1 or not fits():
            break
        # 3. move budget from the regions that price a group lowest to those pricing it
        #    highest, as far as their prices hold (LP ranging), pairing them off in order
        changed = _rebalance(answers, budgets, links)
        key = budgets.tobytes()
        if not changed or key in seen or stalled >= STALL_ROUNDS:
            break  # no move left, a split seen before, or no progress: the bound stands
        seen.add(key)
        for r in sorted(changed):
            if not fits():
                break  # half a round mixes budgets: the best whole round stands
            answers[r] = solve_region(r, budgets[r])
        else:
            continue
        break
    # 4. the best split's regions that only got a quick repair: solved exactly while time lasts
    value, chosen_per_region, split_ = best
    if bound >= value + 1:
        improved = False
        for r in range(n_regions):
            if best_proven[r] or not fits():
                continue
            answer = solve_region(r, split_[r], quick=False)
            if int(weight[members[r][answer.chosen]].sum()) > int(
                weight[members[r][chosen_per_region[r]]].sum()
            ):
                chosen_per_region[r] = answer.chosen
                improved = True
        if improved:
            value = sum(int(weight[members[r][c]].sum()) for r, c in enumerate(chosen_per_region))
    chosen = np.sort(
        np.concatenate([members[r][c] for r, c in enumerate(chosen_per_region)])
    ).astype(np.int64)
    proven = bound < value + 1
    return LinkedOutcome(chosen, value, bound, proven, n_regions, len(links), rounds)


def _rebalance(answers: list[RegionAnswer], budgets: np.ndarray, links: list[Key]) -> set[int]:
    """Move budget between regions in place; the regions whose budget changed."""
    changed: set[int] = set()
    for j, key in enumerate(links):
        prices = np.array([a.prices.get(key, 0.0) for a in answers])
        order = np.argsort(prices, kind="stable")
        donors = [int(r) for r in order if budgets[r, j] > 0 and r not in changed]
        takers = [int(r) for r in order[::-1] if r not in changed]
        for donor, taker in zip(donors, takers, strict=False):
            if donor == taker or prices[taker] - prices[donor] <= 1e-9 * max(1.0, prices[taker]):
                break
            give = answers[donor].ranges.get(key, (0.0, 0.0))[0]
            take = answers[taker].ranges.get(key, (0.0, 0.0))[1]
            delta = int(min(budgets[donor, j], max(1.0, math.floor(min(give, take)))))
            if delta <= 0:
                continue
            budgets[donor, j] -= delta
            budgets[taker, j] += delta
            changed |= {donor, taker}
    return changed


def within(
    caps: list[GroupCaps],
    client: np.ndarray,
    unit: np.ndarray,
    chosen: np.ndarray,
    value: np.ndarray,
) -> np.ndarray:
    """``chosen`` with the least valuable pairs of every over-full group dropped: an allocation
    that meets every cap (dropping a placement never breaks a cap)."""
    keep = np.ones(len(chosen), dtype=bool)
    for cap in caps:
        group = cap.of_pairs(client[chosen], unit[chosen])
        for g in np.unique(group[keep]).tolist():
            limit = int(cap.left[g])
            members = np.flatnonzero(keep & (group == g))
            if 0 <= limit < len(members):
                order = members[np.argsort(value[chosen[members]], kind="stable")]
                keep[order[: len(members) - limit]] = False
    return chosen[keep]


def _proportional(usage: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """Each limit split over the regions in proportion to their use (largest remainders)."""
    budgets = np.zeros_like(usage)
    for j, q in enumerate(quota.tolist()):
        want = usage[:, j].astype(float)
        if want.sum() <= q:
            budgets[:, j] = usage[:, j]
            budgets[np.argmax(want), j] += q - int(want.sum())
            continue
        share = want * q / want.sum()
        base = np.floor(share).astype(np.int64)
        rest = q - int(base.sum())
        base[np.argsort(-(share - base), kind="stable")[:rest]] += 1
        budgets[:, j] = base
    return budgets


def _bound(answers, budgets, quota, links, client, weight, members) -> float:
    """``sum_r (bound_r - mu_r·b_r) + sum_g q_g max_r mu_gr``: valid for any split."""
    total = 0.0
    top = np.zeros(len(links))
    for r, a in enumerate(answers):
        if a.bound is None:
            # no dual in time: each client at its best, and no price on the budget rows
            total += trivial_bound(client[members[r]], weight[members[r]])
            continue
        mu = np.array([a.prices.get(key, 0.0) for key in links])
        total += a.bound - float(mu @ budgets[r])
        top = np.maximum(top, mu)
    extra = float(top @ quota)
    # the subtraction above is exact to well under a unit at these magnitudes; keep a margin
    margin = 2.0**-50 * (abs(total) + extra) * (len(answers) + 1)
    return math.fsum([total, extra, margin])
