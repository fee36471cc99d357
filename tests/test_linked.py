"""Corporations across regions (issue 12): the region-by-region path (``allocator.linked``)
against the independent HiGHS MIP and against brute force, and the bounds of unproven runs.

``linked_min_pairs=0`` sends every part that falls into regions joined only by a few caps to the
linked path, however small; the default sends only large parts there.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from allocator.generator import generate
from allocator.mip import MipResult, solve_mip
from allocator.models import Instance
from allocator.solver import SolverSettings, solve
from allocator.validator import objective_of, validate

LINKED = SolverSettings(linked_min_pairs=0, time_limit_seconds=120)
SEEDS = range(20)


@functools.cache
def owned_case(seed: int) -> tuple[Instance, MipResult]:
    """100 clients × 300 units in two regions of eight municipalities, 2-3 national
    corporations with quotas that join the regions."""
    instance = generate(100, 300, 16, seed, national_corporations=2 + seed % 2)
    return instance, solve_mip(instance, time_limit_seconds=120)


def assert_linked_path_matches_highs(instance: Instance, mip: MipResult):
    """The linked path proves HiGHS's optimum: the allocation breaks no rule, its objective is
    the validator's, every level's bound is a number and a proof means it is reached."""
    levels = instance.policy.objective
    s = solve(instance, LINKED)
    assert mip.proven and mip.objective is not None
    assert s.proven, s.facts.paths
    assert validate(instance, s.assignments) == []
    assert s.objective == objective_of(instance, s.assignments)
    assert s.objective.as_tuple(levels) == mip.objective.as_tuple(levels)
    for lv in s.facts.levels:
        assert lv.bound is not None and lv.status == "optimal" and lv.bound == lv.value
    return s


@pytest.mark.parametrize("seed", SEEDS)
def test_linked_path_matches_highs(seed: int) -> None:
    instance, mip = owned_case(seed)
    s = assert_linked_path_matches_highs(instance, mip)
    default = solve(instance)
    assert default.proven and default.objective == s.objective


def test_the_linked_path_is_taken_and_proves_most_cases() -> None:
    proven_by_regions = 0
    for seed in SEEDS:
        instance, _ = owned_case(seed)
        s = solve(instance, LINKED)
        proven_by_regions += s.facts.paths.get("regions", 0) and s.proven
    assert proven_by_regions >= len(SEEDS) // 2


def assert_stopped_runs_bound_the_optimum(instance: Instance, limits: tuple[float, ...]) -> None:
    """Stopped at each limit, every maximised level's bound is at least the optimum HiGHS
    proves (bounds of later levels hold for allocations at least as good on the earlier ones,
    as the optimum is), a minimised level's at most it, and the gap is said in words."""
    mip = solve_mip(instance, time_limit_seconds=300)
    assert mip.proven and mip.objective is not None
    optimum = mip.objective.model_dump()
    for limit in limits:
        s = solve(instance, SolverSettings(linked_min_pairs=0, time_limit_seconds=limit))
        assert validate(instance, s.assignments) == []
        placed = next(lv for lv in s.facts.levels if lv.level == "placed")
        if placed.status != "optimal":
            gap = int(placed.bound) - placed.value
            people = "person" if gap == 1 else "people"
            assert f"at most {gap:,} more {people} could be placed" in s.facts.note
        for lv in s.facts.levels:
            assert lv.bound is not None, lv
            if lv.level in ("placed", "waiting_days"):
                assert lv.bound >= optimum[lv.level], (limit, lv)
            else:
                assert lv.bound <= optimum[lv.level], (limit, lv)


def test_an_unproven_run_reports_bounds_no_better_allocation_passes() -> None:
    assert_stopped_runs_bound_the_optimum(
        generate(400, 1600, 24, 5, national_corporations=3), (0.05, 0.3)
    )


# ----------------------------------------------------------------------------------------------
# several linking limits (every building owned by a national corporation, several with a quota):
# the limits are priced over the regions (``_price_rounds``) before budgets move


@functools.cache
def many_links_case(seed: int) -> tuple[Instance, MipResult]:
    instance = generate(120, 360, 24, seed, national_corporations=5, national_share=1.0)
    return instance, solve_mip(instance, time_limit_seconds=120)


@pytest.mark.parametrize("seed", range(8))
def test_many_linking_limits_match_highs(seed: int) -> None:
    assert_linked_path_matches_highs(*many_links_case(seed))


def test_many_linking_limits_are_priced_and_no_price_bound_falls_below_the_allocation() -> None:
    """The price rounds run on this family, and every bound they return is at least the
    combined weight of the allocation the linked path ends with (which, proven, is the
    part's optimum)."""
    import allocator.solver as solver_module
    from allocator import linked

    bounds: list[float] = []
    outcomes: list = []
    price_rounds, solve_linked = linked._price_rounds, solver_module.solve_linked

    def priced(*args, **kwargs):
        out = price_rounds(*args, **kwargs)
        bounds.append(out.bound)
        return out

    def outcome(*args, **kwargs):
        bounds.clear()
        out = solve_linked(*args, **kwargs)
        outcomes.append((list(bounds), out))
        return out

    linked._price_rounds, solver_module.solve_linked = priced, outcome
    try:
        for seed in range(8):
            solve(many_links_case(seed)[0], LINKED)
    finally:
        linked._price_rounds, solver_module.solve_linked = price_rounds, solve_linked
    priced_runs = [(b, o) for b, o in outcomes if b]
    assert len(priced_runs) >= 4
    for run_bounds, out in priced_runs:
        assert all(b >= out.value for b in run_bounds), (run_bounds, out.value)
        if out.proven:
            assert min(run_bounds) >= out.value


@pytest.mark.parametrize(
    "shape",
    [(120, 360, 24, 5, 1.0, 7), (200, 600, 24, 3, 0.3, 1), (300, 1200, 32, 4, 0.5, 3)],
    ids=str,
)
def test_several_linking_limits_are_proven_by_the_whole_split_master(shape, monkeypatch) -> None:
    """Instances whose whole LP bound lies a few units above every whole split (the price
    rounds alone left them unproven, and a whole-part path proved them): the integer master
    over the splits (``split_master``) proves them on the region path, HiGHS's optimum."""
    from allocator import linked

    *size, seed = shape
    n, m, municipalities, k, share = size
    instance = generate(n, m, municipalities, seed, national_corporations=k, national_share=share)
    asked = []

    class Counted(linked.SplitMaster):  # the real master, its asks counted
        def solve(self, *args, **kwargs):
            asked.append(1)
            return super().solve(*args, **kwargs)

    monkeypatch.setattr(linked, "SplitMaster", Counted)
    s = assert_linked_path_matches_highs(instance, solve_mip(instance, time_limit_seconds=120))
    assert s.facts.paths == {"regions": 1} and asked


def test_the_split_master_searches_with_the_solvers_workers(monkeypatch) -> None:
    """``SolverSettings.workers`` reaches the split master's CP-SAT (it always had one)."""
    from allocator import linked

    instance = generate(120, 360, 24, 7, national_corporations=5, national_share=1.0)
    workers = []

    class Recorded(linked.SplitMaster):
        def solve(self, *args, **kwargs):
            workers.append(self.workers)
            return super().solve(*args, **kwargs)

    monkeypatch.setattr(linked, "SplitMaster", Recorded)
    s = solve(instance, LINKED.model_copy(update={"workers": 2}))
    assert s.facts.paths == {"regions": 1} and workers and set(workers) == {2}


def test_many_linking_limits_bound_of_an_unproven_run_holds() -> None:
    """The same with eight linking limits."""
    instance = generate(400, 1600, 48, 5, national_corporations=8, national_share=1.0)
    assert_stopped_runs_bound_the_optimum(instance, (0.5, 0.8, 1.2))


# ----------------------------------------------------------------------------------------------
# brute force: two or three one-municipality regions, clients who accept only their own, a
# national corporation with units everywhere and a quota, regional corporations sometimes


@st.composite
def linked_instances(draw) -> Instance:
    r = random.Random(draw(st.integers(0, 2**64 - 1)))
    regions = r.randint(2, 3)
    munis = [f"m{i}" for i in range(regions)]
    corporations = [{"id": "nat", "name": "National", "quota": r.randint(0, 2)}]
    complexes, units, clients = [], [], []
    for i, m in enumerate(munis):
        corporations.append(
            {"id": f"reg{i}", "name": f"Regional {i}", "quota": r.choice([None, 1, 2])}
        )
        for x in range(r.randint(1, 2)):
            owner = r.choice(["nat", f"reg{i}"])
            cx = f"cx{i}{x}"
            complexes.append(
                {
                    "id": cx,
                    "municipality_id": m,
                    "units_total": 10,
                    "vulnerable_residents": r.choice([0, 0, 1, 2]),
                }
            )
            units.append(
                {
                    "id": f"u{i}{x}",
                    "complex_id": cx,
                    "corporation_id": owner,
                    "rooms": 2,
                    "rent": 600.0,
                    "accessible": True,
                    "max_occupants": 4,
                }
            )
        for c in range(r.randint(1, 2)):
            clients.append(
                {
                    "id": f"c{i}{c}",
                    "household_size": 1,
                    "target_group": "BW",
                    "ready_since": str(dt.date(2026, 1, 1) + dt.timedelta(days=r.randint(0, 300))),
                    "preferred_municipalities": [m],
                }
            )
    return Instance.model_validate(
        {
            "municipalities": [
                {"id": m, "name": m.upper(), "quota": r.choice([1, 2, 3])} for m in munis
            ],
            "corporations": corporations,
            "complexes": complexes,
            "units": units,
            "clients": clients,
            "policy": {"reference_date": "2026-11-25"},
        }
    )


def brute_force_best(instance: Instance) -> tuple[int, ...]:
    levels = instance.policy.objective
    options = [None, *(u.id for u in instance.units)]
    best = None
    for choice in itertools.product(options, repeat=len(instance.clients)):
        pairs = [(c.id, u) for c, u in zip(instance.clients, choice, strict=True) if u is not None]
        if not validate(instance, pairs):
            value = objective_of(instance, pairs).as_tuple(levels)
            best = value if best is None or value > best else best
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=linked_instances())
def test_linked_path_matches_brute_force(instance: Instance) -> None:
    s = solve(instance, SolverSettings(linked_min_pairs=0, time_limit_seconds=30))
    event(f"paths {sorted(s.facts.paths)}")
    assert s.proven
    assert validate(instance, s.assignments) == []
    assert s.objective.as_tuple(instance.policy.objective) == brute_force_best(instance)


# ----------------------------------------------------------------------------------------------
# one linking limit (a single national corporation with a quota): split exactly by the max-plus
# knapsack over the regions' budgets (``allocator.linked._one_link``)


@functools.cache
def one_link_case(seed: int) -> tuple[Instance, MipResult]:
    """100 clients × 300 units in four regions of eight municipalities, one national
    corporation (with a quota in most seeds: then its quota is the only cap joining them)."""
    instance = generate(100, 300, 32, seed, national_corporations=1)
    return instance, solve_mip(instance, time_limit_seconds=120)


@pytest.mark.parametrize("seed", SEEDS)
def test_one_linking_limit_matches_highs(seed: int) -> None:
    assert_linked_path_matches_highs(*one_link_case(seed))


def test_one_linking_limit_is_split_by_the_knapsack_and_proves_most_cases() -> None:
    from allocator import linked

    calls = []
    original = linked._one_link

    def counting(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out[2])  # proven
        return out

    linked._one_link = counting
    try:
        for seed in SEEDS:
            instance, _ = one_link_case(seed)
            solve(instance, LINKED)
    finally:
        linked._one_link = original
    assert len(calls) >= len(SEEDS) // 2
    assert sum(calls) >= len(calls) * 3 // 4


def test_one_linking_limit_bound_of_an_unproven_run_holds() -> None:
    """The same on the single-link path."""
    instance = generate(400, 1600, 48, 3, national_corporations=1)
    assert_stopped_runs_bound_the_optimum(instance, (0.2, 0.6))


@settings(max_examples=200, deadline=None)
@given(
    tables=st.lists(st.lists(st.integers(-5, 20), min_size=4, max_size=4), min_size=1, max_size=4)
)
def test_knapsack_over_budgets_matches_enumeration(tables) -> None:
    import numpy as np

    from allocator.linked import _knapsack

    arrays = [np.array(t, dtype=float) for t in tables]
    q = 3
    best = max(
        sum(t[b] for t, b in zip(tables, split_, strict=True))
        for split_ in itertools.product(range(q + 1), repeat=len(tables))
        if sum(split_) <= q
    )
    value, split_ = _knapsack(arrays)
    assert value == best
    assert sum(split_) <= q
    assert sum(t[b] for t, b in zip(tables, split_, strict=True)) == best


@settings(max_examples=150, deadline=None)
@given(
    regions=st.lists(
        st.tuples(
            st.integers(50, 120),  # the region's flat bound (prices 0)
            st.lists(
                st.tuples(st.integers(0, 120), st.integers(0, 30), st.integers(0, 30)),
                max_size=3,
            ),  # cuts (D, mu over two limits)
        ),
        min_size=1,
        max_size=3,
    ),
    quota=st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
def test_price_bound_holds_on_every_split(regions, quota) -> None:
    """Several linking limits: the bound from the regions' cuts is at least the best split of
    the limits by enumeration, and no weaker than either all prices 0 (every region at its flat
    bound) or the highest prices (every region at its best cut)."""
    import numpy as np

    from allocator.linked import _price_bound

    cuts = [
        [(float(flat), np.zeros(2))] + [(float(d), np.array([m1, m2], float)) for d, m1, m2 in cs]
        for flat, cs in regions
    ]
    q = np.array(quota)
    bound = _price_bound(cuts, q)
    budgets = list(itertools.product(range(q[0] + 1), range(q[1] + 1)))
    best = max(
        sum(
            min(d + float(mu @ b) for d, mu in region)
            for region, b in zip(cuts, split_, strict=True)
        )
        for split_ in itertools.product(budgets, repeat=len(cuts))
        if sum(b[0] for b in split_) <= q[0] and sum(b[1] for b in split_) <= q[1]
    )
    assert bound >= best - 1e-9
    highest = np.max([mu for region in cuts for _, mu in region], axis=0)
    at_highest = sum(min(d for d, _ in region) for region in cuts) + float(highest @ q)
    assert bound <= min(sum(region[0][0] for region in cuts), at_highest) + 1e-6
