"""The real server: uvicorn on 127.0.0.1 and a free port, in its own process.

- the coordinator's day over HTTP (smoke test);
- many parallel offers on the same units: none is offered twice;
- the server killed during a run: after a restart nothing is lost or half-written.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from allocator.generator import generate
from service import tables as t
from service.audit import SYSTEM
from service.db import get_sessionmaker
from service.routers.keys import create_key
from service.seed import load_region
from tests.service.helpers import Server, wait_for_run


def make_key(
    database_url: str, role: str, corporation: str | None = None, region_id: int | None = 1
) -> dict[str, str]:
    with get_sessionmaker(database_url)() as session:
        _, key = create_key(session, SYSTEM, f"{role} at the server", role, corporation, region_id)
        session.commit()
    return {"X-API-Key": key}


@pytest.fixture
def server(database_url):
    running = Server(database_url).start()
    try:
        yield running
    finally:
        running.stop()


def test_the_coordinators_day_on_the_real_server(server, database_url):
    coordinator = make_key(database_url, "coordinator")
    corp = make_key(database_url, "corporation", "corp-a")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/docs").status_code == 200
        assert "paths" in http.get("/openapi.json").json()
        r = http.post(
            "/vacancies",
            json=[
                {
                    "id": "S-U1",
                    "complex_id": "cx-hoorn-1",
                    "corporation_id": "corp-a",
                    "rooms": 2,
                    "rent": 550,
                    "max_occupants": 2,
                }
            ],
            headers=corp,
        )
        assert r.status_code == 201, r.text
        r = http.post(
            "/clients",
            json={
                "id": "S-C1",
                "household_size": 1,
                "target_group": "MO",
                "ready_since": "2019-05-01",
                "preferred_municipalities": ["hoorn"],
            },
            headers=coordinator,
        )
        assert r.status_code == 201, r.text
        run = wait_for_run(http, http.post("/runs", headers=coordinator).json()["id"], coordinator)
        assert run["status"] == "done", run
        proposal = http.get(f"/runs/{run['id']}/proposal", headers=coordinator).json()
        lines = [a for a in proposal["assignments"] if not a["pinned"]]
        # the longest-waiting new client is placed
        assert "S-C1" in {a["client_id"] for a in lines}
        offers = http.post(f"/runs/{run['id']}/offers", json={}, headers=coordinator).json()
        assert len(offers) == len(lines)
        accepted, refused = offers[0], offers[1]
        assert http.post(f"/offers/{accepted['id']}/accept", headers=coordinator).status_code == 200
        r = http.post(f"/offers/{refused['id']}/refuse", json={"reason": "no"}, headers=coordinator)
        assert r.status_code == 200
        run2 = wait_for_run(http, http.post("/runs", headers=coordinator).json()["id"], coordinator)
        assert run2["status"] == "done", run2
        pairs = {
            (a["client_id"], a["unit_id"]): a["pinned"]
            for a in http.get(f"/runs/{run2['id']}/proposal", headers=coordinator).json()[
                "assignments"
            ]
        }
        assert pairs[(accepted["client_id"], accepted["unit_id"])] is True
        assert (refused["client_id"], refused["unit_id"]) not in pairs
    server.stop()
    assert b"API documentation: http://127.0.0.1:" in server.output


def test_parallel_offers_never_give_a_unit_twice(server, database_url):
    admin = make_key(database_url, "admin")
    coordinator = make_key(database_url, "coordinator")
    units, clients = 5, 40
    with httpx.Client(base_url=server.url, timeout=60) as http:
        # a building with room for everyone, so that only "one open offer per unit" limits
        assert (
            http.post(
                "/municipalities",
                json={"id": "par", "name": "Parallel", "quota": 999},
                headers=admin,
            ).status_code
            == 201
        )
        assert (
            http.post(
                "/corporations", json={"id": "corp-par", "name": "P"}, headers=admin
            ).status_code
            == 201
        )
        assert (
            http.post(
                "/complexes",
                json={
                    "id": "cx-par",
                    "municipality_id": "par",
                    "units_total": 1000,
                    "vulnerable_residents": 0,
                },
                headers=admin,
            ).status_code
            == 201
        )
        vacancies = [
            {
                "id": f"P-U{i}",
                "complex_id": "cx-par",
                "corporation_id": "corp-par",
                "rooms": 2,
                "rent": 500,
                "max_occupants": 4,
            }
            for i in range(units)
        ]
        assert http.post("/vacancies", json=vacancies, headers=coordinator).status_code == 201
        for i in range(clients):
            r = http.post(
                "/clients",
                json={
                    "id": f"P-C{i}",
                    "household_size": 1,
                    "target_group": "BW",
                    "ready_since": "2024-01-01",
                    "preferred_municipalities": ["par"],
                },
                headers=coordinator,
            )
            assert r.status_code == 201

    def offer(i: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            body = {"client_id": f"P-C{i}", "unit_id": f"P-U{i % units}"}
            return http.post("/offers", json=body, headers=coordinator).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(offer, range(clients)))
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) == units
    with get_sessionmaker(database_url)() as session:
        open_per_unit = session.execute(
            select(t.Offer.unit_id, func.count())
            .where(t.Offer.status.in_(t.OPEN_OFFER_STATES), t.Offer.unit_id.like("P-U%"))
            .group_by(t.Offer.unit_id)
        ).all()
    assert sorted(open_per_unit) == [(f"P-U{i}", 1) for i in range(units)]


def _state(database_url: str) -> dict:
    with get_sessionmaker(database_url)() as session:
        return {
            "clients": sorted(session.execute(select(t.Client.id, t.Client.status)).all()),
            "vacancies": sorted(session.execute(select(t.Vacancy.id, t.Vacancy.status)).all()),
            "offers": sorted(session.execute(select(t.Offer.id, t.Offer.status)).all()),
            "audit": session.scalar(select(func.count()).select_from(t.AuditEvent)),
        }


def test_killing_the_server_during_a_run_loses_nothing(database_url):
    # a region large enough that the reference solver takes seconds
    with get_sessionmaker(database_url)() as session:
        load_region(session, generate(200, 400, 8, 1, reference_date=dt.date.today()), name="big")
        session.commit()
    coordinator = make_key(database_url, "coordinator")
    server = Server(database_url, JOB_LEASE_SECONDS="2").start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            run = http.post(
                "/runs", json={"method": "cp-sat", "time_limit_seconds": 120}, headers=coordinator
            ).json()
            status = None
            for _ in range(400):  # bounded: at most 20 s
                status = http.get(f"/runs/{run['id']}", headers=coordinator).json()["status"]
                if status != "queued":
                    break
                time.sleep(0.05)
            assert status == "running"
            before = _state(database_url)
        server.kill()
    finally:
        server.stop()
    with get_sessionmaker(database_url)() as session:
        left = session.get(t.Run, run["id"])
        assert left.status == "running" and left.proposal is None  # as the crash left it
    assert _state(database_url) == before

    restarted = Server(database_url, JOB_LEASE_SECONDS="2").start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as http:
            for _ in range(100):  # the lease runs out: at most 2 s, and the reaper's round
                after = http.get(f"/runs/{run['id']}", headers=coordinator).json()
                if after["status"] != "running":
                    break
                time.sleep(0.1)
            assert after["status"] == "interrupted" and "stopped" in after["error"]["detail"]
            assert http.get(f"/runs/{run['id']}/proposal", headers=coordinator).status_code == 409
            assert _state(database_url) == before
            # the input was kept: the same run can be asked for again and completes
            again = http.post("/runs", json={"time_limit_seconds": 60}, headers=coordinator).json()
            assert (
                again["input_hash"] != ""
                and wait_for_run(http, again["id"], coordinator)["status"] == "done"
            )
    finally:
        restarted.stop()
