"""Each role sees in the audit trail only what it may see: an admin sees who did what and when,
never client ids, target groups or free-text reasons (personal data), which also stay out of
the logs."""

from __future__ import annotations

import logging

from tests.service.test_api import CLIENT, VACANCY

SECRET = "client in psychiatric crisis"


def _a_day_with_personal_data(client, keys) -> dict:
    coordinator = keys.coordinator
    assert client.post("/clients", json=CLIENT, headers=coordinator).status_code == 201
    assert client.post("/vacancies", json=[VACANCY], headers=keys.corporation).status_code == 201
    offer = client.post(
        "/offers", json={"client_id": CLIENT["id"], "unit_id": VACANCY["id"]}, headers=coordinator
    ).json()
    r = client.post(f"/offers/{offer['id']}/refuse", json={"reason": SECRET}, headers=coordinator)
    assert r.status_code == 200, r.text
    r = client.post(
        f"/clients/{CLIENT['id']}/withdraw", json={"reason": SECRET}, headers=coordinator
    )
    assert r.status_code == 200, r.text
    return offer


def test_an_admin_sees_who_did_what_but_no_personal_data(client, keys):
    _a_day_with_personal_data(client, keys)
    seen_by_admin = client.get("/audit?limit=1000", headers=keys.admin)
    assert seen_by_admin.status_code == 200
    text = seen_by_admin.text
    for personal in (SECRET, CLIENT["id"], "WF-C0", '"target_group"', CLIENT["target_group"]):
        assert personal not in text, personal
    events = seen_by_admin.json()
    assert {"offer.refused", "client.withdrawn", "client.registered"} <= {
        e["action"] for e in events
    }
    assert all(e["actor"] and e["at"] for e in events)
    # the coordinator of the region sees the whole trail
    full = client.get("/audit?limit=1000", headers=keys.coordinator).text
    assert SECRET in full and CLIENT["id"] in full


def test_free_text_reasons_stay_out_of_the_logs(client, keys, caplog):
    caplog.set_level(logging.DEBUG)
    offer = _a_day_with_personal_data(client, keys)
    # a conflict and a refused value, with personal text in the request
    client.post(f"/offers/{offer['id']}/refuse", json={"reason": SECRET}, headers=keys.coordinator)
    client.post(
        "/vacancies/WF-U001/withdraw", json={"reason": SECRET + "\x00"}, headers=keys.coordinator
    )
    assert SECRET not in caplog.text


def test_every_list_comes_in_pages(client, keys):
    """Default 100, at most 1000; the total and the next page in the headers."""
    for path, headers in (
        ("/clients", keys.coordinator),
        ("/vacancies", keys.coordinator),
        ("/offers", keys.coordinator),
        ("/runs", keys.coordinator),
        ("/audit", keys.coordinator),
        ("/corporation/offers", keys.corporation),
        ("/api-keys", keys.admin),
    ):
        everything = client.get(path, headers=headers)
        total = int(everything.headers["X-Total-Count"])
        assert len(everything.json()) == min(total, 100), path
        first = client.get(f"{path}?limit=1", headers=headers)
        assert len(first.json()) == min(total, 1), path
        if total > 1:
            assert 'rel="next"' in first.headers["Link"] and "offset=1" in first.headers["Link"]
            second = client.get(f"{path}?limit=1&offset=1", headers=headers).json()
            assert second[0] == everything.json()[1], path
        assert client.get(f"{path}?limit=1001", headers=headers).status_code == 422
    clients = client.get("/clients?limit=1000", headers=keys.coordinator)
    assert len(clients.json()) == int(clients.headers["X-Total-Count"]) == 80


def test_a_change_that_changes_nothing_records_nothing(client, keys):
    def events() -> int:
        return int(client.get("/audit", headers=keys.coordinator).headers["X-Total-Count"])

    before = events()
    assert client.patch("/clients/WF-C001", json={}, headers=keys.coordinator).status_code == 200
    assert client.patch("/complexes/cx-hoorn-1", json={}, headers=keys.admin).status_code == 200
    same = client.get("/complexes/cx-hoorn-1", headers=keys.admin).json()["units_total"]
    r = client.patch("/complexes/cx-hoorn-1", json={"units_total": same}, headers=keys.admin)
    assert r.status_code == 200
    assert events() == before
