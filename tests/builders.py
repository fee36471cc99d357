"""Small hand-made instances: defaults that break no rule, overridden per test."""

from __future__ import annotations

from typing import Any

from allocator.models import Instance


def municipality(id_: str = "m1", quota: int = 10, **kw: Any) -> dict:
    return {"id": id_, "name": id_.upper(), "quota": quota, **kw}


def corporation(id_: str = "k1", **kw: Any) -> dict:
    return {"id": id_, "name": id_.upper(), **kw}


def complex_(id_: str = "cx1", municipality_id: str = "m1", **kw: Any) -> dict:
    return {
        "id": id_,
        "municipality_id": municipality_id,
        "units_total": 100,
        "vulnerable_residents": 0,
        **kw,
    }


def unit(id_: str, complex_id: str = "cx1", corporation_id: str = "k1", **kw: Any) -> dict:
    return {
        "id": id_,
        "complex_id": complex_id,
        "corporation_id": corporation_id,
        "rooms": 2,
        "rent": 600.0,
        "accessible": False,
        "min_occupants": 1,
        "max_occupants": 3,
        **kw,
    }


def client(id_: str, ready_since: str = "2026-01-01", **kw: Any) -> dict:
    return {
        "id": id_,
        "household_size": 1,
        "target_group": "BW",
        "ready_since": ready_since,
        **kw,
    }


def instance(
    clients: list[dict],
    units: list[dict],
    municipalities: list[dict] | None = None,
    corporations: list[dict] | None = None,
    complexes: list[dict] | None = None,
    **kw: Any,
) -> Instance:
    data = {
        "municipalities": municipalities or [municipality()],
        "corporations": corporations or [corporation()],
        "complexes": complexes or [complex_()],
        "units": units,
        "clients": clients,
        "policy": {"reference_date": "2026-11-25", **kw.pop("policy", {})},
        **kw,
    }
    return Instance.model_validate(data)
