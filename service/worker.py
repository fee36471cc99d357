"""The child process that solves one allocation run (``jobs.py`` starts and watches it).

A run's input (the instance and solver settings) is stored when it is asked for. The child reads
it from the database, solves, and writes the proposal and the status in one transaction, and
only if the run is still its own (status ``running`` with its token): a run cancelled, timed out,
or declared interrupted is never overwritten by a late worker. So a run is either fully there or
not at all.

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

from sqlalchemy import update

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
    except MemoryError:
        proposal, error = None, memory_exhausted()
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


def memory_exhausted() -> dict:
    limit = os.environ.get("WORKER_MEMORY_LIMIT_MB", "?")
    return {
        "detail": f"The run needed more memory than a worker process may use "
        f"(WORKER_MEMORY_LIMIT_MB = {limit} MB); nothing of it was kept. Make it smaller."
    }


def _forkserver() -> mp.context.BaseContext:
    context = mp.get_context("forkserver")
    # one forkserver serves every manager, so it preloads what each of their workers needs
    context.set_forkserver_preload(PRELOAD)
    return context


#: Imported once by the forkserver: the optimiser, and the simulation with its plotting.
PRELOAD = [
    "service.worker",
    "service.jobs",
    "allocator.explain",
    "service.scenario_worker",
    "allocator.simulation.runner",
    "allocator.simulation.report",
]


def _end(process: mp.process.BaseProcess) -> None:
    process.terminate()
    process.join(5)
    if process.is_alive():
        process.kill()
        process.join(5)
