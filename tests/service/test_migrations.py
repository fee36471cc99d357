"""The schema comes from the Alembic migrations, and they match the SQLAlchemy models."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import IntegrityError

from service import scope
from service import tables as t
from service.db import get_engine, get_sessionmaker
from service.migrate import include_object, upgrade
from service.scope import set_region
from service.tables import Base


def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        differences = [
            d
            for d in compare_metadata(context, Base.metadata)
            # the UTC wrapper type is Python-side only; the column is DateTime(timezone=True)
            if not (isinstance(d, list) and d and d[0][0] == "modify_type")
        ]
    engine.dispose()
    assert differences == []


def test_the_database_refuses_a_second_open_offer_on_a_unit(client, keys, settings):
    """The guard under the service's own checks: the partial unique index."""
    with get_sessionmaker(settings.database_url)() as session:
        accepted = session.query(t.Offer).filter_by(status="accepted").first()
        ready = session.query(t.Client).filter_by(status="ready").first()
        session.add(
            t.Offer(
                region_id=accepted.region_id,
                client_id=ready.id,
                corporation_id=accepted.corporation_id,
                unit_id=accepted.unit_id,
                status="proposed",
                created_by="test",
                expires_at=accepted.expires_at,
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()


# --- 0008: region keys, on a database with data ---------------------------------------------

NOW = "2026-01-05 10:00:00"
#: Two regions' state as 0007 stores it (ids unique in the whole database then).
ROWS_0007 = {
    "regions": [
        {"id": 1, "name": "one", "created_at": NOW},
        {"id": 2, "name": "two", "created_at": NOW},
    ],
    "region_policy": [
        {"id": r, "name": f"p{r}", "max_vulnerable_share": 0.3, "objective": '["placed"]'}
        for r in (1, 2)
    ],
    "municipalities": [
        {"region_id": 1, "id": "m1", "name": "M1", "population": 10},
        {"region_id": 2, "id": "m2", "name": "M2", "population": None},
    ],
    "municipality_quotas": [
        {"municipality_id": "m1", "year": 2026, "quota": 3},
        {"municipality_id": "m2", "year": 2026, "quota": 5},
        {"municipality_id": "m2", "year": 2025, "quota": 1},
    ],
    "corporations": [
        {"region_id": 1, "id": "c1", "name": "C1", "quota": None},
        {"region_id": 2, "id": "c2", "name": "C2", "quota": 4},
    ],
    "neighbourhoods": [{"region_id": 1, "id": "n1", "municipality_id": "m1", "quota": 2}],
    "support_providers": [{"region_id": 2, "id": "s2", "name": "S2"}],
    "support_places": [{"region_id": 2, "provider_id": "s2", "municipality_id": "m2", "places": 1}],
    "complexes": [
        {
            "region_id": r,
            "id": f"x{r}",
            "municipality_id": f"m{r}",
            "units_total": 10,
            "vulnerable_residents": r,
            "neighbourhood_id": "n1" if r == 1 else None,
        }
        for r in (1, 2)
    ],
    "vacancies": [
        {
            "region_id": r,
            "id": f"u{r}",
            "complex_id": f"x{r}",
            "corporation_id": f"c{r}",
            "rooms": 2,
            "rent": 500.0 + r,
            "accessible": False,
            "min_occupants": 1,
            "max_occupants": 2,
            "status": "open",
            "submitted_at": NOW,
        }
        for r in (1, 2)
    ],
    "clients": [
        {
            "region_id": r,
            "id": f"k{r}",
            "household_size": 1,
            "needs_accessible": False,
            "preferred_municipalities": "[]",
            "excluded_municipalities": "[]",
            "target_group": "BW",
            "ready_since": "2025-01-01",
            "support": False,
            "status": "proposed",
            "registered_at": NOW,
            "support_provider_id": "s2" if r == 2 else None,
        }
        for r in (1, 2)
    ],
    "offers": [
        {
            "region_id": r,
            "id": r,
            "client_id": f"k{r}",
            "unit_id": f"u{r}",
            "status": "proposed",
            "by_hand": True,
            "created_by": "test",
            "created_at": NOW,
            "expires_at": "2099-01-01 00:00:00",
        }
        for r in (1, 2)
    ],
    "refusals": [{"region_id": 1, "client_id": "k1", "unit_id": "gone", "refused_at": NOW}],
    "api_keys": [
        {
            "region_id": 2,
            "id": 1,
            "name": "corp",
            "role": "corporation",
            "corporation_id": "c2",
            "key_hash": "h" * 64,
            "prefix": "alk_x",
            "created_at": NOW,
        }
    ],
}


@pytest.fixture
def empty_database(migrated_database, tmp_path):
    """A database with no schema at all (a file, or a PostgreSQL schema of its own)."""
    kind, where = migrated_database
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    url = make_url(where)
    schema = f"svc_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _rows(engine, table: str) -> list[dict]:
    with engine.connect() as connection:
        result = connection.execute(text(f"SELECT * FROM {table}")).mappings()
        return sorted(
            (
                {
                    k: str(v)
                    for k, v in row.items()
                    if (k != "region_id" or table != "municipality_quotas")
                    # 0009 adds the unit's corporation (tested below)
                    and (k != "corporation_id" or table not in ("offers", "refusals"))
                }
                for row in result
            ),
            key=repr,
        )


def test_upgrading_from_0007_keeps_every_row_and_keys_it_by_region(empty_database):
    upgrade(empty_database, "0007")
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        for table, rows in ROWS_0007.items():
            for row in rows:
                columns = ", ".join(row)
                values = ", ".join(f":{c}" for c in row)
                connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)
    before = {table: _rows(engine, table) for table in ROWS_0007}
    engine.dispose()

    upgrade(empty_database, "head")
    engine = create_engine(empty_database)
    assert {table: _rows(engine, table) for table in ROWS_0007} == before
    with engine.connect() as connection:
        quotas = connection.execute(
            text("SELECT municipality_id, year, region_id FROM municipality_quotas")
        ).all()
    engine.dispose()
    assert sorted(quotas) == [("m1", 2026, 1), ("m2", 2025, 2), ("m2", 2026, 2)]

    # the service works on it: each region reads its own records by their ids
    maker = get_sessionmaker(empty_database)
    with maker() as session:
        set_region(session, 2)
        assert scope.get(session, t.Vacancy, "u2", corporation_id="c2").rent == 502.0
        assert scope.get(session, t.Vacancy, "u1", corporation_id="c1") is None
        assert scope.get(session, t.MunicipalityQuota, municipality_id="m2", year=2026).quota == 5
        # region 2 may now use region 1's ids
        session.add(t.Municipality(id="m1", name="Region two's m1"))
        session.add(t.MunicipalityQuota(municipality_id="m1", year=2026, quota=7))
        session.commit()
    with maker() as session:
        set_region(session, 1)
        assert scope.get(session, t.Municipality, "m1").name == "M1"
        assert scope.get(session, t.MunicipalityQuota, municipality_id="m1", year=2026).quota == 3
    # and no row points into another region: an offer of region 2 on region 1's unit is refused
    with maker() as session:
        session.add(
            t.Offer(
                region_id=2,
                client_id="k2",
                corporation_id="c1",
                unit_id="u1",
                status="refused",
                created_by="test",
                expires_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
    get_engine(empty_database).dispose()


# --- 0009: unit ids per corporation, on a database with data ----------------------------------

#: One region with two corporations as 0008 stores it (unit ids unique per region then).
ROWS_0008 = {
    "regions": [{"id": 1, "name": "one", "created_at": NOW}],
    "municipalities": [{"region_id": 1, "id": "m1", "name": "M1", "population": 10}],
    "corporations": [
        {"region_id": 1, "id": c, "name": c.upper(), "quota": None} for c in ("ca", "cb")
    ],
    "complexes": [
        {
            "region_id": 1,
            "id": "x1",
            "municipality_id": "m1",
            "units_total": 10,
            "vulnerable_residents": 1,
        }
    ],
    "vacancies": [
        {
            "region_id": 1,
            "id": unit,
            "complex_id": "x1",
            "corporation_id": corporation,
            "rooms": 2,
            "rent": 500.0,
            "accessible": False,
            "min_occupants": 1,
            "max_occupants": 2,
            "status": "open",
            "submitted_at": NOW,
        }
        for unit, corporation in (("u1", "ca"), ("u2", "cb"))
    ],
    "clients": [
        {
            "region_id": 1,
            "id": client,
            "household_size": 1,
            "needs_accessible": False,
            "preferred_municipalities": "[]",
            "excluded_municipalities": "[]",
            "target_group": "BW",
            "ready_since": "2025-01-01",
            "support": False,
            "status": "proposed",
            "registered_at": NOW,
        }
        for client in ("k1", "k2")
    ],
    "offers": [
        {
            "region_id": 1,
            "id": i,
            "client_id": f"k{i}",
            "unit_id": f"u{i}",
            "status": "proposed",
            "by_hand": True,
            "created_by": "test",
            "created_at": NOW,
            "expires_at": "2099-01-01 00:00:00",
        }
        for i in (1, 2)
    ],
    "refusals": [
        {"region_id": 1, "client_id": "k1", "unit_id": "u2", "refused_at": NOW},
        {"region_id": 1, "client_id": "k1", "unit_id": "gone", "refused_at": NOW},
    ],
}


def test_upgrading_from_0008_names_each_references_corporation(empty_database):
    upgrade(empty_database, "0008")
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        for table, rows in ROWS_0008.items():
            for row in rows:
                columns = ", ".join(row)
                values = ", ".join(f":{c}" for c in row)
                connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)
    before = {table: _rows(engine, table) for table in ROWS_0008}
    engine.dispose()

    upgrade(empty_database, "head")
    engine = create_engine(empty_database)
    assert {table: _rows(engine, table) for table in ROWS_0008} == before
    with engine.connect() as connection:
        offers = connection.execute(
            text("SELECT id, corporation_id, unit_id FROM offers ORDER BY id")
        ).all()
        refusals = connection.execute(
            text("SELECT unit_id, corporation_id FROM refusals ORDER BY unit_id")
        ).all()
    engine.dispose()
    # each offer's and refusal's corporation is its vacancy's; a refusal of no known unit: ""
    assert [tuple(o) for o in offers] == [(1, "ca", "u1"), (2, "cb", "u2")]
    assert [tuple(r) for r in refusals] == [("gone", ""), ("u2", "cb")]

    maker = get_sessionmaker(empty_database)
    with maker() as session:
        set_region(session, 1)
        # cb may now have a unit "u1" too, and an offer on it
        row = {k: v for k, v in ROWS_0008["vacancies"][1].items() if k != "submitted_at"}
        session.add(t.Vacancy(**{**row, "id": "u1"}))
        session.flush()
        session.execute(text("UPDATE offers SET status = 'withdrawn' WHERE id = 2"))
        session.add(
            t.Offer(
                id=3,  # the rows above were inserted with their ids: the sequence is behind
                client_id="k2",
                corporation_id="cb",
                unit_id="u1",
                status="proposed",
                created_by="test",
                expires_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            )
        )
        session.commit()
        assert scope.get(session, t.Vacancy, "u1", corporation_id="ca").rent == 500.0
    # an offer names a unit of its corporation: a corporation without that unit is refused
    with maker() as session:
        set_region(session, 1)
        session.add(
            t.Offer(
                client_id="k2",
                corporation_id="ca",
                unit_id="u2",
                status="refused",
                created_by="test",
                expires_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
    get_engine(empty_database).dispose()
