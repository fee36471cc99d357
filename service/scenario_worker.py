"""Scenario simulations off the request thread, in worker processes (see ``worker.py``).

A scenario run's input (the scenario as submitted, the seeds and variants to run) is stored when
it is asked for. A worker process reads it, simulates every variant x seed with
``allocator.simulation``, and writes the KPI rows, the report and the plots together with the
status ``done`` in one transaction, and only while the run is still its own (status ``running``
with its token): a run cancelled, timed out or declared interrupted is never overwritten.

The forkserver preloads the simulation, pandas and matplotlib (``worker.PRELOAD``), so a run
does not import them again; the web process, which imports this module, never does.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy import update

from allocator.simulation.scenario import Scenario, ScenarioError, parse_scenario
from service import tables as t
from service.db import get_sessionmaker
from service.tables import utcnow
from service.worker import _watch_parent, memory_exhausted

#: The plots the report links to, by the name the API serves them under (``{name}.png``).
PlotName = Literal["backlog", "waiting", "quota_use", "placements", "paired"]
PLOTS: tuple[str, ...] = get_args(PlotName)


def resolve(data: dict[str, Any], seeds: list[int], variants: list[str]) -> Scenario:
    """The scenario as the run simulates it: the stored file with its seeds and variants."""
    scenario = parse_scenario(data).with_seeds(seeds)
    return scenario.only(variants)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _service_report(markdown: str) -> str:
    """The report as the API serves it: plots linked where ``GET .../plots/{name}.png`` is
    (relative to ``.../report``), and the files section naming the endpoints."""
    for name in PLOTS:
        markdown = markdown.replace(f"]({name}.png)", f"](plots/{name}.png)")
    head, _, _ = markdown.partition("\n## Files\n")
    return (
        head
        + "\n## Data\n\n- `kpis` (JSON, or `kpis?format=csv`): every KPI per variant, policy and "
        "group: mean, standard deviation, 95% interval, number of seeds.\n"
    )


def _translated_plots(results, out: Path) -> dict[str, bytes]:
    """The plots once more in every other language of the pages, their texts from the pages'
    catalogues, stored beside the core's English ones (which the API serves) under the names
    the pages ask for (``placements.nl``): drawn here, once, so the web process never draws."""
    from allocator.simulation.report import write_plots
    from service.web.i18n import Texts
    from service.web.report import plot_labels, stored_plot, translated_plots

    plots = {}
    for locale in translated_plots():
        write_plots(results, out, plot_labels(Texts(locale)), suffix=f".{locale}")
        for name in PLOTS:
            plots[stored_plot(name, locale)] = (out / f"{name}.{locale}.png").read_bytes()
    return plots


def simulate_run(database_url: str, run_id: int, token: str, parent_pid: int | None = None) -> None:
    """The worker process's whole job. Exits quietly when the run is no longer its own."""
    if parent_pid:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    maker = get_sessionmaker(database_url)
    table = t.ScenarioRun
    mine = (table.id == run_id, table.status == "running", table.worker_token == token)
    with maker() as session:
        run = session.get(table, run_id)
        if run is None or run.status != "running" or run.worker_token != token:
            return
        data, seeds, variants = run.scenario, run.seeds, run.variants

    def progress(done: int, total: int) -> None:
        with maker() as session, session.begin():
            still_mine = session.execute(
                update(table).where(*mine).values(tasks_done=done)
            ).rowcount
        if not still_mine:
            os._exit(0)  # cancelled or timed out: nobody will read the rest

    kpis = report = error = None
    plots: dict[str, bytes] = {}
    try:
        from allocator.simulation.report import write_outputs
        from allocator.simulation.runner import run_scenario

        results = run_scenario(resolve(data, seeds, variants), progress=progress)
        with tempfile.TemporaryDirectory(prefix="scenario-run-") as folder:
            out = Path(folder)
            write_outputs(results, out)
            report = _service_report((out / "report.md").read_text(encoding="utf-8"))
            plots = {name: (out / f"{name}.png").read_bytes() for name in PLOTS}
            plots |= _translated_plots(results, out)
        kpis = [
            {k: _finite(v) for k, v in row.items()}
            for row in results.kpis.to_dict(orient="records")
        ]
    except MemoryError:
        kpis, error = None, memory_exhausted()
    except ScenarioError as exc:  # checked when submitted; only a changed simulation gets here
        error = {"detail": "The scenario cannot be simulated.", "errors": exc.issues}
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, never lost
        error = {"detail": f"The simulation failed: {exc}", "trace": traceback.format_exc()}
    with maker() as session, session.begin():
        finished = session.execute(
            update(table)
            .where(*mine)
            .values(
                status="done" if error is None else "failed",
                kpis=kpis,
                report=report,
                error=error,
                finished_at=utcnow(),
            )
        ).rowcount
        if finished:
            session.add_all(
                t.ScenarioRunPlot(run_id=run_id, name=name, png=png) for name, png in plots.items()
            )
