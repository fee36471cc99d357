"""`python -m service create-key`: the key is printed once and stored only as its hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import select

from service import tables as t
from service.audit import SYSTEM
from service.db import get_sessionmaker
from service.deps import hash_key
from service.routers.keys import create_key
from tests.service.helpers import REPO, wait_for_run


def test_create_key_stores_only_the_hash(client, settings):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "service", "create-key", "--role", "planner", "--name", "Pia"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("alk_") and len(key) > 40
    with get_sessionmaker(settings.database_url)() as session:
        row = session.scalar(select(t.ApiKey).where(t.ApiKey.name == "Pia"))
    assert row.key_hash == hash_key(key) and key not in (row.key_hash, row.prefix)
    assert client.get("/aggregates", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/clients", headers={"X-API-Key": key}).status_code == 403

    wrong = subprocess.run(
        [sys.executable, "-m", "service", "create-key", "--role", "corporation"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 2 and "corporation_id" in wrong.stderr


def test_load_region_loads_the_demo_again_as_a_second_region(client, keys, settings):
    """Every id of the demo is already in use by region 1: a second region has its own."""
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PYTHONPATH": str(REPO)}
    demo = REPO / "scenarios/westfriesland/instance.json"
    done = subprocess.run(
        [sys.executable, "-m", "service", "load-region", str(demo), "--name", "Demo twice"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    region_id = json.loads(done.stdout.strip().splitlines()[-1])["region_id"]
    assert region_id != 1
    with get_sessionmaker(settings.database_url)() as session:
        _, key = create_key(session, SYSTEM, "second", "coordinator", None, region_id)
        session.commit()
    second = {"X-API-Key": key}
    first_units = [v["id"] for v in client.get("/vacancies", headers=keys.coordinator).json()]
    second_units = [v["id"] for v in client.get("/vacancies", headers=second).json()]
    assert second_units == first_units and "WF-U001" in second_units
    # the second region changes, the first does not
    r = client.post("/vacancies/WF-U001/withdraw", json={"reason": "let"}, headers=second)
    assert r.status_code == 200, r.text
    assert client.get("/vacancies/WF-U001", headers=keys.coordinator).json()["status"] == "open"
    run = client.post("/runs", headers=second).json()
    assert wait_for_run(client, run["id"], second)["status"] == "done"
    units = client.get(f"/runs/{run['id']}/input", headers=second).json()["units"]
    assert "WF-U001" not in {u["id"] for u in units}
