"""Retention (AVG): the personal fields of clients housed or withdrawn longer ago than the
retention period are erased by `python -m service purge`; a coordinator erases one client on
request (art. 17). Pseudonymous aggregates stay; the audit trail records the erasure without
the erased data, and keeps none of it in earlier events either."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import update

from service import tables as t
from service.db import get_sessionmaker
from tests.service.helpers import REPO
from tests.service.test_api import CLIENT

REASON = "moved in with family after treatment"


def _register_and_withdraw(client, keys, client_id: str) -> None:
    body = {**CLIENT, "id": client_id, "target_group": "GGZ-crisis", "support_contact": "x@y.nl"}
    assert client.post("/clients", json=body, headers=keys.coordinator).status_code == 201
    r = client.post(
        f"/clients/{client_id}/withdraw", json={"reason": REASON}, headers=keys.coordinator
    )
    assert r.status_code == 200, r.text


def _erased(person: dict) -> bool:
    return (
        person["target_group"] == "(erased)"
        and person["support_contact"] is None
        and person["preferred_municipalities"] == []
        and person["max_rent"] is None
    )


def test_purge_erases_clients_who_left_before_the_retention_period(client, keys, settings):
    _register_and_withdraw(client, keys, "OLD-1")
    _register_and_withdraw(client, keys, "NEW-1")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=25 * 31)
    with get_sessionmaker(settings.database_url)() as session:
        session.execute(update(t.Client).where(t.Client.id == "OLD-1").values(left_at=long_ago))
        session.commit()
    before = client.get("/aggregates", headers=keys.planner).json()["clients_by_status"]
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "service", "purge"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"erased": 1' in done.stdout, done.stdout
    old = client.get("/clients/OLD-1", headers=keys.coordinator).json()
    new = client.get("/clients/NEW-1", headers=keys.coordinator).json()
    assert _erased(old) and old["status"] == "withdrawn"
    assert not _erased(new) and new["target_group"] == "GGZ-crisis"
    trail = client.get("/audit?limit=1000", headers=keys.coordinator).json()
    about_old = [e for e in trail if e["entity_id"] == "OLD-1"]
    assert "client.erased" in {e["action"] for e in about_old}
    assert "GGZ-crisis" not in str(about_old) and REASON not in str(about_old)
    assert REASON in str([e for e in trail if e["entity_id"] == "NEW-1"])
    after = client.get("/aggregates", headers=keys.planner).json()["clients_by_status"]
    assert after == before  # the pseudonymous counts stay


def test_a_coordinator_erases_one_client_on_request(client, keys):
    _register_and_withdraw(client, keys, "ASK-1")
    r = client.post("/clients/ASK-1/erase", headers=keys.coordinator)
    assert r.status_code == 200, r.text
    assert _erased(r.json())
    history = client.get("/clients/ASK-1/history", headers=keys.coordinator).json()
    assert history[-1]["action"] == "client.erased"
    assert REASON not in str(history) and "GGZ-crisis" not in str(history)
    # a client with an open offer is withdrawn first
    ready = client.get("/clients?status=proposed", headers=keys.coordinator).json()
    r = client.post(f"/clients/{ready[0]['id']}/erase", headers=keys.coordinator)
    assert r.status_code == 409
    # only the coordinator
    assert client.post("/clients/ASK-1/erase", headers=keys.admin).status_code == 403
