"""Many web processes and many workers on one database.

- two servers and two workers run 20 runs: each claimed once, none interrupted, all done (a
  second server starting interrupts nothing of the first);
- a worker killed mid-job: its job is interrupted once its lease runs out; the other worker's
  job runs on, and a cancel reaches the worker that holds it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import httpx
from sqlalchemy import select

from allocator.generator import generate
from service import tables as t
from service.db import get_sessionmaker
from service.seed import load_region, seed_demo_if_empty
from tests.service.helpers import Server, Worker, wait_for_run
from tests.service.test_server import make_key

#: web processes leave the solving to the workers
WEB = {"RUN_WORKERS": "0", "SCENARIO_RUN_WORKERS": "0"}


def _started(database_url: str) -> Counter:
    with get_sessionmaker(database_url)() as session:
        events = session.scalars(
            select(t.AuditEvent).where(t.AuditEvent.action == "run.started")
        ).all()
    return Counter(int(e.entity_id) for e in events)


def test_two_servers_and_two_workers_run_twenty_runs(database_url):
    seed_demo_if_empty(database_url)
    coordinator = make_key(database_url, "coordinator")
    workers = [Worker(database_url, RUN_WORKERS="2").start() for _ in range(2)]
    first = Server(database_url, **WEB).start()
    second = None
    try:
        ids = []
        with httpx.Client(base_url=first.url, timeout=30) as http:
            for _ in range(10):
                r = http.post("/runs", json={"time_limit_seconds": 30}, headers=coordinator)
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
        second = Server(database_url, **WEB).start()  # while the first one's runs are solved
        with httpx.Client(base_url=second.url, timeout=30) as http:
            for _ in range(10):
                r = http.post("/runs", json={"time_limit_seconds": 30}, headers=coordinator)
                ids.append(r.json()["id"])
            runs = [wait_for_run(http, i, coordinator, timeout=180) for i in ids]
    finally:
        for server in (first, second):
            if server:
                server.stop()
        logs = [w.stop() for w in workers]
    assert [r["status"] for r in runs] == ["done"] * 20, (runs, logs)
    assert _started(database_url) == Counter(ids)  # each claimed exactly once
    with get_sessionmaker(database_url)() as session:
        holders = set(session.scalars(select(t.Run.worker).where(t.Run.id.in_(ids))))
    assert holders <= {f"{h}" for h in holders} and len(holders) >= 1


def _wait(http, run_id, headers, until, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = http.get(f"/runs/{run_id}", headers=headers).json()
        if until(run):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id}: {run}")


def test_a_killed_workers_job_is_interrupted_after_its_lease(database_url):
    with get_sessionmaker(database_url)() as session:
        # large enough that the reference solver takes longer than the test
        load_region(session, generate(200, 400, 8, 1, reference_date=dt.date.today()), name="big")
        session.commit()
    coordinator = make_key(database_url, "coordinator")
    lease = {"JOB_LEASE_SECONDS": "3", "RUN_WORKERS": "1"}
    workers = [Worker(database_url, **lease).start() for _ in range(2)]
    server = Server(database_url, **WEB).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            long = {"method": "cp-sat", "time_limit_seconds": 300}
            ids = [http.post("/runs", json=long, headers=coordinator).json()["id"] for _ in "ab"]
            for run_id in ids:
                _wait(http, run_id, coordinator, lambda r: r["status"] == "running")
            with get_sessionmaker(database_url)() as session:
                holder = {
                    run_id: session.get(t.Run, run_id).worker.rsplit(":", 1)[1] for run_id in ids
                }
            assert len(set(holder.values())) == 2  # one each
            killed = next(w for w in workers if str(w.pid) == holder[ids[0]])
            killed.kill()
            gone = _wait(http, ids[0], coordinator, lambda r: r["status"] != "running", 30)
            assert gone["status"] == "interrupted" and "lease" in gone["error"]["detail"]
            time.sleep(4)  # longer than a lease: the live worker's run is untouched
            live = http.get(f"/runs/{ids[1]}", headers=coordinator).json()
            assert live["status"] in ("running", "done"), (live, [w.stop() for w in workers])
            # a cancel reaches the worker that holds the run (the live run, or a new one)
            third = ids[1]
            if live["status"] == "done":
                third = http.post("/runs", json=long, headers=coordinator).json()["id"]
                _wait(http, third, coordinator, lambda r: r["status"] == "running")
            r = http.post(f"/runs/{third}/cancel", headers=coordinator)
            assert r.status_code == 200 and r.json()["status"] == "cancelled"
            # the worker that held it ends its solver and is free for the next run at once
            again = http.post("/runs", json={"time_limit_seconds": 5}, headers=coordinator)
            done = _wait(http, again.json()["id"], coordinator, lambda r: r["status"] == "done")
            assert done["status"] == "done"
    finally:
        server.stop()
        for w in workers:
            if w.process.poll() is None:
                w.stop()
    assert _started(database_url)[ids[0]] == 1
