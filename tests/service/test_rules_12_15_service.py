"""Rules 12-15 in the service: stored, served, set up, uploaded, and handed to the optimiser."""

from __future__ import annotations

import json
from pathlib import Path

from allocator.io import read_instance
from tests.service.helpers import wait_for_run

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "westfriesland" / "instance.json"


def test_the_demo_rules_go_into_a_run_as_they_came_in(client, keys):
    demo = read_instance(DEMO)
    r = client.post("/runs", json={}, headers=keys.coordinator)
    assert r.status_code in (201, 202), r.text
    run = wait_for_run(client, r.json()["id"], keys.coordinator)
    assert run["status"] == "done", run
    used = client.get(f"/runs/{run['id']}/input", headers=keys.coordinator).json()
    sent = used.get("instance", used)
    assert sent["neighbourhoods"] == [
        json.loads(nb.model_dump_json()) for nb in sorted(demo.neighbourhoods, key=lambda n: n.id)
    ]
    assert [p["id"] for p in sent["support_providers"]] == ["support-1", "support-2"]
    by_id = {c["id"]: c for c in sent["complexes"]}
    assert by_id["cx-hoorn-mm"]["group_max_share"] == {"BW": 0.25, "jeugd": 0.25}
    assert by_id["cx-hoorn-1"]["staircase_vulnerable_residents"]["p1"] == 2
    providers = {c.id: c.support_provider_id for c in demo.clients}
    assert all(c["support_provider_id"] == providers[c["id"]] for c in sent["clients"])
    proposal = client.get(f"/runs/{run['id']}/proposal", headers=keys.coordinator).json()
    assert {s["rule"] for s in proposal["summaries"]["limits"]} == {12, 13, 14, 15}


def test_set_up_neighbourhoods_providers_and_complex_fields(client, keys):
    admin, coordinator = keys.admin, keys.coordinator
    nb = {"id": "hoorn-n9", "municipality_id": "hoorn", "quota": 2, "name": "Hoorn, nb 9"}
    assert client.post("/neighbourhoods", json=nb, headers=admin).status_code == 201
    assert client.post("/neighbourhoods", json=nb, headers=admin).status_code == 409
    bad = {**nb, "id": "x", "quota": -1}
    assert client.post("/neighbourhoods", json=bad, headers=admin).status_code == 422
    # a complex in Medemblik cannot lie in a Hoorn neighbourhood
    r = client.patch(
        "/complexes/cx-medemblik-2", json={"neighbourhood_id": "hoorn-n9"}, headers=coordinator
    )
    assert r.status_code == 422 and "hoorn" in r.text
    r = client.patch(
        "/complexes/cx-hoorn-3",
        json={
            "neighbourhood_id": "hoorn-n9",
            "group_max_share": {"MO": 0.2},
            "group_residents": {"MO": 3},
        },
        headers=coordinator,
    )
    assert r.status_code == 200, r.text
    assert r.json()["group_max_share"] == {"MO": 0.2}
    r = client.patch(
        "/complexes/cx-hoorn-3", json={"group_residents": {"BW": 1}}, headers=coordinator
    )
    assert r.status_code == 422  # BW has no share set in this complex
    provider = {
        "id": "support-9",
        "name": "Support provider 9",
        "capacity": [{"municipality_id": "hoorn", "places": 2}],
    }
    r = client.put("/support-providers/support-9", json=provider, headers=coordinator)
    assert r.status_code == 200 and r.json()["capacity"][0]["places"] == 2
    negative = {**provider, "capacity": [{"municipality_id": "hoorn", "places": -1}]}
    assert (
        client.put("/support-providers/support-9", json=negative, headers=admin).status_code == 422
    )
    nowhere = {**provider, "capacity": [{"municipality_id": "atlantis", "places": 1}]}
    assert (
        client.put("/support-providers/support-9", json=nowhere, headers=admin).status_code == 422
    )
    # a client with that provider; an unknown provider is refused
    person = {
        "id": "NEW-C9",
        "household_size": 1,
        "target_group": "MO",
        "ready_since": "2020-01-01",
        "support_provider_id": "support-9",
    }
    r = client.post("/clients", json=person, headers=coordinator)
    assert r.status_code == 201 and r.json()["support_provider_id"] == "support-9"
    r = client.post(
        "/clients",
        json={**person, "id": "NEW-C10", "support_provider_id": "nobody"},
        headers=coordinator,
    )
    assert r.status_code == 422 and "support_provider_id" in r.text
    # everything reaches the optimiser's instance
    run = client.post("/runs", json={}, headers=coordinator).json()
    wait_for_run(client, run["id"], coordinator)
    sent = client.get(f"/runs/{run['id']}/input", headers=coordinator).json()
    sent = sent.get("instance", sent)
    assert {"id": "hoorn-n9", "municipality_id": "hoorn", "name": "Hoorn, nb 9", "quota": 2} in (
        sent["neighbourhoods"]
    )
    assert any(p["id"] == "support-9" for p in sent["support_providers"])
    assert next(c for c in sent["clients"] if c["id"] == "NEW-C9")["support_provider_id"] == (
        "support-9"
    )


def test_a_vacancy_upload_may_name_its_staircase(client, keys):
    corp = keys.corporation
    csv = (
        "id,complex_id,corporation_id,rooms,rent,max_occupants,staircase_id\n"
        "UP-S1,cx-hoorn-1,corp-a,2,600,2,p3\n"
    )
    r = client.post(
        "/vacancies/upload", files={"file": ("v.csv", csv.encode(), "text/csv")}, headers=corp
    )
    assert r.status_code == 201, r.text
    v = client.get("/vacancies/UP-S1", headers=corp).json()
    assert v["staircase_id"] == "p3"
