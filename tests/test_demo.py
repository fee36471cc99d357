"""The Westfriesland demo: its three files hold one valid instance, the one make_demo builds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from allocator.io import read_instance
from allocator.models import Instance
from allocator.validator import pinned_issues

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "westfriesland"


@pytest.fixture(scope="module")
def make_demo():
    spec = importlib.util.spec_from_file_location("make_demo", DEMO / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo() -> Instance:
    return read_instance(DEMO / "instance.json")


def test_three_files_hold_the_same_instance(demo: Instance) -> None:
    assert read_instance(DEMO / "csv") == demo
    assert read_instance(DEMO / "instance.xlsx") == demo


def test_files_are_what_make_demo_builds(demo: Instance, make_demo) -> None:
    assert make_demo.build_instance() == demo


def test_seven_municipalities_within_the_yearly_quota(demo: Instance) -> None:
    assert sorted(m.name for m in demo.municipalities) == [
        "Drechterland", "Enkhuizen", "Hoorn", "Koggenland", "Medemblik", "Opmeer", "Stede Broec",
    ]  # fmt: skip
    assert all(m.population for m in demo.municipalities)
    assert sum(m.quota for m in demo.municipalities) <= 100


def test_yearly_quota_split_by_largest_remainder(make_demo) -> None:
    assert make_demo.yearly_shares() == {
        "drechterland": 9, "enkhuizen": 9, "hoorn": 34, "koggenland": 11, "medemblik": 22,
        "opmeer": 5, "stede-broec": 10,
    }  # fmt: skip
    assert make_demo.largest_remainder(10, [1, 1, 1]) == [4, 3, 3]


def test_shape(demo: Instance) -> None:
    assert len(demo.corporations) == 5
    assert len(demo.complexes) == 15
    assert len(demo.units) == 60
    assert len(demo.clients) == 80
    assert any(c.max_vulnerable_share == 0.5 for c in demo.complexes)
    assert sum(1 for c in demo.clients if c.refused_units) >= 3
    assert str(demo.policy.reference_date) == "2026-11-25"


def test_pinned_pairs_are_valid(demo: Instance) -> None:
    assert len(demo.pinned) == 2
    assert pinned_issues(demo) == []


def test_rules_12_to_15_are_in_play_and_bind(demo: Instance) -> None:
    from allocator.explain import propose

    mm = demo.complex("cx-hoorn-mm")
    assert mm.group_max_share and mm.max_vulnerable_per_staircase is not None
    assert len(demo.neighbourhoods) >= 3 and len(demo.support_providers) == 2
    assert sum(1 for c in demo.clients if c.support_provider_id) >= 40
    proposal = propose(demo)
    codes = {r.code for u in proposal.unplaced for r in u.reasons}
    assert {"staircase", "neighbourhood_quota", "support_places"} <= codes
    # the Magic Mix project's BW share is full before the run: BW clients are told so
    texts = " ".join(r.message for u in proposal.unplaced for r in u.reasons)
    assert "the share of group BW in Hoorn, Magic Mix-project is full: 10 of 10" in texts
    assert {s.rule for s in proposal.summaries.limits} == {12, 13, 14, 15}
