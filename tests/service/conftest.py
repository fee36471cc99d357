"""Fixtures for the service tests. Every test runs on SQLite and, when
ALLOCATOR_TEST_DATABASE_URL is set, on PostgreSQL too (in a schema of its own, dropped after)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from service.audit import SYSTEM
from service.db import get_sessionmaker
from service.main import create_app
from service.migrate import upgrade
from service.routers.keys import create_key
from service.seed import seed_demo_if_empty
from service.settings import Settings, normalise_database_url
from service.tables import Base
from tests.service.helpers import Keys

PG_ENV = "ALLOCATOR_TEST_DATABASE_URL"
#: The demo region: the first region of every fresh test database.
REGION = 1


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_database(request, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A database migrated once per session: a template file (SQLite) or a fresh schema."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield "sqlite", str(path)
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    base = normalise_database_url(base)
    schema = f"svc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    url = url.render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield "postgresql", url
    finally:
        from service.db import get_engine

        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(migrated_database, tmp_path) -> str:
    """An empty, migrated database for one test."""
    kind, where = migrated_database
    if kind == "sqlite":
        path = tmp_path / "service.sqlite3"
        shutil.copy(where, path)
        return f"sqlite:///{path}"
    engine = create_engine(where)
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    names += ", " + ", ".join(f"procrastinate_{n}" for n in ("jobs", "events", "workers"))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return where


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, seed_demo=True, run_time_limit_seconds=30)


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    seed_demo_if_empty(settings.database_url)  # as `serve` does before the web processes
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def keys(client, settings) -> Keys:
    """A key for every role, and for two corporations (corp-a and corp-b of the demo)."""
    made = {}
    with get_sessionmaker(settings.database_url)() as session:
        for label, role, corporation in (
            ("coordinator", "coordinator", None),
            ("planner", "planner", None),
            ("admin", "admin", None),
            ("corporation", "corporation", "corp-a"),
            ("corp_b", "corporation", "corp-b"),
        ):
            _, key = create_key(session, SYSTEM, f"test {label}", role, corporation, REGION)
            made[label] = {"X-API-Key": key}
        session.commit()
    return Keys(**made)
