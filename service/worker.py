"""Solving runs off the request thread, in worker processes.

A run's input (the instance and solver settings) is stored when it is asked for. A worker
process reads it from the database, solves, and writes the proposal and the status in one
transaction, and only if the run is still its own (status ``running`` with its token): a run
cancelled, timed out, or declared interrupted after a restart is never overwritten by a late
worker. So a run is either fully there or not at all.

Processes come from a ``forkserver`` that has imported the optimiser once, so a run starts in
milliseconds rather than paying the import of OR-Tools every time.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from service import tables as t
from service.db import get_sessionmaker
from service.tables import utcnow

log = logging.getLogger("service.worker")

#: Beyond the solver's own time limit, for reading, eligibility and explanations.
GRACE_SECONDS = 30.0


def _watch_parent(parent_pid: int) -> None:
    # A worker whose service was killed must not keep solving: nobody will read the answer,
    # and after a restart the run is declared interrupted anyway.
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(3)


def solve_run(database_url: str, run_id: int, token: str, parent_pid: int | None = None) -> None:
    """The worker process's whole job. Exits quietly when the run is no longer its own."""
    from allocator.errors import InstanceError
    from allocator.explain import propose
    from allocator.models import parse_instance
    from allocator.solver import SolverSettings
    from service.problems import issues_of

    if parent_pid:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    maker = get_sessionmaker(database_url)
    with maker() as session:
        run = session.get(t.Run, run_id)
        if run is None or run.status != "running" or run.worker_token != token:
            return
        instance_data, settings_data = run.instance, run.solver_settings
    proposal = error = None
    try:
        instance = parse_instance(instance_data)
        proposal = propose(instance, SolverSettings(**settings_data)).model_dump(mode="json")
    except InstanceError as exc:
        error = {
            "detail": "The region's state is not a valid instance; fix the rows named.",
            "errors": [i.model_dump() for i in issues_of(exc)],
        }
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, never lost
        error = {"detail": f"The optimiser failed: {exc}", "trace": traceback.format_exc()}
    with maker() as session, session.begin():
        session.execute(
            update(t.Run)
            .where(t.Run.id == run_id, t.Run.status == "running", t.Run.worker_token == token)
            .values(
                status="done" if proposal is not None else "failed",
                proposal=proposal,
                error=error,
                finished_at=utcnow(),
            )
        )


INTERRUPTED = (
    "The service stopped while this run was being solved; nothing of it was kept. Ask for a new "
    "run."
)


def mark_interrupted(database_url: str, table: Any = t.Run, detail: str = INTERRUPTED) -> int:
    """At start-up: runs a killed service left 'running' are declared interrupted; their
    partial work was never written. Queued runs stay queued and are started now."""
    maker = get_sessionmaker(database_url)
    with maker() as session, session.begin():
        result = session.execute(
            update(table)
            .where(table.status == "running")
            .values(
                status="interrupted",
                finished_at=utcnow(),
                worker_token=None,
                error={"detail": detail},
            )
        )
        return result.rowcount


@dataclass
class _Job:
    process: mp.process.BaseProcess
    token: str
    deadline: float


def _forkserver() -> mp.context.BaseContext:
    context = mp.get_context("forkserver")
    # one forkserver serves every manager, so it preloads what each of their workers needs
    context.set_forkserver_preload(PRELOAD)
    return context


#: Imported once by the forkserver: the optimiser, and the simulation with its plotting.
PRELOAD = [
    "service.worker",
    "allocator.explain",
    "service.scenario_worker",
    "allocator.simulation.runner",
    "allocator.simulation.report",
]


class JobManager:
    """Starts queued rows of ``table`` in worker processes running ``target(database_url, id,
    token, parent_pid)``, at most ``workers`` at a time, and watches them: a process that dies
    or outlives its time limit fails its row. Rows need ``id``, ``status``, ``started_at``,
    ``finished_at``, ``error`` and ``worker_token``."""

    def __init__(
        self,
        database_url: str,
        workers: int,
        *,
        table: Any,
        target: Callable[..., None],
        limit_column: Any,
        limit_of: Callable[[Any], float],
        label: str,
        interrupted: str,
    ):
        self.database_url = database_url
        self.workers = workers
        self.table = table
        self.target = target
        self.limit_column = limit_column
        self.limit_of = limit_of
        self.label = label
        self.interrupted = interrupted
        self.context = _forkserver()
        self.jobs: dict[int, _Job] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"{label}-manager", daemon=True)

    def start(self) -> None:
        n = mark_interrupted(self.database_url, self.table, self.interrupted)
        if n:
            log.warning("%d %s(s) were interrupted by the last shutdown", n, self.label)
        self.thread.start()

    def notify(self) -> None:
        self.wake.set()

    def stop_run(self, run_id: int) -> None:
        with self.lock:
            job = self.jobs.pop(run_id, None)
        if job is not None:
            _end(job.process)
        self.wake.set()

    def shutdown(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=10)
        with self.lock:
            jobs, self.jobs = self.jobs, {}
        for job in jobs.values():
            _end(job.process)
        # runs stopped here were running; declare them interrupted now rather than at restart
        if jobs:
            mark_interrupted(self.database_url, self.table, self.interrupted)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self._reap()
                self._start_queued()
            except Exception:  # the loop must survive a database hiccup
                log.exception("%s manager", self.label)
            self.wake.wait(0.1)
            self.wake.clear()

    def _finish(self, run_id: int, job: _Job, detail: str) -> None:
        table = self.table
        maker = get_sessionmaker(self.database_url)
        with maker() as session, session.begin():
            session.execute(
                update(table)
                .where(
                    table.id == run_id, table.status == "running", table.worker_token == job.token
                )
                .values(status="failed", finished_at=utcnow(), error={"detail": detail})
            )

    def _reap(self) -> None:
        with self.lock:
            jobs = list(self.jobs.items())
        for run_id, job in jobs:
            if not job.process.is_alive():
                job.process.join()
                with self.lock:
                    self.jobs.pop(run_id, None)
                if job.process.exitcode != 0:
                    self._finish(
                        run_id,
                        job,
                        f"The worker process stopped unexpectedly (exit code "
                        f"{job.process.exitcode}); nothing of this run was kept.",
                    )
            elif time.monotonic() > job.deadline:
                with self.lock:
                    self.jobs.pop(run_id, None)
                _end(job.process)
                self._finish(run_id, job, "The run took longer than its time limit allows.")

    def _start_queued(self) -> None:
        with self.lock:
            free = self.workers - len(self.jobs)
        if free <= 0 or self.stopping.is_set():
            return
        table = self.table
        maker = get_sessionmaker(self.database_url)
        with maker() as session:
            queued = session.execute(
                select(table.id, self.limit_column)
                .where(table.status == "queued")
                .order_by(table.id)
                .limit(free)
            ).all()
            session.rollback()
        for run_id, limit_value in queued:
            token = uuid.uuid4().hex
            with maker() as session, session.begin():
                taken = session.execute(
                    update(table)
                    .where(table.id == run_id, table.status == "queued")
                    .values(status="running", started_at=utcnow(), worker_token=token)
                ).rowcount
            if not taken:
                continue  # cancelled in between
            process = self.context.Process(
                target=self.target,
                args=(self.database_url, run_id, token, os.getpid()),
                name=f"{self.label}-{run_id}",
                daemon=True,
            )
            process.start()
            deadline = time.monotonic() + self.limit_of(limit_value)
            with self.lock:
                self.jobs[run_id] = _Job(process, token, deadline)


class RunManager(JobManager):
    """Allocation runs (and the single-instance ``/scenarios``): ``solve_run`` per run."""

    def __init__(self, database_url: str, workers: int = 1):
        super().__init__(
            database_url,
            workers,
            table=t.Run,
            target=solve_run,
            limit_column=t.Run.solver_settings,
            limit_of=lambda settings: (
                float(settings.get("time_limit_seconds", 60.0)) + GRACE_SECONDS
            ),
            label="run",
            interrupted=INTERRUPTED,
        )


def _end(process: mp.process.BaseProcess) -> None:
    process.terminate()
    process.join(5)
    if process.is_alive():
        process.kill()
        process.join(5)
