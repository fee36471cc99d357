"""Engines and sessions. SQLite by default, PostgreSQL through ``DATABASE_URL``.

Two kinds of session: a *read* session (GET requests) and a *write* session (every other request,
the workers, the commands). On PostgreSQL they are the same; on SQLite a write session begins with
``BEGIN IMMEDIATE`` (it takes the write lock at once, so two writers never deadlock on the lock
upgrade) and a read session with a plain ``BEGIN`` (in WAL mode it reads a snapshot and never
waits for a writer).

Writers that decide from rows they read lock those rows (``SELECT … FOR UPDATE``), always in one
order: vacancies, then clients, then offers, each by id (``service/offers.py``). A deadlock or a
serialisation failure that PostgreSQL reports anyway is retried a bounded number of times
(``retrying``); after that the request answers 503 with Retry-After.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

#: Request threads per web process (anyio's pool, set in ``main.py``); every request holds one
#: connection, so each pool is at least this large and a request never waits for another's.
REQUEST_THREADS = 40
#: Seconds a request waits for a pooled connection before it answers 503 (Retry-After).
POOL_TIMEOUT = 10
#: Attempts of a transaction that PostgreSQL ended with a deadlock or serialisation failure.
ATTEMPTS = 4
_RETRYABLE = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@lru_cache
def get_engine(url: str) -> Engine:
    if not is_sqlite(url):
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=REQUEST_THREADS // 2,
            max_overflow=REQUEST_THREADS // 2 + 8,  # + the job managers' own sessions
            pool_timeout=POOL_TIMEOUT,
        )
    engine = create_engine(
        url,
        # requests run on a thread pool; a connection is only ever used by one at a time
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=REQUEST_THREADS + 8,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; one fsync per checkpoint
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


@event.listens_for(Session, "after_begin")
def _begin_on_sqlite(session: Session, _transaction, connection) -> None:
    """SQLite: a writer's transaction takes the write lock at once (two requests that both read,
    then write, would otherwise deadlock on the lock upgrade); a reader's takes none. The
    session says which it is (``info["write"]``)."""
    if connection.dialect.name == "sqlite":
        write = session.info.get("write", True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@event.listens_for(Session, "after_commit")
def _a_request_writes_once(session: Session) -> None:
    """A request writes in one transaction; what it reads after its commit (to answer) takes no
    write lock. (FastAPI serialises the answer on another pool thread; a lock held until then
    would keep every writer waiting for it, and it for a thread.)"""
    if session.info.get("request"):
        session.info["write"] = False


@lru_cache
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    """Sessions that may write (on SQLite: ``BEGIN IMMEDIATE``)."""
    return sessionmaker(get_engine(url), expire_on_commit=False, info={"write": True})


@lru_cache
def get_read_sessionmaker(url: str) -> sessionmaker[Session]:
    """Sessions that only read (on SQLite: a plain ``BEGIN``, no lock)."""
    return sessionmaker(get_engine(url), expire_on_commit=False, info={"write": False})


def lock_region(session: Session) -> None:
    """Serialise the writers that check rules over many rows (offers, quotas) on PostgreSQL.

    Row locks guard each offer's own rows; this lock keeps two concurrent requests from each
    passing a quota check that only one of them may pass. SQLite already serialises writers.
    One lock for the whole installation, not one per region: a corporation owning buildings
    in several regions has one quota over all of them, so two regions' offers can meet at it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727001)"))


class TryAgain(Exception):
    """Raised inside a transaction that found the rows it locked changed under it: the whole
    transaction is run again (``retrying``)."""


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, TryAgain):
        return True
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in _RETRYABLE


F = TypeVar("F", bound=Callable[..., Any])


def retrying(fn: F) -> F:
    """Run a route (or any function taking ``session=``) again, from a rolled-back session,
    when the database ended its transaction with a deadlock or a serialisation failure. The
    last failure propagates: a 503 problem with Retry-After (``problems.py``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session: Session = kwargs["session"]
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except (OperationalError, TryAgain) as exc:
                if attempt == ATTEMPTS or not retryable(exc):
                    raise
                session.rollback()
                session.expire_all()
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper  # type: ignore[return-value]
