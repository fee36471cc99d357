"""A small scenario (two municipalities, short horizon) so the tests stay fast."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

WESTFRIESLAND = Path(__file__).resolve().parents[2] / "scenarios" / "westfriesland.yaml"

SMALL = {
    "name": "small",
    "start": "2026-09-07",
    "horizon_weeks": 20,
    "seeds": [1, 2],
    "region": {
        "yearly_quota": 40,
        "municipalities": [
            {"id": "a", "name": "A", "population": 30000},
            {"id": "b", "name": "B", "population": 10000},
        ],
        "corporations": [
            {"id": "c1", "name": "C1", "yearly_quota": 6},
            {"id": "c2", "name": "C2"},
        ],
        "complexes": [
            {
                "id": "a1",
                "municipality": "a",
                "corporation": "c1",
                "units_total": 30,
                "vulnerable_residents": 6,
            },
            {
                "id": "a2",
                "municipality": "a",
                "corporation": "c2",
                "units_total": 20,
                "vulnerable_residents": 5,
            },
            {
                "id": "b1",
                "municipality": "b",
                "corporation": "c2",
                "units_total": 25,
                "vulnerable_residents": 5,
            },
        ],
    },
    "clients": {"per_week": 1.5, "initial_backlog": 8},
    "vacancies": {
        "open_weeks": 3,
        "streams": [
            {"municipality": "a", "corporation": "c1", "per_week": 0.8},
            {"municipality": "a", "corporation": "c2", "per_week": 0.5},
            {"municipality": "b", "corporation": "c2", "per_week": 0.6},
        ],
    },
    "offers": {"accept_probability": 0.8, "leave_after_refusals": 3},
    "variants": [
        {"name": "tight mix", "set": {"policy.max_vulnerable_share": 0.25}},
        {"name": "more quota", "scale": {"region.yearly_quota": 1.5}},
    ],
    "sweep": {"clients.per_week": [1.0, 2.0]},
}


@pytest.fixture
def small_data() -> dict:
    return copy.deepcopy(SMALL)


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL), encoding="utf-8")
    return path
