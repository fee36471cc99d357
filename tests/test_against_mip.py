"""CP-SAT against an independent HiGHS MIP on generated regions of about 100 clients × 300 units.

Both CP-SAT methods (``auto``: split, flow, LP, CP-SAT where needed; ``cp-sat``: one model) and
HiGHS must prove optimality, reach the same lexicographic objective triple, and propose
allocations that the validator accepts. The MIP tests eligibility pair by pair with the rules'
plain ``allows`` and writes rules 1, 8-11 and 12-15 itself (``allocator.mip``), so agreement
checks the CP-SAT model and the vectorised eligibility masks, not just the solver. Every seed runs
twice: with rules 1-11 only, and with the generator's rules 12-15 in play as well.

The generator sizes quotas to the vacancies (300 here), which 100 clients never reach; the
instances are therefore rescaled so that municipality and corporation quotas bind, and a few
valid pairs are pinned.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

import numpy as np
import pytest

from allocator.generator import generate, pinnable_pairs
from allocator.mip import MipResult, mix_room, plain_eligible_pairs, solve_mip
from allocator.models import Instance
from allocator.solver import SolverSettings, solve
from allocator.validator import objective_of, validate

CLIENTS, UNITS, MUNICIPALITIES = 100, 300, 7
SEEDS = range(20)
TIME_LIMIT = 120.0


def binding_instance(seed: int, rules_12_15: bool = False) -> Instance:
    """A generated region (three corporations) whose quotas cut.

    Municipal quotas together allow ~80% of the clients, unevenly spread; each corporation gets
    40-90% of its proportional share of the clients.
    """
    base = generate(CLIENTS, UNITS, MUNICIPALITIES, seed, corporations=3, rules_12_15=rules_12_15)
    rng = np.random.default_rng(10_000 + seed)
    muni_total = sum(m.quota for m in base.municipalities)
    municipalities = [
        m.model_copy(
            update={
                "quota": int(
                    math.floor(m.quota * 0.8 * CLIENTS / muni_total * rng.uniform(0.6, 1.4) + 0.5)
                )
            }
        )
        for m in base.municipalities
    ]
    corp_total = sum(c.quota or 0 for c in base.corporations)
    corporations = [
        c.model_copy(
            update={
                "quota": None
                if c.quota is None
                else int(math.floor(c.quota * CLIENTS / corp_total * rng.uniform(0.4, 0.9) + 0.5))
            }
        )
        for c in base.corporations
    ]
    instance = base.with_changes(municipalities=municipalities, corporations=corporations)
    pins = seed % 4  # 0-3 accepted offers
    if pins:
        instance = instance.with_changes(pinned=pinnable_pairs(instance, pins, rng))
    return instance


def tight_rules(instance: Instance, pairs: list[tuple[str, str]]) -> set[str]:
    """Which quota families are used up somewhere in ``pairs``."""
    muni = Counter(instance.complex(instance.unit(u).complex_id).municipality_id for _, u in pairs)
    corp = Counter(instance.unit(u).corporation_id for _, u in pairs)
    cx = Counter(instance.unit(u).complex_id for _, u in pairs)
    tight = set()
    if any(muni[m.id] == m.quota for m in instance.municipalities):
        tight.add("municipality")
    if any(c.quota is not None and corp[c.id] == c.quota for c in instance.corporations):
        tight.add("corporation")
    if any(cx[c.id] and cx[c.id] == mix_room(instance, c.id) for c in instance.complexes):
        tight.add("magic mix")
    return tight


@functools.cache
def case(seed: int, rules_12_15: bool) -> tuple[Instance, MipResult]:
    """The instance and its HiGHS answer, shared by both CP-SAT methods."""
    instance = binding_instance(seed, rules_12_15)
    return instance, solve_mip(instance, time_limit_seconds=TIME_LIMIT)


@pytest.mark.parametrize("rules_12_15", [False, True], ids=["rules1-11", "rules1-15"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", ["auto", "lp", "cp-sat"])
def test_cp_sat_matches_highs(method: str, seed: int, rules_12_15: bool) -> None:
    instance, mip = case(seed, rules_12_15)
    levels = instance.policy.objective

    cp = solve(instance, SolverSettings(method=method, time_limit_seconds=TIME_LIMIT))

    assert cp.proven, [lv.status for lv in cp.facts.levels]
    assert mip.proven, [(lv.status, lv.termination) for lv in mip.levels]
    assert validate(instance, cp.assignments) == []
    assert validate(instance, mip.assignments) == []
    assert mip.objective is not None
    assert cp.objective == objective_of(instance, cp.assignments)
    assert cp.objective.as_tuple(levels) == mip.objective.as_tuple(levels)
    # the two eligibility computations (numpy masks, plain per-pair tests) agree pair for pair
    cols = cp.columns
    vectorised = {
        (cols.client_ids[c], cols.unit_ids[u])
        for c, u in zip(cp.pairs.client.tolist(), cp.pairs.unit.tolist(), strict=True)
    }
    assert vectorised == set(plain_eligible_pairs(instance))
    assert mip.eligible_pairs == len(vectorised)
    # the instance exercises the quotas it was rescaled for (which one binds varies by seed)
    tight = tight_rules(instance, cp.assignments) | tight_rules(instance, mip.assignments)
    assert tight & {"municipality", "corporation"}
    pinned = {(p.client_id, p.unit_id) for p in instance.pinned}
    assert pinned <= set(cp.assignments)
    assert pinned <= set(mip.assignments)
    if rules_12_15:  # the new rules are in play and some bind at the optimum
        assert instance.neighbourhoods and instance.support_providers
        assert tight_new_rules(instance, cp.assignments)


def tight_new_rules(instance: Instance, pairs: list[tuple[str, str]]) -> set[str]:
    """Which of rules 13-15 are used up somewhere in ``pairs`` (counted here from DOMAIN.md)."""
    nb = Counter(instance.complex(instance.unit(u).complex_id).neighbourhood_id for _, u in pairs)
    support = Counter(
        (instance.client(c).support_provider_id, instance.unit_municipality_id(instance.unit(u)))
        for c, u in pairs
    )
    stairs = Counter((instance.unit(u).complex_id, instance.unit(u).staircase_id) for _, u in pairs)
    tight = set()
    if any(nb[n.id] == n.quota for n in instance.neighbourhoods):
        tight.add("neighbourhood")
    if any(
        support[(p.id, c.municipality_id)] == c.places
        for p in instance.support_providers
        for c in p.capacity
        if c.places
    ):
        tight.add("support")
    for (cx_id, stair), n in stairs.items():
        cx = instance.complex(cx_id)
        if stair and cx.max_vulnerable_per_staircase is not None:
            before = (cx.staircase_vulnerable_residents or {}).get(stair, 0)
            if before + n == cx.max_vulnerable_per_staircase:
                tight.add("staircase")
    return tight
