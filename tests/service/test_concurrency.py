"""Concurrent writers on the same rows: no lost update, no transition from a stale read.

- the coordinator accepts an offer at the instant its corporation withdraws the vacancy: one of
  the two wins, the other is refused, and the trail never shows an accepted offer withdrawn by
  the corporation;
- many lets on one building at once: each adds exactly one vulnerable household;
- 50 simultaneous reads on the real server: every one answered 200.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.service.helpers import Server
from tests.service.test_server import make_key

PAIRS = 12


def _open_up(client, keys) -> None:
    """Quotas and the Magic Mix cap out of the way: only the races are under test."""
    r = client.put(
        "/policy", json={"name": "race", "max_vulnerable_share": 1.0}, headers=keys.admin
    )
    assert r.status_code == 200, r.text
    year = dt.date.today().year
    r = client.put(f"/municipalities/hoorn/quotas/{year}", json={"quota": 1000}, headers=keys.admin)
    assert r.status_code == 200, r.text
    for complex_id in ("cx-hoorn-2", "cx-hoorn-3"):  # out of their neighbourhood's quota (rule 14)
        r = client.patch(
            f"/complexes/{complex_id}", json={"neighbourhood_id": None}, headers=keys.admin
        )
        assert r.status_code == 200, r.text


def _offers(client, keys, prefix: str, n: int, complex_id: str = "cx-hoorn-2") -> list[dict]:
    vacancies = [
        {
            "id": f"{prefix}-U{i}",
            "complex_id": complex_id,
            "corporation_id": "corp-b",  # no corporation quota
            "rooms": 2,
            "rent": 500,
            "max_occupants": 2,
        }
        for i in range(n)
    ]
    assert client.post("/vacancies", json=vacancies, headers=keys.corp_b).status_code == 201
    offers = []
    for i in range(n):
        body = {
            "id": f"{prefix}-C{i}",
            "household_size": 1,
            "target_group": "MO",
            "ready_since": "2015-01-01",
            "preferred_municipalities": ["hoorn"],
        }
        assert client.post("/clients", json=body, headers=keys.coordinator).status_code == 201
        r = client.post(
            "/offers",
            json={"client_id": f"{prefix}-C{i}", "unit_id": f"{prefix}-U{i}"},
            headers=keys.coordinator,
        )
        assert r.status_code == 201, r.text
        offers.append(r.json())
    return offers


def _at_once(calls):
    """Run the calls on threads released together, so they cross in the database."""
    barrier = threading.Barrier(len(calls))

    def go(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def test_accept_and_vacancy_withdrawal_crossing(client, keys):
    _open_up(client, keys)
    offers = _offers(client, keys, "RACE", PAIRS)
    calls = []
    for offer in offers:
        calls.append(
            lambda o=offer: client.post(f"/offers/{o['id']}/accept", headers=keys.coordinator)
        )
        calls.append(
            lambda o=offer: client.post(
                f"/vacancies/{o['unit_id']}/withdraw",
                json={"reason": "let through the waiting list"},
                headers=keys.corp_b,
            )
        )
    answers = _at_once(calls)
    for i, offer in enumerate(offers):
        accept, withdraw = answers[2 * i], answers[2 * i + 1]
        codes = sorted((accept.status_code, withdraw.status_code))
        assert codes == [200, 409], (accept.text, withdraw.text)
        now = client.get(f"/offers/{offer['id']}", headers=keys.coordinator).json()
        vacancy = client.get(f"/vacancies/{offer['unit_id']}", headers=keys.corp_b).json()
        person = client.get(f"/clients/{offer['client_id']}", headers=keys.coordinator).json()
        if accept.status_code == 200:
            assert (now["status"], vacancy["status"], person["status"]) == (
                "accepted",
                "open",
                "proposed",
            )
        else:
            assert (now["status"], vacancy["status"], person["status"]) == (
                "withdrawn",
                "withdrawn",
                "ready",
            )
        trail = client.get(
            f"/audit?entity=offer&entity_id={offer['id']}", headers=keys.coordinator
        ).json()
        actions = [e["action"] for e in reversed(trail)]
        assert actions in (
            ["offer.created", "offer.accepted"],
            ["offer.created", "offer.withdrawn"],
        ), actions


def test_concurrent_lets_on_one_building_each_count(client, keys):
    _open_up(client, keys)
    before = client.get("/complexes/cx-hoorn-3", headers=keys.coordinator).json()
    offers = _offers(client, keys, "LET", PAIRS, complex_id="cx-hoorn-3")
    for offer in offers:
        r = client.post(f"/offers/{offer['id']}/accept", headers=keys.coordinator)
        assert r.status_code == 200, r.text
    answers = _at_once(
        [
            lambda o=offer: client.post(f"/offers/{o['id']}/let", headers=keys.coordinator)
            for offer in offers
        ]
        # the same lets a second time, from the corporation: each must be refused
        + [
            lambda o=offer: client.post(f"/corporation/offers/{o['id']}/let", headers=keys.corp_b)
            for offer in offers
        ]
    )
    assert sorted(a.status_code for a in answers) == [200] * PAIRS + [409] * PAIRS, [
        a.text for a in answers if a.status_code not in (200, 409)
    ]
    after = client.get("/complexes/cx-hoorn-3", headers=keys.coordinator).json()
    assert after["vulnerable_residents"] == before["vulnerable_residents"] + PAIRS
    for offer in offers:
        trail = client.get(
            f"/audit?entity=offer&entity_id={offer['id']}", headers=keys.coordinator
        ).json()
        assert [e["action"] for e in trail].count("offer.let") == 1


def test_withdrawing_a_client_while_its_offer_is_let(client, keys):
    """The client's withdrawal and the lease cross: a housed client is never made ready."""
    _open_up(client, keys)
    offers = _offers(client, keys, "WCL", PAIRS)
    for offer in offers:
        assert client.post(f"/offers/{offer['id']}/accept", headers=keys.coordinator).is_success
    calls = []
    for offer in offers:
        calls.append(
            lambda o=offer: client.post(f"/offers/{o['id']}/let", headers=keys.coordinator)
        )
        calls.append(
            lambda o=offer: client.post(
                f"/clients/{o['client_id']}/withdraw",
                json={"reason": "moved away"},
                headers=keys.coordinator,
            )
        )
    answers = _at_once(calls)
    for i, offer in enumerate(offers):
        let, withdraw = answers[2 * i], answers[2 * i + 1]
        assert sorted((let.status_code, withdraw.status_code)) == [200, 409] or (
            let.status_code == 409 and withdraw.status_code == 200
        ), (let.text, withdraw.text)
        now = client.get(f"/offers/{offer['id']}", headers=keys.coordinator).json()
        person = client.get(f"/clients/{offer['client_id']}", headers=keys.coordinator).json()
        assert (now["status"], person["status"]) in (("let", "housed"), ("withdrawn", "withdrawn"))


@pytest.fixture
def server(database_url):
    running = Server(database_url).start()
    try:
        yield running
    finally:
        running.stop()


def test_fifty_simultaneous_reads_are_all_answered(server, database_url):
    coordinator = make_key(database_url, "coordinator")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        answers = _at_once([lambda: http.get("/vacancies", headers=coordinator)] * 50)
    assert [a.status_code for a in answers] == [200] * 50, {
        a.status_code: a.text[:200] for a in answers
    }


def test_fifty_simultaneous_writes_and_reads_are_all_answered(server, database_url):
    """Writers wait for one another, never for a thread held by a waiting writer (more
    requests than the 40 request threads)."""
    coordinator = make_key(database_url, "coordinator")
    corporation = make_key(database_url, "corporation", "corp-a")

    def write(i: int):
        unit = {
            "id": f"W50-{i}",
            "complex_id": "cx-hoorn-1",
            "corporation_id": "corp-a",
            "rooms": 2,
            "rent": 600,
            "max_occupants": 2,
        }
        return lambda: http.post("/vacancies", json=[unit], headers=corporation)

    with httpx.Client(base_url=server.url, timeout=60) as http:
        calls = [write(i) for i in range(60)]
        calls += [lambda: http.get("/clients", headers=coordinator)] * 20
        answers = _at_once(calls)
    assert sorted(a.status_code for a in answers) == [200] * 20 + [201] * 60, {
        a.status_code: a.text[:200] for a in answers
    }
