"""Engines and sessions. SQLite by default, PostgreSQL through ``DATABASE_URL``."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@lru_cache
def get_engine(url: str) -> Engine:
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(
        url,
        # requests run on a thread pool; a connection is only ever used by one at a time
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock at the start: two requests that both read, then write,
        # would otherwise deadlock on the lock upgrade and one would fail with "database is
        # locked". Serialising writers is what makes the offer checks safe on SQLite.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@lru_cache
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def lock_region(session: Session) -> None:
    """Serialise the writers that check rules over many rows (offers, quotas) on PostgreSQL.

    The unique indexes on open offers are the final guard; this lock keeps two concurrent
    requests from each passing a quota check that only one of them may pass. SQLite already
    serialises writers (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
