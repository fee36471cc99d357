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


# --- ids are each region's own ---------------------------------------------------------------

#: Region 1's (the demo's) ids, made again in a new region with other values.
SAME_IDS = {
    "municipality": "hoorn",
    "corporation": "corp-a",
    "neighbourhood": "hoorn-n1",
    "provider": "support-1",
    "complex": "cx-hoorn-1",
    "vacancy": "WF-U001",
    "client": "WF-C001",
}


def _new_region_through_the_api(client, database_url: str, name: str) -> Keys:
    """A region made by an installation admin, and a key of every role of it."""
    with get_sessionmaker(database_url)() as session:
        _, key = create_key(session, SYSTEM, "the installation's admin", "admin", None, None)
        session.commit()
    r = client.post("/regions", json={"name": name}, headers={"X-API-Key": key})
    assert r.status_code == 201, r.text
    region_id = r.json()["id"]
    r = client.post(
        "/api-keys",
        json={"name": "its admin", "role": "admin", "region_id": region_id},
        headers={"X-API-Key": key},
    )
    admin = {"X-API-Key": r.json()["key"]}
    r = client.post(
        "/corporations", json={"id": SAME_IDS["corporation"], "name": "Other A"}, headers=admin
    )
    assert r.status_code == 201, r.text
    made = {"admin": admin}
    for label, role, corporation in ((C, C, None), (P, P, None), (K, K, "corp-a")):
        body = {"name": label, "role": role, "corporation_id": corporation}
        r = client.post("/api-keys", json=body, headers=admin)
        assert r.status_code == 201, r.text
        made[label] = {"X-API-Key": r.json()["key"]}
    return Keys(corp_b=made[K], **made)


def _created(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_two_regions_hold_the_same_ids_and_never_touch_each_other(client, keys, database_url):
    """Region 1 is the demo; region 2 makes every one of the demo's ids again through the API
    (each a 201, though region 1 has it), with other values. Runs, offers and lets of one
    region then see and change only its own records."""
    ids = SAME_IDS
    theirs = _new_region_through_the_api(client, database_url, "same ids")
    year = dt.date.today().year
    before = _snapshot(database_url, 1)
    town = {"id": ids["municipality"], "name": "Other Hoorn", "quota": 4, "year": year}
    _created(client.post("/municipalities", json=town, headers=theirs.admin))
    _created(
        client.put(
            f"/municipalities/{ids['municipality']}/quotas/{year}",
            json={"quota": 3},
            headers=theirs.coordinator,
        )
    )
    nb = {"id": ids["neighbourhood"], "municipality_id": ids["municipality"], "quota": 2}
    _created(client.post("/neighbourhoods", json=nb, headers=theirs.admin))
    provider = {
        "id": ids["provider"],
        "name": "Other provider",
        "capacity": [{"municipality_id": ids["municipality"], "places": 2}],
    }
    _created(
        client.put(f"/support-providers/{ids['provider']}", json=provider, headers=theirs.admin)
    )
    building = {
        "id": ids["complex"],
        "municipality_id": ids["municipality"],
        "units_total": 10,
        "vulnerable_residents": 0,
        "neighbourhood_id": ids["neighbourhood"],
    }
    _created(client.post("/complexes", json=building, headers=theirs.admin))
    unit = {**VACANCY, "id": ids["vacancy"], "complex_id": ids["complex"], "rent": 321.0}
    _created(client.post("/vacancies", json=[unit], headers=theirs.corporation))
    person = {
        **CLIENT,
        "id": ids["client"],
        "household_size": 2,
        "support_provider_id": ids["provider"],
        "refused_units": ["WF-U002"],
    }
    _created(client.post("/clients", json=person, headers=theirs.coordinator))
    # nothing of region 1 changed; each region reads its own record under the one id
    assert _snapshot(database_url, 1) == before
    mine = client.get(f"/vacancies/{ids['vacancy']}", headers=keys.coordinator).json()
    other = client.get(f"/vacancies/{ids['vacancy']}", headers=theirs.coordinator).json()
    assert (mine["rent"], other["rent"]) == (566.58, 321.0)
    assert (
        client.get(f"/clients/{ids['client']}", headers=keys.coordinator).json()["refused_units"]
        == []
    )
    assert client.get(f"/clients/{ids['client']}", headers=theirs.coordinator).json()[
        "refused_units"
    ] == ["WF-U002"]

    # a run of each region solves only that region's records
    runs = {}
    for label, headers in (("first", keys.coordinator), ("second", theirs.coordinator)):
        run = client.post("/runs", headers=headers).json()
        runs[label] = wait_for_run(client, run["id"], headers)
        assert runs[label]["status"] == "done", runs[label]
    second = client.get(f"/runs/{runs['second']['id']}/input", headers=theirs.coordinator).json()
    assert [u["id"] for u in second["units"]] == [ids["vacancy"]]
    assert second["units"][0]["rent"] == 321.0
    assert [c["id"] for c in second["clients"]] == [ids["client"]]
    assert [m["id"] for m in second["municipalities"]] == [ids["municipality"]]
    assert second["municipalities"][0]["quota"] == 3
    assert second["clients"][0]["refused_units"] == ["WF-U002"]
    assert (runs["first"]["units"], runs["first"]["clients"]) != (1, 1)
    proposal = client.get(
        f"/runs/{runs['second']['id']}/proposal", headers=theirs.coordinator
    ).json()
    assert [(a["client_id"], a["unit_id"]) for a in proposal["assignments"]] == [
        (ids["client"], ids["vacancy"])
    ]

    # region 2 offers its WF-U001 to its WF-C001 and lets it: region 1's are untouched
    offers = client.post(
        f"/runs/{runs['second']['id']}/offers", json={}, headers=theirs.coordinator
    )
    assert offers.status_code == 201, offers.text
    offer_id = offers.json()[0]["id"]
    for step in ("accept", "let"):
        r = client.post(f"/offers/{offer_id}/{step}", json={}, headers=theirs.coordinator)
        assert r.status_code == 200, r.text
    assert (
        client.get(f"/vacancies/{ids['vacancy']}", headers=theirs.coordinator).json()["status"]
        == "let"
    )
    assert (
        client.get(f"/vacancies/{ids['vacancy']}", headers=keys.coordinator).json()["status"]
        == "open"
    )
    assert (
        client.get(f"/clients/{ids['client']}", headers=keys.coordinator).json()["status"]
        == "ready"
    )
    first_building = client.get(f"/complexes/{ids['complex']}", headers=keys.coordinator).json()
    assert first_building["vulnerable_residents"] == 33
    second_building = client.get(f"/complexes/{ids['complex']}", headers=theirs.coordinator).json()
    assert second_building["vulnerable_residents"] == 1
    # and region 1's own run makes its own offers, whatever region 2 did with the same ids
    r = client.post(f"/runs/{runs['first']['id']}/offers", json={}, headers=keys.coordinator)
    assert r.status_code == 201, r.text
    assert r.json() and {o["id"] for o in r.json()}.isdisjoint({offer_id})
    assert (
        client.get(f"/vacancies/{ids['vacancy']}", headers=theirs.coordinator).json()["status"]
        == "let"
    )


def test_an_id_only_the_other_region_has_is_free(client, keys, second_region):
    """Every kind of record: a POST of an id that exists only in the other region is made
    (201); a 409 would tell the caller that the other region has it."""
    _, theirs = second_region
    for path, body, headers in (
        ("/municipalities", {"id": "hoorn", "name": "H", "quota": 1}, theirs.admin),
        ("/corporations", {"id": "corp-b", "name": "B"}, theirs.admin),
        (
            "/neighbourhoods",
            {"id": "hoorn-n1", "municipality_id": "hoorn", "quota": 1},
            theirs.admin,
        ),
        (
            "/complexes",
            {
                "id": "cx-hoorn-1",
                "municipality_id": "hoorn",
                "units_total": 5,
                "vulnerable_residents": 0,
            },
            theirs.admin,
        ),
        (
            "/vacancies",
            [{**VACANCY, "id": "WF-U001", "corporation_id": "corp-b", "complex_id": "cx-hoorn-1"}],
            theirs.coordinator,
        ),
        ("/clients", {**CLIENT, "id": "WF-C001"}, theirs.coordinator),
    ):
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == 201, (path, r.text)
        # made a second time in the same region: taken
        again = client.post(path, json=body, headers=headers)
        assert again.status_code in (409, 422), (path, again.text)


def _answer(response, *ids: str) -> tuple[int, str]:
    """A response with the ids it names blanked: what a caller learns besides its own input."""
    body = response.text
    for i in ids:
        body = body.replace(i, "<id>")
    return response.status_code, body


def _without_times(response) -> tuple[int, object]:
    body = response.json()
    rows = body if isinstance(body, list) else [body]
    for row in rows:
        if isinstance(row, dict):
            row.pop("submitted_at", None)
            row.pop("id", None)
    return response.status_code, body


def test_a_corporation_cannot_tell_another_corporations_vacancy_ids(client, keys):
    """Unit ids are each corporation's own (``service/units.py``): reporting an id another
    corporation of the region uses is answered exactly as reporting an id nobody has (201, it
    is now the corporation's own too); reporting one's own again is the only "already exists";
    reading or withdrawing another's is answered exactly as an id nobody has."""
    own, others, fresh = "WF-U001", "WF-U022", "NOBODY-U9"
    report = {**VACANCY, "corporation_id": "corp-a"}
    again = client.post("/vacancies", json=[{**report, "id": own}], headers=keys.corporation)
    assert again.status_code == 422
    theirs = client.post("/vacancies", json=[{**report, "id": others}], headers=keys.corporation)
    nobodys = client.post("/vacancies", json=[{**report, "id": fresh}], headers=keys.corporation)
    assert theirs.status_code == 201, theirs.text
    assert _without_times(theirs) == _without_times(nobodys)
    for upload_id in ("WF-U023", "NOBODY-U8"):
        csv = "id,complex_id,corporation_id,rooms,rent,max_occupants\n"
        csv += f"{upload_id},cx-hoorn-1,corp-a,2,500,2\n"
        files = {"file": ("v.csv", csv.encode(), "text/csv")}
        r = client.post("/vacancies/upload", files=files, headers=keys.corporation)
        assert r.status_code == 201, r.text
        assert r.json() == {"created": 1, "vacancy_ids": [upload_id]}
    for method, path, body in (
        ("GET", "/vacancies/{}", None),
        ("POST", "/vacancies/{}/withdraw", {"reason": "let elsewhere"}),
    ):
        theirs = client.request(method, path.format("WF-U024"), json=body, headers=keys.corporation)
        nobodys = client.request(
            method, path.format("NOBODY-U7"), json=body, headers=keys.corporation
        )
        assert theirs.status_code == 404
        assert _answer(theirs, "WF-U024") == _answer(nobodys, "NOBODY-U7")
    # nothing of corp-b's vacancies changed
    for unit in (others, "WF-U023", "WF-U024"):
        b = client.get(f"/vacancies/{unit}", headers=keys.corp_b).json()
        assert b["status"] == "open" and b["corporation_id"] == "corp-b"
