"""Two regions in one database: every operation, with a key of every role of one region, on
the ids of the other region. Nothing of the other region is read or changed: an id of the other
region is an id that does not exist (404), lists hold only the caller's own region, and the
other region's rows and audit trail are the same before and after.

Also: only an installation admin makes regions; a region's admin makes keys of its own region.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from allocator.generator import generate
from service import tables as t
from service.audit import SYSTEM
from service.db import get_sessionmaker
from service.routers.keys import create_key
from service.seed import load_region
from tests.service.helpers import Keys, wait_for_run
from tests.service.test_api import CLIENT, VACANCY
from tests.service.test_roles import ALLOWED, PUBLIC, _routes
from tests.service.test_scenario_runs import tiny, wait_for

C, K, P, A = "coordinator", "corporation", "planner", "admin"
SCOPED = (
    t.Municipality,
    t.Corporation,
    t.Complex,
    t.Vacancy,
    t.Client,
    t.Refusal,
    t.Run,
    t.ScenarioRun,
    t.Offer,
    t.AuditEvent,
    t.ApiKey,
)


def _keys_of(database_url: str, region_id: int, corporation: str) -> Keys:
    made = {}
    with get_sessionmaker(database_url)() as session:
        for label, role, corp in (
            (C, C, None),
            (P, P, None),
            (A, A, None),
            (K, K, corporation),
            ("corp_b", K, corporation),
        ):
            _, key = create_key(session, SYSTEM, f"{label} of {region_id}", role, corp, region_id)
            made[label] = {"X-API-Key": key}
        session.commit()
    return Keys(**made)


@pytest.fixture
def second_region(client, database_url) -> tuple[int, Keys]:
    with get_sessionmaker(database_url)() as session:
        region = generate(30, 20, 3, 7, reference_date=dt.date.today())
        region_id = load_region(session, region, name="second region")
        session.commit()
    return region_id, _keys_of(database_url, region_id, "corp01")


def _snapshot(database_url: str, region_id: int) -> dict:
    """Every row of the region, as it is stored."""
    with get_sessionmaker(database_url)() as session:
        return {
            table.__tablename__: sorted(
                (
                    tuple(
                        str(getattr(row, c.key))
                        for c in table.__table__.columns
                        if c.key not in ("lease_expires_at", "worker_token")
                    )
                    for row in session.scalars(select(table).where(table.region_id == region_id))
                ),
            )
            for table in SCOPED
        } | {"policy": str(session.get(t.RegionPolicy, region_id).__dict__.get("name"))}


def _ids_of(database_url: str, region_id: int) -> set[str]:
    with get_sessionmaker(database_url)() as session:
        return {
            row_id
            for table in (t.Municipality, t.Corporation, t.Complex, t.Vacancy, t.Client)
            for row_id in session.scalars(select(table.id).where(table.region_id == region_id))
        }


def _things_of_the_first_region(client, keys) -> dict[str, str]:
    """Real ids of region 1, one of each kind, for the paths."""
    run = client.post("/runs", headers=keys.coordinator).json()
    assert wait_for_run(client, run["id"], keys.coordinator)["status"] == "done"
    simulation = client.post("/scenario-runs", json={"scenario": tiny()}, headers=keys.planner)
    assert wait_for(client, simulation.json()["id"], keys.planner)["status"] == "done"
    offers = client.get("/offers", headers=keys.coordinator).json()
    own_keys = client.get("/api-keys", headers=keys.admin).json()
    return {
        "municipality_id": "hoorn",
        "year": str(dt.date.today().year),
        "complex_id": "cx-hoorn-1",
        "vacancy_id": "WF-U001",
        "client_id": "WF-C001",
        "run_id": str(run["id"]),
        "offer_id": str(offers[0]["id"]),
        "key_id": str(own_keys[0]["id"]),
        "name": "backlog",
        "scenario_run_id": str(simulation.json()["id"]),
        "provider_id": "support-1",
    }


BODIES = {
    ("POST", "/vacancies"): [VACANCY],
    ("POST", "/vacancies/{vacancy_id}/withdraw"): {"reason": "let elsewhere"},
    ("POST", "/clients"): {**CLIENT, "id": "R2-C1"},
    ("PATCH", "/clients/{client_id}"): {"household_size": 2},
    ("POST", "/clients/{client_id}/withdraw"): {"reason": "moved"},
    ("POST", "/offers"): {"client_id": "WF-C001", "unit_id": "WF-U001"},
    ("POST", "/offers/{offer_id}/refuse"): {"reason": "no"},
    ("POST", "/runs/{run_id}/offers"): {},
    ("PUT", "/municipalities/{municipality_id}/quotas/{year}"): {"quota": 5},
    ("PATCH", "/complexes/{complex_id}"): {"units_total": 500},
    ("POST", "/municipalities"): {"id": "r2-town", "name": "Town", "quota": 1},
    ("POST", "/corporations"): {"id": "r2-corp", "name": "Corp"},
    (
        "POST",
        "/complexes",
    ): {"id": "r2-cx", "municipality_id": "hoorn", "units_total": 10, "vulnerable_residents": 0},
    ("PUT", "/policy"): {"name": "second region's policy"},
    ("POST", "/scenarios"): {"quotas": {"hoorn": 3}},
    ("POST", "/scenario-runs"): {"scenario": tiny()},
    ("POST", "/api-keys"): {"name": "x", "role": "corporation", "corporation_id": "corp-a"},
    ("POST", "/regions"): {"name": "third"},
    ("POST", "/neighbourhoods"): {"id": "r2-nb", "municipality_id": "hoorn", "quota": 1},
    ("PUT", "/support-providers/{provider_id}"): {
        "id": "support-1",
        "name": "Provider",
        "capacity": [{"municipality_id": "hoorn", "places": 1}],
    },
}


#: PUT that creates what it names when the caller's region has no such record.
UPSERTS = {("PUT", "/support-providers/{provider_id}")}


def test_every_operation_with_every_role_stays_in_its_region(client, keys, second_region):
    url = client.app.state.settings.database_url
    region_id, theirs = second_region
    things = _things_of_the_first_region(client, keys)
    before = _snapshot(url, 1)
    first_ids = _ids_of(url, 1)
    assert first_ids and not first_ids & _ids_of(url, region_id)
    for method, path in _routes(client):
        if (method, path) in PUBLIC:
            continue
        ids = dict(things)
        if path.startswith("/scenario-runs/{run_id}"):
            ids["run_id"] = things["scenario_run_id"]
        target = path.format(**ids)
        names_an_id = "{" in path.replace("{name}", "")
        for role in (C, K, P, A):
            body = BODIES.get((method, path))
            kwargs = {"json": body} if body is not None or method in ("PUT", "PATCH") else {}
            if path == "/vacancies/upload":
                csv = "id,complex_id,corporation_id,rooms,rent,max_occupants\n"
                csv += "R2-U1,cx-hoorn-1,corp-a,2,500,2\n"
                kwargs = {"files": {"file": ("v.csv", csv.encode(), "text/csv")}}
            r = client.request(method, target, headers=theirs.of(role), **kwargs)
            where = (role, method, target, r.status_code, r.text[:300])
            assert r.status_code != 500, where
            if role not in ALLOWED[(method, path)]:
                assert r.status_code == 403, where
            elif (method, path) in UPSERTS:
                # creates the id in the caller's region or refuses: region 1 stays as it was
                assert r.status_code in (404, 409, 422), where
            elif names_an_id:
                assert r.status_code == 404, where  # another region's id does not exist
            elif r.is_success:
                leaked = {i for i in first_ids if f'"{i}"' in r.text}
                assert not leaked, (where, leaked)
    assert _snapshot(url, 1) == before


def test_lists_and_aggregates_hold_only_the_callers_region(client, keys, second_region):
    _, theirs = second_region
    for path, field in (("/vacancies", "id"), ("/clients", "id"), ("/municipalities", "id")):
        mine = {row[field] for row in client.get(path, headers=keys.coordinator).json()}
        other = {row[field] for row in client.get(path, headers=theirs.coordinator).json()}
        assert mine and other and not mine & other
    totals = client.get("/aggregates", headers=theirs.coordinator).json()
    assert sum(totals["clients_by_status"].values()) == 30
    assert sum(totals["vacancies_by_status"].values()) == 20
    assert [r["name"] for r in client.get("/regions", headers=theirs.planner).json()] == [
        "second region"
    ]


def test_only_an_installation_admin_makes_regions_and_keys_of_any_region(
    client, keys, database_url, second_region
):
    region_id, theirs = second_region
    with get_sessionmaker(database_url)() as session:
        _, key = create_key(session, SYSTEM, "the installation's admin", "admin", None, None)
        session.commit()
    root = {"X-API-Key": key}
    assert client.post("/regions", json={"name": "third"}, headers=keys.admin).status_code == 403
    r = client.post("/regions", json={"name": "third"}, headers=root)
    assert r.status_code == 201, r.text
    third = r.json()["id"]
    assert {x["name"] for x in client.get("/regions", headers=root).json()} == {
        "Westfriesland (demo)",
        "second region",
        "third",
    }
    # an installation admin reads no region's data
    assert client.get("/municipalities", headers=root).status_code == 403
    # it makes the new region's admin, who sets the region up
    r = client.post(
        "/api-keys",
        json={"name": "third's admin", "role": "admin", "region_id": third},
        headers=root,
    )
    assert r.status_code == 201, r.text
    admin3 = {"X-API-Key": r.json()["key"]}
    r = client.post("/municipalities", json={"id": "t3", "name": "T", "quota": 2}, headers=admin3)
    assert r.status_code == 201, r.text
    assert [m["id"] for m in client.get("/municipalities", headers=admin3).json()] == ["t3"]
    # a region's admin makes keys of its own region only, and sees only those
    r = client.post(
        "/api-keys",
        json={"name": "x", "role": "planner", "region_id": region_id},
        headers=keys.admin,
    )
    assert r.status_code == 404
    listed = client.get("/api-keys", headers=theirs.admin).json()
    assert listed and {k["region_id"] for k in listed} == {region_id}
