"""The synthetic instance generator: deterministic, the right shape, valid."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from allocator.generator import generate, region_of_municipality
from allocator.models import Instance
from allocator.validator import pinned_issues


@pytest.fixture(scope="module")
def regional() -> Instance:
    return generate(2_000, 8_000, 40, seed=7)


def share(items, predicate) -> float:
    items = list(items)
    return sum(1 for x in items if predicate(x)) / len(items)


def test_same_seed_same_instance() -> None:
    assert generate(200, 300, 12, seed=3) == generate(200, 300, 12, seed=3)


def test_different_seeds_differ() -> None:
    assert generate(200, 300, 12, seed=3) != generate(200, 300, 12, seed=4)


def test_it_is_an_instance_with_the_asked_sizes(regional: Instance) -> None:
    assert isinstance(regional, Instance)
    assert len(regional.clients) == 2_000
    assert len(regional.units) == 8_000
    assert len(regional.municipalities) == 40
    assert regional.policy.reference_date is not None
    assert regional.pinned == []
    assert all(m.name.startswith("Synthetic") for m in regional.municipalities)


def test_ids_are_readable(regional: Instance) -> None:
    assert regional.municipalities[0].id == "m001"
    assert regional.corporations[0].id == "corp01"
    assert regional.complexes[0].id == "cx0001"
    assert regional.units[0].id == "u00001"
    assert regional.clients[0].id == "c00001"


def test_client_proportions(regional: Instance) -> None:
    clients = regional.clients
    sizes = Counter(c.household_size for c in clients)
    assert 0.65 < sizes[1] / len(clients) < 0.75
    groups = Counter(c.target_group for c in clients)
    assert 0.45 < groups["BW"] / len(clients) < 0.55
    assert 0.30 < groups["MO"] / len(clients) < 0.40
    assert 0.70 < share(clients, lambda c: c.max_rent is not None) < 0.90
    assert 0.05 < share(clients, lambda c: c.needs_accessible) < 0.11
    assert 0.07 < share(clients, lambda c: c.excluded_municipalities) < 0.13
    assert 0.03 < share(clients, lambda c: c.refused_units) < 0.07
    waiting = np.mean([regional.waiting_days(c) for c in clients])
    assert 170 < waiting < 230


def test_unit_proportions(regional: Instance) -> None:
    units = regional.units
    assert {u.rooms for u in units} == {1, 2, 3, 4}
    rents = np.array([u.rent for u in units])
    assert 620 < rents.mean() < 690
    assert rents.min() >= 350 and rents.max() <= 1000
    assert 0.12 < share(units, lambda u: u.accessible) < 0.18
    assert 0.07 < share(units, lambda u: u.allowed_groups) < 0.13
    assert all(u.min_occupants <= u.max_occupants for u in units)


def test_limits_bind(regional: Instance) -> None:
    # quotas are scarce against the ready clients: scaled by clients / vacancies
    scarcity = min(1.0, len(regional.clients) / len(regional.units))
    vacancies = Counter(regional.unit_municipality_id(u) for u in regional.units)
    for m in regional.municipalities:
        expected = vacancies[m.id] * scarcity
        assert 0.45 * expected - 1 <= m.quota <= expected + 1
    assert sum(m.quota for m in regional.municipalities) < len(regional.clients)
    per_corporation = Counter(u.corporation_id for u in regional.units)
    for c in regional.corporations:
        assert c.quota is not None
        expected = per_corporation[c.id] * scarcity
        assert 0.55 * expected - 1 <= c.quota <= 0.9 * expected + 1
    rooms = [
        int(regional.mix_share(cx) * cx.units_total + 1e-9) - cx.vulnerable_residents
        for cx in regional.complexes
    ]
    assert 0.1 < share(rooms, lambda r: r <= 0) < 0.4  # some buildings are full ...
    assert share(rooms, lambda r: r > 0) > 0.5  # ... most have a little room
    overrides = [cx.max_vulnerable_share for cx in regional.complexes]
    assert 0.05 < share(overrides, lambda s: s is not None) < 0.15
    assert all(0.25 <= s <= 0.5 for s in overrides if s is not None)


def test_every_client_stays_in_its_region(regional: Instance) -> None:
    region = dict(
        zip(
            (m.id for m in regional.municipalities),
            region_of_municipality(len(regional.municipalities)),
            strict=True,
        )
    )
    assert len(set(region.values())) == 5
    for c in regional.clients:
        assert 1 <= len(c.preferred_municipalities) <= 3
        places = [
            *c.preferred_municipalities,
            *c.excluded_municipalities,
            *(regional.unit_municipality_id(regional.unit(u)) for u in c.refused_units),
        ]
        assert len({region[m] for m in places}) == 1
        assert not set(c.preferred_municipalities) & set(c.excluded_municipalities)


def test_corporations_work_in_one_region(regional: Instance) -> None:
    region = dict(
        zip(
            (m.id for m in regional.municipalities),
            region_of_municipality(len(regional.municipalities)),
            strict=True,
        )
    )
    regions = {}
    for u in regional.units:
        regions.setdefault(u.corporation_id, set()).add(region[regional.unit_municipality_id(u)])
    assert all(len(r) == 1 for r in regions.values())
    municipalities = Counter(
        len({regional.unit_municipality_id(u) for u in regional.units if u.corporation_id == c})
        for c in regions
    )
    assert max(municipalities) > 1  # their quotas cut across municipalities


def test_small_scale_has_clients_without_preferences() -> None:
    small = generate(500, 400, 6, seed=1)
    assert 0.12 < share(small.clients, lambda c: not c.preferred_municipalities) < 0.28


def test_corporation_count_is_respected() -> None:
    assert len(generate(50, 80, 16, seed=2, corporations=5).corporations) == 5
    assert len(generate(50, 80, 16, seed=2, corporations=1).corporations) == 1


def test_pinned_pairs_are_valid() -> None:
    instance = generate(300, 400, 16, seed=5, pinned=10)
    assert len(instance.pinned) == 10
    assert pinned_issues(instance) == []


def test_empty_sides() -> None:
    assert generate(0, 0, 1, seed=0).clients == []
    assert len(generate(5, 0, 3, seed=0).clients) == 5


@pytest.fixture(scope="module")
def owned() -> Instance:
    return generate(1_500, 6_000, 40, seed=2, national_corporations=3)


def test_owned_family_has_regional_and_national_corporations(owned: Instance) -> None:
    muni_region = dict(
        zip(
            [m.id for m in owned.municipalities],
            region_of_municipality(len(owned.municipalities)).tolist(),
            strict=True,
        )
    )
    regions_of = {c.id: set() for c in owned.corporations}
    owners_of_complex: dict[str, set[str]] = {}
    for u in owned.units:
        cx = owned.complex(u.complex_id)
        regions_of[u.corporation_id].add(muni_region[cx.municipality_id])
        owners_of_complex.setdefault(cx.id, set()).add(u.corporation_id)
    # each building has one owner
    assert all(len(o) == 1 for o in owners_of_complex.values())
    n_regions = len(set(muni_region.values()))
    spread = sorted(len(r) for r in regions_of.values())
    assert len(owned.corporations) == 2 * n_regions + 3
    assert spread[-3:] == [n_regions] * 3  # the national ones own buildings everywhere
    assert spread[:-3] == [1] * (2 * n_regions)
    national = {c for c, r in regions_of.items() if len(r) > 1}
    share_national = share(owned.units, lambda u: u.corporation_id in national)
    assert 0.10 < share_national < 0.20


def test_owned_family_quotas_bind(owned: Instance) -> None:
    with_quota = [c for c in owned.corporations if c.quota is not None]
    assert 0.5 < len(with_quota) / len(owned.corporations) < 0.9
    units = Counter(u.corporation_id for u in owned.units)
    clients_share = {c.id: units[c.id] / len(owned.units) * len(owned.clients) for c in with_quota}
    assert all(
        0.3 * clients_share[c.id] - 1 <= c.quota <= 0.9 * clients_share[c.id] + 1
        for c in with_quota
    )


def test_owned_family_is_seeded_and_leaves_the_default_alone() -> None:
    a = generate(300, 1200, 16, seed=5, national_corporations=2)
    assert a == generate(300, 1200, 16, seed=5, national_corporations=2)
    assert generate(300, 1200, 16, seed=5) != a
