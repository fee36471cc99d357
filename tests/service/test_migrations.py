"""The schema comes from the Alembic migrations, and they match the SQLAlchemy models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from service import tables as t
from service.db import get_sessionmaker
from service.migrate import include_object
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
                unit_id=accepted.unit_id,
                status="proposed",
                created_by="test",
                expires_at=accepted.expires_at,
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
