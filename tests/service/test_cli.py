"""`python -m service create-key`: the key is printed once and stored only as its hash."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from service import tables as t
from service.db import get_sessionmaker
from service.deps import hash_key
from tests.service.helpers import REPO


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
