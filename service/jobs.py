"""Jobs (allocation runs, scenario runs) off the request thread, on any number of processes and
hosts that share one database.

A job's input is stored in its row when it is asked for (status ``queued``). Exactly one worker
takes it: ``UPDATE … SET status = 'running' WHERE status = 'queued'`` is won by one transaction
only. The worker solves in a child process (``worker.solve_run``, ``scenario_worker.simulate_run``)
with a memory limit, and renews the row's *lease* every second. The renewal is also how a
cancellation reaches the worker that holds the job: when the row is no longer its own, it ends
the child. A row whose lease has run out (its worker or host died) is marked interrupted by
``reap_leases``, which every worker and every web process with workers runs now and then. No
process ever interrupts a job because it starts.

How a job reaches a worker (``Settings.queue``):

- ``embedded`` (SQLite, the default of ``make run``): the web process's own dispatcher thread,
  woken by every new job, runs ``RUN_WORKERS`` jobs at a time.
- ``procrastinate`` (PostgreSQL): a procrastinate queue in the same database (LISTEN/NOTIFY, no
  polling); ``python -m service worker`` processes take the jobs, and so does a web process whose
  ``RUN_WORKERS`` is above 0.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import resource
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import make_url, or_, select, update

from service import tables as t
from service.audit import SYSTEM, record
from service.db import get_sessionmaker
from service.settings import Settings
from service.tables import utcnow
from service.worker import GRACE_SECONDS, _end, _forkserver, solve_run

log = logging.getLogger("service.jobs")

#: How often a worker renews its lease and looks whether its job was cancelled.
HEARTBEAT_SECONDS = 1.0
#: How often a process with workers erases clients past the retention period (retention.py).
PURGE_SECONDS = 24 * 3600.0


class Housekeeping:
    """What every process with workers does now and then, besides jobs: interrupt jobs whose
    lease ran out (every half lease), and erase personal data past its retention (daily, the
    first time a minute after start). Both are idempotent: many processes may do them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.next_reap = 0.0
        self.next_purge = time.monotonic() + 60

    def __call__(self) -> None:
        from service.retention import purge_now

        now = time.monotonic()
        if now >= self.next_reap:
            self.next_reap = now + self.settings.job_lease_seconds / 2
            reap_leases(self.settings.database_url)
        if now >= self.next_purge:
            self.next_purge = now + PURGE_SECONDS
            purge_now(self.settings.database_url, self.settings.retention_months)


@dataclass(frozen=True)
class Kind:
    """One kind of job: its table, the child process's work, and its wall-clock limit."""

    name: str
    queue: str
    table: Any
    target: Callable[..., None]
    limit_of: Callable[[Any], float]
    interrupted: str
    workers_of: Callable[[Settings], int]


def _run_limit(row: t.Run) -> float:
    return float(row.solver_settings.get("time_limit_seconds", 60.0)) + GRACE_SECONDS


@lru_cache
def kinds() -> dict[str, Kind]:
    from service import scenario_worker

    return {
        "run": Kind(
            "run",
            "runs",
            t.Run,
            solve_run,
            _run_limit,
            "The worker solving this run stopped (its lease ran out); nothing of it was kept. "
            "Ask for a new run.",
            lambda s: s.run_workers,
        ),
        "scenario_run": Kind(
            "scenario_run",
            "scenario-runs",
            t.ScenarioRun,
            scenario_worker.simulate_run,
            lambda row: float(row.time_limit_seconds),
            "The worker simulating this scenario stopped (its lease ran out); nothing of it was "
            "kept. Submit it again.",
            lambda s: s.scenario_run_workers,
        ),
    }


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- one job, start to end ------------------------------------------------------------------


def _child(target, database_url: str, row_id: int, token: str, parent: int, memory_mb: int):
    """The child process: the job's whole work, within ``memory_mb`` beyond what the process
    already maps (the optimiser and the simulation, preloaded by the forkserver)."""
    limit = _mapped_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ["WORKER_MEMORY_LIMIT_MB"] = str(memory_mb)
    target(database_url, row_id, token, parent)


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:  # not Linux: count from nothing
        return 0


def claim(database_url: str, kind: Kind, row_id: int, lease: float) -> tuple[str, float] | None:
    """Take a queued job: only one worker's UPDATE finds it queued. Returns the token that makes
    the row this worker's, and the job's wall-clock limit."""
    token = uuid.uuid4().hex
    table = kind.table
    with get_sessionmaker(database_url)() as session, session.begin():
        now = utcnow()
        taken = session.execute(
            update(table)
            .where(table.id == row_id, table.status == "queued")
            .values(
                status="running",
                started_at=now,
                worker_token=token,
                worker=worker_name(),
                lease_expires_at=now + dt.timedelta(seconds=lease),
            )
        ).rowcount
        if not taken:
            return None
        row = session.get(table, row_id)
        limit = kind.limit_of(row)
        record(
            session,
            SYSTEM,
            f"{kind.name}.started",
            kind.name,
            row_id,
            region_id=row.region_id,
            worker=worker_name(),
        )
    return token, limit


def _mine(kind: Kind, row_id: int, token: str):
    table = kind.table
    return (table.id == row_id, table.status == "running", table.worker_token == token)


def _renew(database_url: str, kind: Kind, row_id: int, token: str, lease: float) -> bool:
    with get_sessionmaker(database_url)() as session, session.begin():
        return bool(
            session.execute(
                update(kind.table)
                .where(*_mine(kind, row_id, token))
                .values(lease_expires_at=utcnow() + dt.timedelta(seconds=lease))
            ).rowcount
        )


def _close(database_url: str, kind: Kind, row_id: int, token: str, status: str, detail: str):
    with get_sessionmaker(database_url)() as session, session.begin():
        session.execute(
            update(kind.table)
            .where(*_mine(kind, row_id, token))
            .values(status=status, finished_at=utcnow(), error={"detail": detail})
        )


class _Lease(threading.Thread):
    """Renews a claimed job's lease every second, from the moment it is claimed (starting the
    child may take a while), until told to stop or until the row is no longer the worker's."""

    def __init__(self, url: str, kind: Kind, row_id: int, token: str, lease: float):
        super().__init__(name=f"lease-{kind.name}-{row_id}", daemon=True)
        self.args = (url, kind, row_id, token, lease)
        self.done = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_SECONDS):
            try:
                if not _renew(*self.args):
                    self.lost.set()  # cancelled, or declared interrupted
                    return
            except Exception:  # a database hiccup: try again; the lease has room for it
                log.warning("could not renew the lease of %s %s", self.args[1].name, self.args[2])


def execute(settings: Settings, kind: Kind, row_id: int, stopping: threading.Event) -> None:
    """Claim the job, run it in a child process, hold its lease until the child ends."""
    url, lease = settings.database_url, settings.job_lease_seconds
    claimed = claim(url, kind, row_id, lease)
    if claimed is None:
        return  # another worker has it, or it was cancelled
    token, limit = claimed
    heartbeat = _Lease(url, kind, row_id, token, lease)
    heartbeat.start()
    try:
        _watch(settings, kind, row_id, token, limit, heartbeat, stopping)
    finally:
        heartbeat.done.set()


def _watch(settings, kind, row_id, token, limit, heartbeat: _Lease, stopping) -> None:
    url, memory = settings.database_url, settings.worker_memory_limit_mb
    process = _forkserver().Process(
        target=_child,
        args=(kind.target, url, row_id, token, os.getpid(), memory),
        name=f"{kind.name}-{row_id}",
        daemon=True,
    )
    process.start()
    deadline = time.monotonic() + limit
    while True:
        process.join(HEARTBEAT_SECONDS / 4)
        if not process.is_alive():
            if process.exitcode != 0:
                _close(
                    url,
                    kind,
                    row_id,
                    token,
                    "failed",
                    f"The worker process stopped unexpectedly (exit code {process.exitcode}; "
                    f"its memory limit is WORKER_MEMORY_LIMIT_MB = {memory} MB); nothing of "
                    "it was kept.",
                )
            return
        if heartbeat.lost.is_set():
            _end(process)  # cancelled: the row is no longer this worker's
            return
        if time.monotonic() > deadline:
            _end(process)
            _close(url, kind, row_id, token, "failed", "The run took longer than its time limit.")
            return
        if stopping.is_set():
            _end(process)
            _close(url, kind, row_id, token, "interrupted", kind.interrupted)
            return


def warm_up() -> None:
    """Start the forkserver (it imports the optimiser once) before the first job needs it."""
    threading.Thread(
        target=lambda: _forkserver().Process(target=_noop).start(), daemon=True
    ).start()


def _noop() -> None:
    pass


def reap_leases(database_url: str) -> int:
    """Jobs whose worker stopped renewing their lease (it died, or its host) are interrupted."""
    n = 0
    with get_sessionmaker(database_url)() as session, session.begin():
        for kind in kinds().values():
            table = kind.table
            n += session.execute(
                update(table)
                .where(
                    table.status == "running",
                    or_(table.lease_expires_at < utcnow(), table.lease_expires_at.is_(None)),
                )
                .values(
                    status="interrupted",
                    finished_at=utcnow(),
                    worker_token=None,
                    error={"detail": kind.interrupted},
                )
            ).rowcount
    if n:
        log.warning("%d job(s) interrupted: their worker stopped renewing the lease", n)
    return n


# --- embedded: the web process runs its own jobs (SQLite) -------------------------------------


class EmbeddedQueue:
    """A dispatcher thread in the web process: woken by each new job (and every few seconds, for
    jobs queued by another process), it starts queued jobs on threads, each holding one child
    process, at most the kind's workers at a time."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.running: dict[str, set[threading.Thread]] = {k: set() for k in kinds()}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="job-dispatcher", daemon=True)

    def start(self) -> None:
        if any(k.workers_of(self.settings) > 0 for k in kinds().values()):
            warm_up()
        self.thread.start()

    def enqueue(self, kind: str, row_id: int) -> None:
        self.wake.set()

    def shutdown(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(10)
        with self.lock:
            threads = [th for group in self.running.values() for th in group]
        for thread in threads:
            thread.join(15)

    def _loop(self) -> None:
        housekeeping = Housekeeping(self.settings)
        while not self.stopping.is_set():
            try:
                housekeeping()
                for kind in kinds().values():
                    self._start_queued(kind)
            except Exception:  # the loop must survive a database hiccup
                log.exception("job dispatcher")
            self.wake.wait(2.0)
            self.wake.clear()

    def _start_queued(self, kind: Kind) -> None:
        with self.lock:
            free = kind.workers_of(self.settings) - len(self.running[kind.name])
        if free <= 0:
            return
        with get_sessionmaker(self.settings.database_url)() as session:
            queued = session.scalars(
                select(kind.table.id)
                .where(kind.table.status == "queued")
                .order_by(kind.table.id)
                .limit(free)
            ).all()
        for row_id in queued:
            thread = threading.Thread(
                target=self._execute, args=(kind, row_id), name=f"{kind.name}-{row_id}"
            )
            with self.lock:
                self.running[kind.name].add(thread)
            thread.start()

    def _execute(self, kind: Kind, row_id: int) -> None:
        try:
            execute(self.settings, kind, row_id, self.stopping)
        except Exception:
            log.exception("%s %s", kind.name, row_id)
        finally:
            with self.lock:
                self.running[kind.name].discard(threading.current_thread())
            self.wake.set()


# --- procrastinate: a queue in PostgreSQL, any number of workers ------------------------------


def conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (psycopg's own driver name removed)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


#: The settings and stop signal of this process's procrastinate worker, by database URL.
_WORKERS: dict[str, tuple[Settings, threading.Event]] = {}


def build_app(database_url: str):
    import procrastinate

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=4
        )
    )

    @app.task(name="service.job", queue="runs")
    def job(kind: str, row_id: int) -> None:
        settings, stopping = _WORKERS[database_url]
        execute(settings, kinds()[kind], row_id, stopping)

    return app


@lru_cache
def deferring_app(database_url: str):
    """The app web processes put jobs on the queue with (a small synchronous pool)."""
    return build_app(database_url).open()


class ProcrastinateQueue:
    """Puts jobs on the procrastinate queue; with workers > 0, also takes them (a procrastinate
    worker on a thread of its own, for ``serve`` alone or ``python -m service worker``)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stopping = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self.thread = threading.Thread(target=self._run, name="procrastinate", daemon=True)
        self.reaper = threading.Thread(target=self._reap, name="lease-reaper", daemon=True)

    def has_workers(self) -> bool:
        return any(k.workers_of(self.settings) > 0 for k in kinds().values())

    def start(self) -> None:
        if self.has_workers():
            _WORKERS[self.settings.database_url] = (self.settings, self.stopping)
            warm_up()
            self.thread.start()
            self.reaper.start()

    def enqueue(self, kind: str, row_id: int) -> None:
        app = deferring_app(self.settings.database_url)
        app.configure_task("service.job", queue=kinds()[kind].queue).defer(kind=kind, row_id=row_id)

    def shutdown(self) -> None:
        self.stopping.set()
        if self.loop is not None and self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        if self.thread.is_alive():
            self.thread.join(30)

    def wait(self) -> None:
        self.thread.join()

    def _reap(self) -> None:
        housekeeping = Housekeeping(self.settings)
        while not self.stopping.wait(min(2.0, self.settings.job_lease_seconds / 2)):
            try:
                housekeeping()
            except Exception:
                log.exception("housekeeping")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("procrastinate worker")

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        app = build_app(self.settings.database_url)
        async with app.open_async():
            # the workers' coroutines made only once the app is open: made before, a failure to
            # open (a stop during start-up) left them never awaited (a RuntimeWarning in tests)
            await asyncio.gather(
                *(
                    app.run_worker_async(
                        queues=[kind.queue],
                        concurrency=kind.workers_of(self.settings),
                        name=f"{worker_name()}-{kind.queue}",
                        install_signal_handlers=False,
                        delete_jobs="successful",
                        fetch_job_polling_interval=5.0,
                    )
                    for kind in kinds().values()
                    if kind.workers_of(self.settings) > 0
                )
            )


def make_queue(settings: Settings) -> EmbeddedQueue | ProcrastinateQueue:
    if settings.queue == "procrastinate":
        return ProcrastinateQueue(settings)
    return EmbeddedQueue(settings)
