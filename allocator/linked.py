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
gap are reported. With several linking limits the prices come from Dantzig-Wolfe rounds over the
regions (``_price_rounds``), whose bound is the whole part's LP; what is left above a whole split
is closed by an integer master over the splits (``allocator.split_master``).

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
from allocator.split_master import RegionKnowledge, SplitMaster

Key = tuple[int, int]  # (index into caps, group)
log = logging.getLogger("allocator.linked")
#: With several linking limits, the share of the time left that may go to pricing them.
PRICE_SHARE = 0.6
#: How far the next prices go from the best ones so far towards the master's (Wentges
#: smoothing; the step doubles when it paid and halves when it did not).
STEP = 0.3
MIN_STEP = 0.05
#: The price rounds stop when the master is within a unit of the bound or this close to it
#: (relative: the master's own tolerances), or when it has not moved for STALL_ROUNDS rounds.
PRICE_TOLERANCE = 1e-9
#: With several linking limits, the next split solved lies within this many budget units
#: (summed over the regions and limits) of the best one (``split_master``): one placement's
#: budget moved from one region to another is 2.
LOCAL_RADIUS = 4
#: Rounds without a better allocation before the budgets stop moving.
STALL_ROUNDS = 4
#: A single linking limit is split exactly by a max-plus knapsack over its budgets per region,
#: (limit + 1)^2 cells per region and round: up to this many cells in all (about a second of
#: numpy per round); beyond, by moving budgets.
ONE_LINK_CELLS = 50_000_000
#: Reduced-cost fixing proves a region's optimum with CP-SAT when at most this many pairs stay
#: free; with more, CP-SAT only searches around the fractional pairs for REPAIR_SECONDS.
PROOF_FREE = 3000
REPAIR_SECONDS = 0.5
#: A repair that found a better allocation tries again from it (its gap to the bound is
#: smaller, so more pairs are fixed), or one cut short by its time again for longer, up to this
#: often, until it reaches the bound.
REPAIR_ATTEMPTS = 3


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

    def optimum(
        self, budget: np.ndarray, deadline: float, improve, repair: bool
    ) -> tuple[Point, tuple | None]:
        """The region under ``budget`` (one linking limit): an allocation, whether it is
        proven best, and the cut ``(D, mu)``: ``v(b) <= D + mu·b`` for every budget b (None: no
        LP answer). Without ``repair`` a fractional LP vertex is only rounded down to the caps.

        With ``repair``, reduced-cost fixing: with the LP bound B and an allocation of value V,
        an allocation better than V leaves every pair whose reduced gain costs more than B - V
        where the LP has it; when few pairs are left free, ``improve(caps, ones, free, at_least,
        deadline)`` (CP-SAT over them) finds the best allocation or shows there is none better,
        which proves it; else it only searches around the fractional pairs, briefly."""
        caps = self.caps_with(budget)
        if self.relaxed is not None and _meets(caps, self.client, self.unit, self.relaxed):
            value = int(self.weight[self.relaxed].sum())
            return Point(value, self.relaxed, True), (float(value), 0.0)
        if self.trivial >= SAFE_TOTAL:
            picked, proven = self.exact(self.members, caps, deadline)
            return Point(int(self.weight[picked].sum()), picked, proven), None
        answer = self._lp(budget, deadline, ranging=False)
        if answer is None:
            start = self.relaxed if self.relaxed is not None else np.zeros(0, dtype=np.int64)
            kept = within(caps, self.client, self.unit, start, self.weight)
            return Point(int(self.weight[kept].sum()), kept, False), None
        key = self.links[0]
        mu = answer.prices.get(key, 0.0)
        cut = (answer.bound - mu * float(budget[0]), mu)
        if answer.proven:
            return Point(int(self.weight[answer.chosen].sum()), answer.chosen, True), cut
        x = answer.x
        incumbent = within(caps, self.client, self.unit, np.flatnonzero(x > 0.5), self.weight)
        value = int(self.weight[incumbent].sum())
        if not repair or answer.bound < value + 1:
            # the LP's bound leaves no whole unit above the rounding: it is the optimum
            return Point(value, incumbent, answer.bound < value + 1), cut
        gains = reduced_gains(self.lp, self.weight)
        proven = False
        # no allocation of the region is worth more than the bound: CP-SAT stops on reaching it
        at_most = math.floor(answer.bound)
        for attempt in range(REPAIR_ATTEMPTS):
            # rounding in g is far below a unit; keep a margin so no better one is cut off
            slack = answer.bound - value + 1e-3 + 1e-12 * float(np.abs(gains).max(initial=0.0))
            free = np.abs(gains) <= slack
            started = time.perf_counter()
            if np.count_nonzero(free) <= PROOF_FREE:
                found, proven = improve(
                    caps, gains > slack, free, value + 1, deadline, incumbent, at_most
                )
                settled = True  # a proof, or out of time
            else:  # too many for a proof: look around the fractional pairs only
                near = _near_fractional(x, self.client, self.unit) & (gains >= -slack)
                until = min(deadline, started + REPAIR_SECONDS * (attempt + 1))
                found, settled = improve(
                    caps, (x > 0.5) & ~near, near, value + 1, until, incumbent, at_most
                )
            log.debug(
                "region of %d pairs: LP gap %.1f, %d free: %s (%s) in %.2fs",
                len(self.client),
                answer.bound - value,
                int(np.count_nonzero(free)),
                "none better" if found is None else int(self.weight[found].sum()) - value,
                "proven" if proven else "settled" if settled else "not proven",
                time.perf_counter() - started,
            )
            improved = found is not None and int(self.weight[found].sum()) > value
            if improved:
                incumbent, value = found, int(self.weight[found].sum())
            if proven or answer.bound < value + 1:
                break
            # a better allocation narrows the next try (fewer free pairs, perhaps a proof); a
            # search cut short by its time gets longer; one that finished has nothing more
            if not improved and settled:
                break
        return Point(value, incumbent, proven or answer.bound < value + 1), cut

    def lp_under(self, budget: np.ndarray) -> ColumnLp:
        """The region's LP (kept for warm re-solves) with the linking groups at ``budget``."""
        if self.lp is None:
            self.lp = ColumnLp(
                self.client, self.unit, self.caps_with(budget), keep=frozenset(self.links)
            )
            self.lp.seed(self.weight.astype(float), self.relaxed, 6)
        else:
            for key, b in zip(self.links, budget.tolist(), strict=True):
                self.lp.set_limit(key, b)
        return self.lp

    def price_lp(self, quota: np.ndarray) -> ColumnLp | None:
        """The region's LP with every linking group allowed its whole limit (the linking rows
        are priced instead, ``_price_rounds``); None where no LP can prove anything."""
        return None if self.trivial >= SAFE_TOTAL else self.lp_under(quota)

    def _lp(self, budget: np.ndarray, deadline: float, ranging: bool = True) -> RegionAnswer | None:
        self.lp_under(budget)
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
        ranges = self.lp.limit_ranges(self.links) if ranging else {}
        return RegionAnswer(picked, proven, bound, prices, ranges, None if proven else x)


@dataclass
class Point:
    """A region under one budget of the single linking limit: ``chosen`` (local) of combined
    weight ``value``; ``exact`` when no allocation of the region under that budget is better."""

    value: int
    chosen: np.ndarray
    exact: bool


def reduced_gains(lp: ColumnLp, weight: np.ndarray) -> np.ndarray:
    """Per pair, ``g = w - A'|y|`` for the cap duals ``y`` behind the last bound (clipped to
    their sign, as ``ColumnLp.upper_bound`` clips them; rounded when the bound was summed in
    whole numbers). For every allocation x meeting the rows, weak duality gives
    ``w·x <= B - sum_{g>0} g·(1 - x) - sum_{g<0} |g|·x`` with ``B`` that bound: the same
    multipliers in both, or the fixing would not follow."""
    return weight.astype(float) + lp.rows.column_sums(np.minimum(lp.cap_multipliers(), 0.0))


def _near_fractional(x: np.ndarray, client: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """The fractional pairs and every pair sharing a client or a unit with one."""
    fractional = np.abs(x - np.round(x)) > 1e-6
    return fractional | np.isin(client, client[fractional]) | np.isin(unit, unit[fractional])


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
    improve: Callable[..., tuple[np.ndarray | None, bool]] | None = None,
    workers: int = 1,
) -> LinkedOutcome:
    """Split the linking limits into budgets per region until the allocation meets the bound.

    ``exact_region(positions, caps, deadline, x, bound, weight)`` returns an optimal (or, after a
    time-out, the best found) allocation of the region's pairs under ``caps`` and whether it is
    proven, starting from the region LP's fractional vertex ``x`` and its ``bound`` when given;
    ``flow(client, unit, weight, caps)`` the nested relaxation's optimum (or None);
    ``improve(positions, caps, ones, free, weight, at_least, deadline, hint, at_most)`` the best
    allocation of the region's pairs under ``caps`` with the ``ones`` taken and only the
    ``free`` pairs besides, of weight at least ``at_least`` (None when there is none), and
    whether it is proven best: with it, a single linking limit is split exactly (``_one_link``).
    ``workers``: CP-SAT's search workers for the split master (several linking limits).
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
    # each region's flow drops caps, so its optimum bounds the region under any budget
    relaxed_bound = (
        float(sum(_worth(members[r], x, weight) for r, x in enumerate(relaxed)))
        if all(x is not None for x in relaxed)
        else float("inf")
    )
    answers = [None] * n_regions

    # 2. split each limit in proportion to what the regions took without it
    budgets = _proportional(usage, quota)
    if (
        improve is not None
        and len(links) == 1
        and 0 <= quota[0]
        and (int(quota[0]) + 1) ** 2 * n_regions <= ONE_LINK_CELLS
    ):
        # the relaxed flow bounds its region under any budget
        flow_cuts = [
            None if x is None else (float(_worth(members[r], x, weight)), 0.0)
            for r, x in enumerate(relaxed)
        ]

        def improve_in(r: int) -> Callable:
            return lambda caps_r, ones, free, at_least, until, hint, at_most=None: improve(
                members[r], caps_r, ones, free, regions[r].weight, at_least, until, hint, at_most
            )

        points, bound, proven, rounds = _one_link(
            regions, int(quota[0]), budgets[:, 0], improve_in, deadline, flow_cuts
        )
        chosen = np.sort(np.concatenate([members[r][p.chosen] for r, p in enumerate(points)]))
        value = int(weight[chosen].sum())
        return LinkedOutcome(
            chosen.astype(np.int64), value, bound, bound < value + 1, n_regions, 1, rounds
        )
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
    # per region every cut found (D, mu): v_r(b) <= D + mu·b for every budget vector b; the
    # flow's optimum (no linking cap) or the trivial bound is a cut with prices 0
    region_cuts: list[list[tuple[float, np.ndarray]]] = []
    for r, region in enumerate(regions):
        flat = region.trivial
        if relaxed[r] is not None:
            flat = min(flat, float(_worth(members[r], relaxed[r], weight)))
        region_cuts.append([(flat, np.zeros(len(links)))])
    seen = {budgets.tobytes()}
    cut_taken: list[dict[int, RegionAnswer]] = [{} for _ in range(n_regions)]
    stalled = 0
    priced: PriceRounds | None = None
    # per region, every answer so far by its budget vector (the split master's points)
    known: list[dict[tuple[int, ...], RegionAnswer]] = [{} for _ in range(n_regions)]
    most = np.array(
        [[_most_placements(client, unit, m[link_of[i][m] == g]) for i, g in links] for m in members]
    ).reshape(n_regions, len(links))
    while True:
        rounds += 1
        value = sum(_worth(members[r], a.chosen, weight) for r, a in enumerate(answers))
        if best is None or value > best[0]:
            best = (value, [a.chosen for a in answers], budgets.copy())
            best_proven = [a.proven for a in answers]
            stalled = 0
        else:
            stalled += 1
        bound = min(bound, _bound(answers, budgets, quota, links, client, weight, members))
        for r, a in enumerate(answers):
            # a region whose budget did not move keeps its answer, and its cut is already in
            if a.bound is not None and cut_taken[r].get(id(a)) is not a:
                cut_taken[r][id(a)] = a
                mu = np.array([a.prices.get(key, 0.0) for key in links])
                region_cuts[r].append((a.bound - float(mu @ budgets[r]), mu))
        bound = min(bound, _price_bound(region_cuts, quota))
        for r, a in enumerate(answers):
            known[r][tuple(budgets[r].tolist())] = a
        log.info(
            "round %d: value %d, bound %.1f, gap %.1f, %s",
            rounds,
            value,
            bound,
            bound - best[0],
            [(a.proven, a.bound is not None) for a in answers].count((True, True)),
        )
        if log.isEnabledFor(logging.DEBUG):
            for r, a in enumerate(answers):
                v = _worth(members[r], a.chosen, weight)
                log.debug(
                    "  region %d: proven %s, gap %s, prices %s, budget %s",
                    r,
                    a.proven,
                    None if a.bound is None else a.bound - v,
                    a.prices,
                    budgets[r].tolist(),
                )
        several = len(links) > 1 and priced is not None
        if bound < best[0] + 1 or (not fits() and not several):
            break
        if priced is None:
            # 3. the linking limits priced until the regions agree (the whole part's LP bound),
            #    then split as the priced answers ask, once; budgets then move as in 4.
            columns = [
                [
                    (0.0, np.zeros(len(links))),
                    (float(regions[r].weight[a.chosen].sum()), used(r, a.chosen).astype(float)),
                ]
                for r, a in enumerate(answers)
            ]
            until = time.perf_counter() + PRICE_SHARE * (deadline - time.perf_counter())
            start = np.array(
                [np.median([a.prices.get(key, 0.0) for a in answers]) for key in links]
            )
            priced = _price_rounds(regions, links, quota, columns, until, start)
            bound = min(bound, priced.bound)
            for r, found in enumerate(priced.cuts):
                region_cuts[r].extend(found)
            log.info("price rounds: %d, bound %.1f", priced.rounds, bound)
            if priced.budgets is not None and bound >= best[0] + 1:
                split = _integral_split(priced.budgets, quota)
                if split.tobytes() not in seen:
                    seen.add(split.tobytes())
                    budgets[:] = split
                    # the prices' split is near the best: each region solved exactly under it
                    # (a quick repair left 8-27 placements of the bound on unseen instances)
                    for r in range(n_regions):
                        if not fits():
                            break
                        answers[r] = solve_region(r, budgets[r], quick=False)
                    else:
                        continue
                    break
            continue
        if several:
            # 4. several limits: the whole split that the cuts and the exact answers so far
            #    allow most (``split_master``); its regions solved there, until it proves the
            #    best split or the time is up (the LP's budgets share placements between
            #    regions, which no whole split can)
            knowledge = [
                RegionKnowledge(
                    region_cuts[r],
                    {
                        b: _worth(members[r], a.chosen, weight)
                        for b, a in known[r].items()
                        if a.proven
                    },
                    most[r],
                )
                for r in range(n_regions)
            ]
            splits = SplitMaster(knowledge, quota, workers)
            master = splits.solve(deadline, best[2])
            if master is None:
                break
            bound = min(bound, float(master.bound))
            log.info(
                "split master: bound %d (%s)",
                master.bound,
                "optimal" if master.proven else "time limit",
            )
            if bound < best[0] + 1 or master.split is None or not fits():
                break  # proven, or no time for another region (the master's bound stands)
            # the next split to solve: the best one near the best known (few regions change,
            # and there the cuts are close to the regions' values), else the master's own
            # (far from the known points the cuts promise more than the regions give)
            near = splits.solve(deadline, best[2], LOCAL_RADIUS)
            candidates = [master.split] if near is None else [near.split, master.split]
            split = next((c for c in candidates if c.tobytes() not in seen), None)
            if split is None:
                break  # asked before: its regions could not all be proven in time
            seen.add(split.tobytes())
            budgets[:] = split
            for r in range(n_regions):
                answer = known[r].get(tuple(budgets[r].tolist()))
                if answer is not None:
                    answers[r] = answer
                elif fits():
                    answers[r] = solve_region(r, budgets[r], quick=False)
                else:
                    break  # half a split: the best whole one stands
            else:
                continue
            break
        # 5. one limit: move budget from the regions that price it lowest to those pricing it
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
    # 5. the best split's regions that only got a quick repair: solved exactly while time lasts
    value, chosen_per_region, split_ = best
    if bound >= value + 1:
        improved = False
        for r in range(n_regions):
            if best_proven[r] or not fits():
                continue
            answer = solve_region(r, split_[r], quick=False)
            if _worth(members[r], answer.chosen, weight) > _worth(
                members[r], chosen_per_region[r], weight
            ):
                chosen_per_region[r] = answer.chosen
                improved = True
        if improved:
            value = sum(_worth(members[r], c, weight) for r, c in enumerate(chosen_per_region))
    chosen = np.sort(
        np.concatenate([members[r][c] for r, c in enumerate(chosen_per_region)])
    ).astype(np.int64)
    proven = bound < value + 1
    return LinkedOutcome(chosen, value, bound, proven, n_regions, len(links), rounds)


def _one_link(
    regions: list[Region],
    quota: int,
    start: np.ndarray,
    improve: Callable[[int], Callable],
    deadline: float,
    flow_cuts: list[tuple | None],
) -> tuple[list[Point], float, bool, int]:
    """One linking limit ``quota`` split over the regions, exactly.

    Per region, ``upper[b]`` bounds its integer optimum under budget b: exact where the region
    was solved under b, else the lowest of the LP cuts ``D + mu·b`` found so far (each valid for
    every b by weak duality), and no more than at any larger budget (a larger budget never
    lowers the optimum). The best split of these bounds (a max-plus knapsack over the regions)
    bounds every allocation; the best split of the allocations found is the incumbent. Where the
    bound's split names a budget not yet solved, that region is solved there, and again, until
    the two meet (proven) or the time is up (the bound stands)."""
    n = len(regions)
    q = int(quota)
    points: list[dict[int, Point]] = [{} for _ in range(n)]
    repaired: list[set[int]] = [set() for _ in range(n)]
    cuts: list[list[tuple[float, float]]] = [[c] if c is not None else [] for c in flow_cuts]
    budgets = np.arange(q + 1, dtype=float)

    def evaluate(r: int, b: int, repair: bool = False) -> None:
        point, cut = regions[r].optimum(np.array([b]), deadline, improve(r), repair)
        if b not in points[r] or point.exact or point.value > points[r][b].value:
            points[r][b] = point
        if cut is not None:
            cuts[r].append(cut)

    def tables(r: int) -> tuple[np.ndarray, np.ndarray]:
        upper = np.full(q + 1, regions[r].trivial)
        for d, mu in cuts[r]:
            # the subtraction that made d is exact to far under a unit at these magnitudes
            margin = 2.0**-48 * (abs(d) + abs(mu) * q + 1.0)
            upper = np.minimum(upper, np.floor(d + mu * budgets + margin))
        lower = np.full(q + 1, -np.inf)
        for b, p in points[r].items():
            if p.exact:
                upper[b] = min(upper[b], p.value)
            lower[b:] = np.maximum(lower[b:], p.value)
        upper = np.minimum.accumulate(upper[::-1])[::-1]  # v(b) <= v(b') for b <= b'
        return upper, lower

    rounds = 0
    best: tuple[float, list[Point]] | None = None
    bound = math.inf
    for r in range(n):
        if time.perf_counter() >= deadline:
            break
        evaluate(r, int(start[r]))
    for r, region in enumerate(regions):
        if not points[r]:  # out of time: the flow's answer cut to the budget (or nothing)
            b = int(start[r])
            got = region.relaxed if region.relaxed is not None else np.zeros(0, dtype=np.int64)
            caps_b = region.caps_with(np.array([b]))
            got = within(caps_b, region.client, region.unit, got, region.weight)
            points[r][b] = Point(int(region.weight[got].sum()), got, False)
    while True:
        rounds += 1
        ups, lows = zip(*(tables(r) for r in range(n)), strict=True)
        top, top_split = _knapsack(list(ups))
        got, got_split = _knapsack(list(lows))
        bound = min(bound, top)
        if best is None or got > best[0]:
            # per region the best allocation found under a budget no larger than its share
            best = (got, [_best_below(points[r], got_split[r]) for r in range(n)])
        log.info(
            "one link, round %d: value %.0f, bound %.0f, gap %.1f, %d solves",
            rounds,
            best[0],
            bound,
            bound - best[0],
            sum(len(p) for p in points),
        )
        if log.isEnabledFor(logging.DEBUG):
            for r in range(n):
                if top_split[r] != got_split[r] or ups[r][top_split[r]] - lows[r][got_split[r]] > 1:
                    log.debug(
                        "  region %d: bound at %d: %.0f, found at %d: %.0f",
                        r,
                        top_split[r],
                        ups[r][top_split[r]],
                        got_split[r],
                        lows[r][got_split[r]],
                    )
        if bound < best[0] + 1:
            break
        # first the LP at every budget the bound's split names (cheap, and it tightens the
        # bound); once they are all known, a repair of each region at that split
        todo = [r for r in range(n) if top_split[r] not in points[r]]
        repair = not todo
        if repair:
            todo = [r for r in range(n) if top_split[r] not in repaired[r]]
            if not todo:
                break  # every region of the bound's split repaired, not all proven: no proof
        for r in todo:
            if time.perf_counter() >= deadline:
                break
            evaluate(r, top_split[r], repair)
            if repair:
                repaired[r].add(top_split[r])
        if time.perf_counter() >= deadline:
            break
    value, chosen = best
    return chosen, bound, bound < value + 1, rounds


def _best_below(points: dict[int, Point], budget: int) -> Point:
    return max((p for b, p in points.items() if b <= budget), key=lambda p: p.value)


def _knapsack(tables: list[np.ndarray]) -> tuple[float, list[int]]:
    """max sum_r t_r[b_r] subject to sum_r b_r <= q (each table has q + 1 entries, in float64:
    the totals stay below 2^53, where float64 is exact on integers), and the maximising b."""
    q = len(tables[0]) - 1
    total = tables[0].copy()
    choices = []
    t = np.arange(q + 1)
    for table in tables[1:]:
        # new[t] = max_b total[t - b] + table[b]
        grid = total[t[:, None] - t[None, :]] + table[None, :]
        grid[t[:, None] < t[None, :]] = -np.inf
        pick = np.argmax(grid, axis=1)
        choices.append(pick)
        total = grid[t, pick]
    end = int(np.argmax(total))
    value = float(total[end])
    split_ = []
    for pick in choices[::-1]:
        b = int(pick[end])
        split_.append(b)
        end -= b
    split_.append(end)
    return value, split_[::-1]


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


def _integral_split(share: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """Whole budgets per region near the fractional ``share`` (regions × limits), never more
    than each limit in all: rounded down, the rest to the largest remainders."""
    base = np.floor(share + 1e-9).astype(np.int64)
    for j, q in enumerate(quota.tolist()):
        rest = int(q) - int(base[:, j].sum())
        if rest > 0:
            order = np.argsort(-(share[:, j] - base[:, j]), kind="stable")[:rest]
            base[order, j] += 1
        while base[:, j].sum() > q:  # rounding up by 1e-9 overshot: take from the largest
            base[int(np.argmax(base[:, j])), j] -= 1
    return base


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


def _price_bound(cuts: list[list[tuple[float, np.ndarray]]], quota: np.ndarray) -> float:
    """A bound on every split of the linking limits from each region's cuts (at least one with
    prices 0 first, the region's flat bound), with one price per limit, lowered as far as it
    pays.

    For prices lam >= 0 and any weights theta >= 0 summing to 1 over a region's cuts with
    ``sum theta_k mu_k <= lam``: ``v_r(b) <= min_k (D_k + mu_k·b) <= sum theta_k D_k + lam·b``,
    so ``sum_r v_r(b_r) <= sum_r sum_k theta_rk D_rk + lam·q`` for every split. With lam the
    highest price of each limit every region takes its own cut (``_bound``); a lower lam mixes
    a region's cut with its flat bound (theta on the cut at most lam/mu), which is what a
    region pricing a limit above the others is worth when the budget cannot all go to it."""
    n_links = len(quota)
    q = quota.astype(float)
    d = np.array([c for region in cuts for c, _ in region], dtype=float)
    mu = np.array([m for region in cuts for _, m in region], dtype=float).reshape(-1, n_links)
    owner = np.repeat(np.arange(len(cuts)), [len(region) for region in cuts])
    unpriced = ~np.any(mu > 0, axis=1)
    flat = np.full(len(cuts), np.inf)
    np.minimum.at(flat, owner[unpriced], d[unpriced])
    gain = np.maximum(flat[owner] - d, 0.0)  # what a cut saves over the region's flat bound
    priced = mu > 0
    scale = float(np.abs(d).sum())

    def evaluate(lam: np.ndarray) -> float:
        with np.errstate(divide="ignore"):
            ratio = np.where(priced, lam[None, :] / np.where(priced, mu, 1.0), np.inf)
        # a shade under the ratio: theta·mu <= lam despite rounding in the division
        theta = np.clip(ratio.min(axis=1, initial=np.inf), 0.0, 1.0) * (1.0 - 1e-12)
        theta[unpriced] = 1.0
        best = flat.copy()
        np.minimum.at(best, owner, flat[owner] - theta * gain)
        value = math.fsum([*best.tolist(), float(lam @ q)])
        return value + 2.0**-50 * (scale + float(lam @ q)) * (len(cuts) + 4)

    highest = mu.max(axis=0, initial=0.0)
    # first along the line from all prices 0 (every region at its flat bound) to the highest
    # (``_bound``), then coordinate descent over the prices the regions named (the bound is
    # convex in lam, piecewise linear with breaks only there and at 0, but not separable: a
    # region's weight on its cut is set by its dearest limit)
    best, lam = min(
        ((evaluate(t * highest), t * highest) for t in np.linspace(0.0, 1.0, 33)),
        key=lambda pair: pair[0],
    )
    for _ in range(3):
        improved = False
        for k in range(n_links):
            candidates = np.unique(np.r_[0.0, mu[:, k]])
            if len(candidates) > 64:
                candidates = np.unique(np.quantile(candidates, np.linspace(0, 1, 64)))
            for c in candidates.tolist():
                if c == lam[k]:
                    continue
                trial = lam.copy()
                trial[k] = c
                got = evaluate(trial)
                if got < best:
                    best, lam, improved = got, trial, True
        if not improved:
            break
    if log.isEnabledFor(logging.DEBUG):
        log.debug("price bound %.0f (highest prices: %.0f)", best, evaluate(highest))
    return best


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


@dataclass
class PriceRounds:
    """What the price rounds (``_price_rounds``) left: the best Lagrangian ``bound`` found, and
    ``budgets`` per region that the master's convex combination of region answers asks for
    (None when the master had nothing to say)."""

    bound: float
    budgets: np.ndarray | None
    rounds: int
    #: per region, one cut ``(D, lam)`` per round: ``v_r(b) <= D + lam·b`` for every budget b
    #: (D the region's best at prices lam, a bound in its own right)
    cuts: list[list[tuple[float, np.ndarray]]] = field(default_factory=list)


def _price_rounds(
    regions: list[Region],
    links: list[Key],
    quota: np.ndarray,
    columns: list[list[tuple[float, np.ndarray]]],
    until: float,
    start: np.ndarray | None = None,
) -> PriceRounds:
    """Dantzig-Wolfe over the regions, priced on the linking rows: the whole part's LP bound
    when the budgets' own prices disagree (several linking limits).

    For prices lam >= 0 on the linking rows, every region r may take each linking group up to
    its whole limit and pays lam per pair instead: ``L(lam) = sum_r max_x (w - lam·A_r)·x +
    lam·q`` bounds every allocation (each obeys sum_r A_r x_r <= q), whatever lam. The region
    maxima are LP upper bounds (``ColumnLp.upper_bound``, proven for any duals), so each
    ``L(lam)`` is a proven bound. The prices come from a master LP over the regions' answers
    so far (``columns[r]``: (weight, use of each linking group)): choose a convex combination
    per region within the limits, worth most; its duals on the limits are the next prices
    (Kelley's cutting planes on L, disaggregated by region). The master's value never exceeds
    the LP optimum and min L never falls below it; they meet at the whole part's LP bound."""
    from scipy.optimize import linprog  # only on this path: several linking limits

    n_regions = len(regions)
    masks = [
        np.stack(
            [region.caps[i].of_pairs(region.client, region.unit) == g for i, g in links], axis=0
        ).astype(np.int64)
        for region in regions
    ]
    # every linking group at its whole limit: the regions' caps while the rows are priced
    caps_at_quota = [region.caps_with(quota) for region in regions]
    scale = max(1.0, max(float(region.weight.max(initial=0)) for region in regions))
    best = math.inf
    center: np.ndarray | None = None  # the prices of the best bound so far
    step = STEP
    last_master, still = -math.inf, 0
    budgets = None
    rounds = 0
    cuts: list[list[tuple[float, np.ndarray]]] = [[] for _ in regions]
    while time.perf_counter() < until:
        # the master: per region a convex combination of its columns (the empty one included)
        spans = np.cumsum([0] + [len(c) for c in columns])
        value = np.concatenate([[w for w, _ in c] for c in columns]) / scale
        use = np.concatenate([np.stack([a for _, a in c], axis=1) for c in columns], axis=1)
        pick = np.zeros((n_regions, spans[-1]))
        for r in range(n_regions):
            pick[r, spans[r] : spans[r + 1]] = 1.0
        master = linprog(
            -value,
            A_ub=use,
            b_ub=quota.astype(float),
            A_eq=pick,
            b_eq=np.ones(n_regions),
            bounds=(0, None),
            method="highs",
        )
        if master.status != 0:
            break
        lam = np.maximum(-np.asarray(master.ineqlin.marginals), 0.0) * scale
        if center is None and start is not None:
            lam = start  # first, the prices the regions' own LPs put on their budgets
        if center is not None:
            # the master's prices jump from one extreme to the next (Kelley); asking at a
            # point between them and the best prices so far converges far faster (Wentges)
            lam = (1.0 - step) * center + step * lam
        mix = master.x
        budgets = np.stack(
            [
                use[:, spans[r] : spans[r + 1]] @ mix[spans[r] : spans[r + 1]]
                for r in range(n_regions)
            ]
        )
        master_value = -float(master.fun) * scale
        if best < math.inf and best - master_value <= 1.0 + PRICE_TOLERANCE * abs(best):
            break  # the master reached the bound: these are the LP's budgets
        if master_value > last_master * (1 + PRICE_TOLERANCE) + 1.0:
            last_master, still = master_value, 0
        else:
            still += 1
            if still >= STALL_ROUNDS:
                break
        rounds += 1
        # the regions priced at lam: a proven bound and one new column each. Each region's LP
        # is kept from round to round and only its costs change, so HiGHS re-solves it warm
        # from the last basis: a few milliseconds, where a fresh nested flow of the region
        # took 45 ms (owned-national seed 2: 5 rounds in 4-7 s instead of 15-22 s, the same
        # bounds). The flow stands in where no LP can prove anything or none ended in time:
        # exact when the linking rows are the only caps it drops (whole prices keep the priced
        # weights whole), else still a bound, as it drops caps.
        lam = np.round(lam)
        whole = lam.astype(np.int64)
        parts = [float(int(whole @ quota))]
        for r, region in enumerate(regions):
            if time.perf_counter() >= until:
                return PriceRounds(best, budgets, rounds, cuts)
            priced = region.weight.astype(np.int64) - whole @ masks[r]
            lp = region.price_lp(quota)
            x = None if lp is None else lp.solve(-priced.astype(float), until)
            if x is not None:
                parts.append(lp.upper_bound(priced.astype(float)))
                columns[r].append((float(region.weight @ x), masks[r] @ x))
                continue
            caps = caps_at_quota[r]
            took = (
                None
                if region.flow is None
                else region.flow(region.client, region.unit, priced, caps)
            )
            if took is None:  # each client at its best
                parts.append(best_total(region.client, priced))
                continue
            parts.append(float(int(priced[took].sum())))
            if _meets(caps, region.client, region.unit, took):
                columns[r].append(
                    (float(region.weight[took].sum()), masks[r][:, took].sum(axis=1).astype(float))
                )
        for r in range(n_regions):
            cuts[r].append((parts[r + 1], lam.copy()))
        total = math.fsum(parts)
        # every part is exact to well under a unit at these magnitudes; keep a margin
        total += 2.0**-50 * abs(total) * (n_regions + 2)
        log.debug("prices %s: L %.1f", np.round(lam / scale, 4).tolist(), total)
        if total < best:
            if center is not None:
                step = min(1.0, 2.0 * step)  # the step paid: a longer one next
            best, center = total, lam
        else:
            step = max(MIN_STEP, step / 2.0)  # mis-priced: ask nearer the best prices next
        log.info(
            "price round %d: master %.1f, bound %.1f, gap %.1f placements",
            rounds,
            master_value,
            best,
            (best - master_value) / scale,
        )
    return PriceRounds(best, budgets, rounds, cuts)


def _worth(members: np.ndarray, chosen: np.ndarray, weight: np.ndarray) -> int:
    """The combined weight of a region's allocation (``chosen`` local to the region)."""
    return int(weight[members[chosen]].sum())


def _most_placements(client: np.ndarray, unit: np.ndarray, pairs: np.ndarray) -> int:
    """The most of these pairs one allocation can take: no more than their distinct clients,
    nor their distinct units."""
    return min(len(np.unique(client[pairs])), len(np.unique(unit[pairs])))
