"""Unit ids are each corporation's own: corp-a and corp-b of one region may both have a unit
"1001". Each reports, sees, lets and withdraws its own; a run places clients in both; the
coordinator names the corporation where an id is shared (422 when not); and a corporation's
answers never depend on another corporation's ids."""

from __future__ import annotations

from tests.service.helpers import wait_for_run
from tests.service.test_api import CLIENT, VACANCY, is_problem

UNIT = {**VACANCY, "id": "1001", "rent": 400.0, "accessible": True, "max_occupants": 4}


def _report(client, keys) -> dict[str, dict]:
    mine = {}
    for corporation, headers in (("corp-a", keys.corporation), ("corp-b", keys.corp_b)):
        r = client.post(
            "/vacancies", json=[{**UNIT, "corporation_id": corporation}], headers=headers
        )
        assert r.status_code == 201, r.text
        mine[corporation] = r.json()[0]
        assert mine[corporation]["corporation_id"] == corporation
    return mine


def test_two_corporations_both_report_unit_1001_and_each_sees_its_own(client, keys):
    _report(client, keys)
    # by upload too
    for corporation, headers in (("corp-a", keys.corporation), ("corp-b", keys.corp_b)):
        csv = "id,complex_id,corporation_id,rooms,rent,max_occupants\n"
        csv += f"1002,cx-hoorn-1,{corporation},2,{500 if corporation == 'corp-a' else 520},2\n"
        files = {"file": ("v.csv", csv.encode(), "text/csv")}
        r = client.post("/vacancies/upload", files=files, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json() == {"created": 1, "vacancy_ids": ["1002"]}
    for corporation, headers in (("corp-a", keys.corporation), ("corp-b", keys.corp_b)):
        listed = client.get("/vacancies?limit=500", headers=headers).json()
        assert {v["corporation_id"] for v in listed} == {corporation}
        assert [v["id"] for v in listed].count("1001") == 1
        assert [v["id"] for v in listed].count("1002") == 1
        own = client.get("/vacancies/1002", headers=headers).json()
        assert own["corporation_id"] == corporation
        assert own["rent"] == (500 if corporation == "corp-a" else 520)
    # its own again: taken (the only "already exists" a corporation ever gets)
    again = client.post(
        "/vacancies", json=[{**UNIT, "corporation_id": "corp-b"}], headers=keys.corp_b
    )
    assert again.status_code == 422 and "already exists" in again.text
    # the coordinator sees both
    both = client.get("/vacancies?limit=500", headers=keys.coordinator).json()
    assert sorted(v["corporation_id"] for v in both if v["id"] == "1001") == ["corp-a", "corp-b"]


def test_the_coordinator_names_the_corporation_where_an_id_is_shared(client, keys):
    _report(client, keys)
    coordinator = keys.coordinator
    body = is_problem(client.get("/vacancies/1001", headers=coordinator), 422)
    assert body["errors"][0]["field"] == "corporation_id"
    r = client.get("/vacancies/1001?corporation_id=corp-b", headers=coordinator)
    assert r.status_code == 200 and r.json()["corporation_id"] == "corp-b"
    is_problem(client.get("/vacancies/1001?corporation_id=corp-c", headers=coordinator), 404)
    # an id held by one corporation needs no corporation
    client.post("/vacancies", json=[{**UNIT, "id": "only-a"}], headers=keys.corporation)
    assert client.get("/vacancies/only-a", headers=coordinator).json()["corporation_id"] == "corp-a"

    client.post("/clients", json=CLIENT, headers=coordinator)
    pair = {"client_id": CLIENT["id"], "unit_id": "1001"}
    body = is_problem(client.post("/offers", json=pair, headers=coordinator), 422)
    assert body["errors"][0]["field"] == "corporation_id"
    reason = {"reason": "let elsewhere"}
    body = is_problem(
        client.post("/vacancies/1001/withdraw", json=reason, headers=coordinator), 422
    )
    assert body["errors"][0]["field"] == "corporation_id"
    # qualified: by corporation_id, or as a run names it ("corp-b/1001")
    offer = client.post("/offers", json={**pair, "corporation_id": "corp-b"}, headers=coordinator)
    assert offer.status_code == 201, offer.text
    assert offer.json()["corporation_id"] == "corp-b" and offer.json()["unit_id"] == "1001"
    r = client.post(
        "/vacancies/1001/withdraw?corporation_id=corp-a", json=reason, headers=coordinator
    )
    assert r.status_code == 200 and r.json()["corporation_id"] == "corp-a"
    assert r.json()["status"] == "withdrawn"
    # corp-b's unit and its offer are untouched
    b = client.get("/vacancies/1001", headers=keys.corp_b).json()
    assert b["status"] == "open"
    assert client.get(f"/offers/{offer.json()['id']}", headers=coordinator).json()["status"] == (
        "proposed"
    )
    client.post(f"/offers/{offer.json()['id']}/withdraw", headers=coordinator)
    again = client.post(
        "/offers", json={**pair, "unit_id": "corp-b/1001"}, headers=coordinator
    ).json()
    assert (again["corporation_id"], again["unit_id"]) == ("corp-b", "1001")


def test_a_run_places_clients_in_both_and_offers_go_to_the_right_corporation(client, keys):
    coordinator = keys.coordinator
    # only the two units "1001" are free: every other open vacancy without an offer leaves
    offered = {(o["corporation_id"], o["unit_id"]) for o in _all(client, "/offers", coordinator)}
    for v in _all(client, "/vacancies?status=open", coordinator):
        if (v["corporation_id"], v["id"]) not in offered:
            r = client.post(
                f"/vacancies/{v['id']}/withdraw?corporation_id={v['corporation_id']}",
                json={"reason": "test"},
                headers=coordinator,
            )
            assert r.status_code == 200, r.text
    _report(client, keys)
    run = client.post("/runs", json={"time_limit_seconds": 20}, headers=coordinator).json()
    run = wait_for_run(client, run["id"], coordinator)
    assert run["status"] == "done", run
    proposal = client.get(f"/runs/{run['id']}/proposal", headers=coordinator).json()
    lines = {a["unit_id"]: a["client_id"] for a in proposal["assignments"] if not a["pinned"]}
    # the run names the shared id with its corporation
    assert set(lines) == {"corp-a/1001", "corp-b/1001"}, lines
    offers = client.post(f"/runs/{run['id']}/offers", json={}, headers=coordinator)
    assert offers.status_code == 201, offers.text
    by_corporation = {o["corporation_id"]: o for o in offers.json()}
    assert {(c, o["unit_id"]) for c, o in by_corporation.items()} == {
        ("corp-a", "1001"),
        ("corp-b", "1001"),
    }
    assert by_corporation["corp-a"]["client_id"] == lines["corp-a/1001"]
    # each corporation sees only the offer on its own unit
    for corporation, headers in (("corp-a", keys.corporation), ("corp-b", keys.corp_b)):
        seen = client.get("/corporation/offers?limit=500", headers=headers).json()
        assert by_corporation[corporation]["id"] in {o["id"] for o in seen}
        other = "corp-b" if corporation == "corp-a" else "corp-a"
        assert by_corporation[other]["id"] not in {o["id"] for o in seen}
    a, b = by_corporation["corp-a"]["id"], by_corporation["corp-b"]["id"]
    # accepted and let at corp-a: corp-a's 1001 is let, corp-b's still open
    assert client.post(f"/offers/{a}/accept", headers=coordinator).status_code == 200
    is_problem(client.post(f"/corporation/offers/{a}/let", headers=keys.corp_b), 404)
    r = client.post(f"/corporation/offers/{a}/let", headers=keys.corporation)
    assert r.status_code == 200 and r.json()["status"] == "let"
    assert client.get("/vacancies/1001", headers=keys.corporation).json()["status"] == "let"
    assert client.get("/vacancies/1001", headers=keys.corp_b).json()["status"] == "open"
    # corp-b withdraws its 1001: its offer is withdrawn, corp-a's stays let
    r = client.post("/vacancies/1001/withdraw", json={"reason": "sold"}, headers=keys.corp_b)
    assert r.status_code == 200 and r.json()["corporation_id"] == "corp-b"
    assert client.get(f"/offers/{b}", headers=coordinator).json()["status"] == "withdrawn"
    assert client.get(f"/offers/{a}", headers=coordinator).json()["status"] == "let"
    assert client.get("/vacancies/1001", headers=keys.corporation).json()["status"] == "let"


def test_a_refusal_names_the_corporation_of_the_unit(client, keys):
    coordinator = keys.coordinator
    _report(client, keys)
    client.post("/clients", json=CLIENT, headers=coordinator)
    pair = {"client_id": CLIENT["id"], "unit_id": "1001", "corporation_id": "corp-a"}
    offer = client.post("/offers", json=pair, headers=coordinator).json()
    r = client.post(f"/offers/{offer['id']}/refuse", json={"reason": "x"}, headers=coordinator)
    assert r.status_code == 200
    assert client.get(f"/clients/{CLIENT['id']}", headers=coordinator).json()["refused_units"] == [
        "corp-a/1001"
    ]
    # refused corp-a's 1001, not corp-b's: corp-b's may be offered, corp-a's not again
    again = client.post("/offers", json=pair, headers=coordinator)
    is_problem(again, 422)
    r = client.post("/offers", json={**pair, "corporation_id": "corp-b"}, headers=coordinator)
    assert r.status_code == 201, r.text
    # registering a refusal of a shared id without its corporation: 422 naming the field
    body = is_problem(
        client.post(
            "/clients",
            json={**CLIENT, "id": "NEW-C2", "refused_units": ["1001"]},
            headers=coordinator,
        ),
        422,
    )
    assert body["errors"][0]["field"] == "refused_units"


def _all(client, path: str, headers) -> list[dict]:
    sep = "&" if "?" in path else "?"
    return client.get(f"{path}{sep}limit=500", headers=headers).json()
