"""The service through TestClient: the coordinator's day, offers and their rules, problems."""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import update

from service import tables as t
from service.db import get_sessionmaker
from tests.service.helpers import wait_for_run

VACANCY = {
    "id": "NEW-U1",
    "complex_id": "cx-hoorn-1",
    "corporation_id": "corp-a",
    "rooms": 2,
    "rent": 600.0,
    "accessible": True,
    "min_occupants": 1,
    "max_occupants": 2,
}
CLIENT = {
    "id": "NEW-C1",
    "household_size": 1,
    "max_rent": 700,
    "needs_accessible": False,
    "preferred_municipalities": ["hoorn"],
    "target_group": "BW",
    "ready_since": "2020-01-01",
    "income_bracket": "below_income_limit",
    "support": True,
    "support_contact": "begeleider@example.org",
}


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def test_the_demo_region_is_loaded_into_an_empty_database(client, keys):
    municipalities = client.get("/municipalities", headers=keys.coordinator).json()
    assert {m["id"] for m in municipalities} >= {"hoorn", "enkhuizen", "medemblik"}
    hoorn = next(m for m in municipalities if m["id"] == "hoorn")
    assert hoorn["year"] == dt.date.today().year and hoorn["quota"] == 12
    assert len(client.get("/vacancies", headers=keys.coordinator).json()) == 60
    clients = client.get("/clients", headers=keys.coordinator).json()
    assert len(clients) == 80
    # the demo's pinned pairs are accepted offers, and count toward the quota
    accepted = client.get("/offers?status=accepted", headers=keys.coordinator).json()
    assert {(o["client_id"], o["unit_id"]) for o in accepted} == {
        ("WF-C062", "WF-U057"),
        ("WF-C066", "WF-U007"),
    }
    assert sum(m["accepted"] for m in municipalities) == 2


def test_the_coordinators_day(client, keys):
    coordinator, corp = keys.coordinator, keys.corporation
    # a corporation reports a vacancy as JSON, and two by upload
    r = client.post("/vacancies", json=[VACANCY], headers=corp)
    assert r.status_code == 201, r.text
    csv = (
        "id,complex_id,corporation_id,rooms,rent,accessible,max_occupants,allowed_groups\n"
        "NEW-U2,cx-hoorn-1,corp-a,2,610,ja,2,\n"
        "NEW-U3,cx-hoorn-2,corp-a,3,650,nee,3,BW;MO\n"
    )
    r = client.post(
        "/vacancies/upload", files={"file": ("v.csv", csv.encode(), "text/csv")}, headers=corp
    )
    assert r.status_code == 201, r.text
    assert r.json()["vacancy_ids"] == ["NEW-U2", "NEW-U3"]
    # the coordinator registers a client
    r = client.post("/clients", json=CLIENT, headers=coordinator)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "ready"

    # a run over every ready client and open vacancy
    r = client.post("/runs", json={"time_limit_seconds": 20}, headers=coordinator)
    assert r.status_code == 202, r.text
    run = wait_for_run(client, r.json()["id"], coordinator)
    assert run["status"] == "done", run
    assert len(run["input_hash"]) == 64 and "ortools" in run["solver_version"]
    assert run["requested_by"] == "test coordinator" and run["solver_settings"]["method"] == "auto"
    proposal = client.get(f"/runs/{run['id']}/proposal", headers=coordinator).json()
    lines = [a for a in proposal["assignments"] if not a["pinned"]]
    assert lines and all(a["explanation"] for a in lines)
    pinned = {(a["client_id"], a["unit_id"]) for a in proposal["assignments"] if a["pinned"]}
    assert ("WF-C062", "WF-U057") in pinned
    # the stored input reproduces the run exactly
    instance = client.get(f"/runs/{run['id']}/input", headers=coordinator).json()
    assert len(instance["clients"]) == run["clients"]

    # offer two chosen lines
    first, second = lines[0], lines[1]
    r = client.post(
        f"/runs/{run['id']}/offers",
        json={"client_ids": [first["client_id"], second["client_id"]]},
        headers=coordinator,
    )
    assert r.status_code == 201, r.text
    offer_a, offer_b = r.json()
    assert (
        client.get(f"/clients/{first['client_id']}", headers=coordinator).json()["status"]
        == "proposed"
    )
    # the same unit cannot be offered twice
    is_problem(
        client.post(
            "/offers",
            json={"client_id": CLIENT["id"], "unit_id": first["unit_id"]},
            headers=coordinator,
        ),
        409,
    )

    # the first client accepts, the second refuses
    r = client.post(f"/offers/{offer_a['id']}/accept", headers=coordinator)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    r = client.post(
        f"/offers/{offer_b['id']}/refuse", json={"reason": "too far away"}, headers=coordinator
    )
    assert r.status_code == 200 and r.json()["status"] == "refused"
    refused = client.get(f"/clients/{second['client_id']}", headers=coordinator).json()
    assert refused["status"] == "ready" and second["unit_id"] in refused["refused_units"]
    # answering twice is a conflict
    is_problem(client.post(f"/offers/{offer_a['id']}/accept", headers=coordinator), 409)

    # run again: the accepted offer is pinned, the refused unit never goes to that client
    r = client.post("/runs", json={}, headers=coordinator)
    run2 = wait_for_run(client, r.json()["id"], coordinator)
    assert run2["status"] == "done", run2
    proposal2 = client.get(f"/runs/{run2['id']}/proposal", headers=coordinator).json()
    pairs2 = {(a["client_id"], a["unit_id"]): a["pinned"] for a in proposal2["assignments"]}
    assert pairs2[(first["client_id"], first["unit_id"])] is True
    assert (second["client_id"], second["unit_id"]) not in pairs2
    assert run2["input_hash"] != run["input_hash"]
    # offering the refused unit by hand breaks rule 6
    body = is_problem(
        client.post(
            "/offers",
            json={"client_id": second["client_id"], "unit_id": second["unit_id"]},
            headers=coordinator,
        ),
        422,
    )
    assert "rule 6" in body["errors"][0]["message"]

    # the lease is signed: housed, let, and the quota shows it
    muni = first["municipality_id"]
    before = client.get(f"/municipalities/{muni}", headers=coordinator).json()
    r = client.post(f"/offers/{offer_a['id']}/let", headers=coordinator)
    assert r.status_code == 200 and r.json()["status"] == "let"
    assert (
        client.get(f"/clients/{first['client_id']}", headers=coordinator).json()["status"]
        == "housed"
    )
    assert (
        client.get(f"/vacancies/{first['unit_id']}", headers=coordinator).json()["status"] == "let"
    )
    after = client.get(f"/municipalities/{muni}", headers=coordinator).json()
    assert after["used"] == before["used"] and after["let"] == before["let"] + 1

    # history and the audit trail say who did what
    history = client.get(f"/clients/{first['client_id']}/history", headers=coordinator).json()
    actions = [e["action"] for e in history]
    for action in (
        "client.proposed",
        "offer.created",
        "offer.accepted",
        "offer.let",
        "client.housed",
    ):
        assert action in actions
    trail = client.get("/audit?entity=offer", headers=coordinator).json()
    refusal = next(e for e in trail if e["action"] == "offer.refused")
    assert refusal["actor"] == "test coordinator" and refusal["details"]["reason"] == "too far away"
    vacancy_events = client.get("/audit?entity=vacancy&entity_id=NEW-U1", headers=coordinator)
    assert vacancy_events.json()[0]["actor"] == "test corporation"


def test_offer_lines_changed_by_hand_are_checked(client, keys):
    coordinator = keys.coordinator
    run = wait_for_run(client, client.post("/runs", headers=coordinator).json()["id"], coordinator)
    proposal = client.get(f"/runs/{run['id']}/proposal", headers=coordinator).json()
    line = next(a for a in proposal["assignments"] if not a["pinned"])
    # a 5-person household is not allowed in this unit: rule 2 (and the line is unchanged)
    client.post("/clients", json={**CLIENT, "id": "BIG", "household_size": 9}, headers=coordinator)
    body = is_problem(
        client.post(
            f"/runs/{run['id']}/offers",
            json={"client_ids": [], "changes": [{"client_id": "BIG", "unit_id": line["unit_id"]}]},
            headers=coordinator,
        ),
        422,
    )
    assert "rule 2" in body["errors"][0]["message"]
    assert client.get("/offers?status=proposed", headers=coordinator).json() == []
    # all lines at once
    r = client.post(f"/runs/{run['id']}/offers", json={}, headers=coordinator)
    assert r.status_code == 201, r.text
    assert len(r.json()) == len([a for a in proposal["assignments"] if not a["pinned"]])
    # a second time: every client is already proposed
    is_problem(client.post(f"/runs/{run['id']}/offers", json={}, headers=coordinator), 409)


def test_offers_expire_after_the_configured_days(client, keys, settings):
    coordinator = keys.coordinator
    client.post("/vacancies", json=[VACANCY], headers=coordinator)
    client.post("/clients", json=CLIENT, headers=coordinator)
    offer = client.post(
        "/offers", json={"client_id": CLIENT["id"], "unit_id": VACANCY["id"]}, headers=coordinator
    ).json()
    created = dt.datetime.fromisoformat(offer["created_at"])
    expires = dt.datetime.fromisoformat(offer["expires_at"])
    assert (expires - created).days == settings.offer_expiry_days
    with get_sessionmaker(settings.database_url)() as session:
        session.execute(
            update(t.Offer)
            .where(t.Offer.id == offer["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        session.commit()
    assert client.get(f"/offers/{offer['id']}", headers=coordinator).json()["status"] == "expired"
    assert client.get(f"/clients/{CLIENT['id']}", headers=coordinator).json()["status"] == "ready"
    is_problem(client.post(f"/offers/{offer['id']}/accept", headers=coordinator), 409)


def test_withdrawing_a_vacancy_withdraws_its_offer(client, keys):
    client.post("/vacancies", json=[VACANCY], headers=keys.corporation)
    client.post("/clients", json=CLIENT, headers=keys.coordinator)
    offer = client.post(
        "/offers",
        json={"client_id": CLIENT["id"], "unit_id": VACANCY["id"]},
        headers=keys.coordinator,
    ).json()
    r = client.post(
        f"/vacancies/{VACANCY['id']}/withdraw",
        json={"reason": "let through the waiting list"},
        headers=keys.corporation,
    )
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (
        client.get(f"/offers/{offer['id']}", headers=keys.coordinator).json()["status"]
        == "withdrawn"
    )
    assert (
        client.get(f"/clients/{CLIENT['id']}", headers=keys.coordinator).json()["status"] == "ready"
    )


def test_clients_are_withdrawn_and_changed(client, keys):
    coordinator = keys.coordinator
    client.post("/clients", json=CLIENT, headers=coordinator)
    r = client.patch(f"/clients/{CLIENT['id']}", json={"household_size": 2}, headers=coordinator)
    assert r.status_code == 200 and r.json()["household_size"] == 2
    body = is_problem(
        client.patch(
            f"/clients/{CLIENT['id']}",
            json={"excluded_municipalities": ["hoorn"]},
            headers=coordinator,
        ),
        422,
    )
    assert "both preferred and excluded" in str(body["errors"])
    r = client.post(
        f"/clients/{CLIENT['id']}/withdraw", json={"reason": "found a home"}, headers=coordinator
    )
    assert r.json()["status"] == "withdrawn"
    history = client.get(f"/clients/{CLIENT['id']}/history", headers=coordinator).json()
    assert [e["action"] for e in history] == [
        "client.registered",
        "client.changed",
        "client.withdrawn",
    ]


def test_bad_input_is_a_problem_never_a_500(client, keys):
    coordinator = keys.coordinator
    body = is_problem(client.post("/clients", json={"id": "X"}, headers=coordinator), 422)
    assert any("household_size" in e["location"] for e in body["errors"])
    is_problem(
        client.post(
            "/clients",
            content=b"{not json",
            headers={**coordinator, "content-type": "application/json"},
        ),
        422,
    )
    body = is_problem(
        client.post(
            "/clients",
            json={**CLIENT, "preferred_municipalities": ["atlantis"]},
            headers=coordinator,
        ),
        422,
    )
    assert body["errors"][0]["field"] == "preferred_municipalities"
    client.post("/clients", json=CLIENT, headers=coordinator)
    is_problem(client.post("/clients", json=CLIENT, headers=coordinator), 409)
    is_problem(client.get("/clients/nobody", headers=coordinator), 404)
    is_problem(client.get("/runs/not-a-number", headers=coordinator), 422)
    is_problem(client.get("/nowhere", headers=coordinator), 404)
    is_problem(client.delete("/clients", headers=coordinator), 405)
    is_problem(client.get("/clients"), 401)
    is_problem(client.get("/clients", headers={"X-API-Key": "alk_wrong"}), 401)
    # a vacancy in a building that does not exist
    body = is_problem(
        client.post("/vacancies", json=[{**VACANCY, "complex_id": "nope"}], headers=coordinator),
        422,
    )
    assert body["errors"][0]["field"] == "complex_id"


def test_upload_problems_name_line_and_column(client, keys, settings):
    corp = keys.corporation
    csv = (
        "id,complex_id,corporation_id,rooms,rent,accessible,max_occupants\n"
        "U-A,cx-hoorn-1,corp-a,two,610,ja,2\n"
        "U-B,cx-hoorn-1,corp-a,2,-5,misschien,2\n"
    )
    body = is_problem(
        client.post(
            "/vacancies/upload", files={"file": ("v.csv", csv.encode(), "text/csv")}, headers=corp
        ),
        422,
    )
    where = {(e["row"], e["field"]) for e in body["errors"]}
    assert ("U-A (line 2)", "rooms") in where
    assert ("U-B (line 3)", "rent") in where and ("U-B (line 3)", "accessible") in where
    body = is_problem(
        client.post(
            "/vacancies/upload",
            files={"file": ("v.csv", b"id,colour\nx,red\n", "text/csv")},
            headers=corp,
        ),
        422,
    )
    messages = {e["message"].split(" (")[0] for e in body["errors"]}
    assert {"missing column", "unknown column"} <= messages
    is_problem(
        client.post(
            "/vacancies/upload",
            files={"file": ("v.pdf", b"%PDF", "application/pdf")},
            headers=corp,
        ),
        415,
    )
    big = b"id\n" + b"x" * (settings.max_upload_bytes + 10)
    is_problem(
        client.post("/vacancies/upload", files={"file": ("v.csv", big, "text/csv")}, headers=corp),
        413,
    )
    # nothing of the failed uploads was stored
    assert client.get("/vacancies/U-A", headers=corp).status_code == 404


def test_xlsx_upload(client, keys):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "vacancies"
    sheet.append(
        ["id", "complex_id", "corporation_id", "rooms", "rent", "accessible", "max_occupants"]
    )
    sheet.append(["X-1", "cx-hoorn-1", "corp-a", 2, 640.5, True, 2])
    buffer = io.BytesIO()
    book.save(buffer)
    r = client.post(
        "/vacancies/upload",
        files={"file": ("v.xlsx", buffer.getvalue(), "application/octet-stream")},
        headers=keys.corporation,
    )
    assert r.status_code == 201, r.text
    vacancy = client.get("/vacancies/X-1", headers=keys.corporation).json()
    assert vacancy["rent"] == 640.5 and vacancy["accessible"] is True


def test_request_and_instance_size_limits(database_url, keys):
    from fastapi.testclient import TestClient

    from service.main import create_app
    from service.settings import Settings

    small = Settings(database_url=database_url, max_instance_clients=5, max_request_bytes=4096)
    with TestClient(create_app(small)) as limited:
        body = is_problem(limited.post("/runs", headers=keys.coordinator), 422)
        assert "MAX_INSTANCE_CLIENTS" in body["detail"]
        is_problem(limited.post("/vacancies", json=[VACANCY] * 50, headers=keys.coordinator), 413)


def test_cancel_a_queued_or_running_run(client, keys):
    coordinator = keys.coordinator
    run = client.post("/runs", json={"method": "cp-sat"}, headers=coordinator).json()
    r = client.post(f"/runs/{run['id']}/cancel", headers=coordinator)
    if r.status_code == 409:  # it was quicker than us
        assert client.get(f"/runs/{run['id']}", headers=coordinator).json()["status"] == "done"
    else:
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        # a late worker never overwrites a cancelled run
        assert wait_for_run(client, run["id"], coordinator)["status"] == "cancelled"
        is_problem(client.get(f"/runs/{run['id']}/proposal", headers=coordinator), 409)


def test_planner_gets_scenarios_and_aggregates_without_personal_data(client, keys):
    planner = keys.planner
    r = client.post("/scenarios", json={"quotas": {"hoorn": 30}}, headers=planner)
    assert r.status_code == 202, r.text
    deadline_run = wait_for_run(client, r.json()["id"], keys.coordinator)
    assert deadline_run["status"] == "done"
    scenario = client.get(f"/scenarios/{r.json()['id']}", headers=planner)
    assert scenario.status_code == 200
    assert scenario.json()["objective"]["placed"] > 0
    aggregates = client.get("/aggregates", headers=planner)
    assert aggregates.json()["clients_by_status"]["ready"] > 0
    for response in (scenario, aggregates):
        assert "WF-C" not in response.text  # no client appears
    is_problem(client.get(f"/runs/{r.json()['id']}/input", headers=planner), 403)


def test_the_openapi_document_names_every_answer(client):
    document = client.get("/openapi.json").json()
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            success = [s for s in answers if s.startswith("2")]
            assert success, (method, path)
            for status in success:
                # JSON, or what else the route serves (a CSV, a Markdown report, a PNG plot)
                content = answers[status]["content"]
                assert content and all("schema" in c for c in content.values()), (method, path)
            expected = {"500"} if path == "/health" else {"401", "403", "500"}
            assert expected <= set(answers), (method, path)
            if "{" in path:
                assert {"404", "422"} <= set(answers), (method, path)
            for status, answer in answers.items():
                if int(status) >= 400:
                    assert answer["content"] == {"application/problem+json": problem}
