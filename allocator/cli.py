"""The command line: solve, validate, explain, alternatives, schema, generate, demo.

Converting and printing only; the work is in the modules below. Bad input exits with code 2 and a
message naming table, row and field, and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from allocator import io
from allocator.errors import InputIssue, InstanceError
from allocator.models import Instance, Proposal, ProposalPairs
from allocator.solver import SolverSettings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Allocation optimiser for people leaving sheltered care (uitstroom).",
)
# Piped output (a file, CI) is not cut to 80 columns: the tables are meant to be read whole.
out = Console(width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 180)


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log where the time goes (to stderr).")
    ] = False,
) -> None:
    """Allocation optimiser for people leaving sheltered care (uitstroom)."""
    if verbose:
        logging.basicConfig(
            level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=err)]
        )


DEMO = Path(__file__).resolve().parent.parent / "scenarios" / "westfriesland" / "instance.json"


class Format(StrEnum):
    json = "json"
    table = "table"
    csv = "csv"
    xlsx = "xlsx"


InstanceArg = Annotated[
    Path, typer.Argument(help="Instance: a .json file, a folder of CSV files or an .xlsx workbook.")
]
TimeLimit = Annotated[
    float, typer.Option("--time-limit", help="Seconds for all objective levels together.")
]
Workers = Annotated[int, typer.Option(help="CP-SAT workers; 1 is deterministic.")]
Seed = Annotated[int, typer.Option(help="CP-SAT random seed.")]


class Method(StrEnum):
    auto = "auto"
    lp = "lp"
    parts = "parts"
    cp_sat = "cp-sat"


MethodOpt = Annotated[
    Method,
    typer.Option(
        "--method",
        help="auto: the fastest proven path per part; cp-sat: one CP-SAT model (the reference).",
    ),
]
ReferenceDate = Annotated[
    dt.datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Override policy.reference_date (YYYY-MM-DD)."),
]


def refuse(kind: str, issues: list) -> typer.Exit:
    """Print every issue of bad input; the caller raises the returned exit (code 2)."""
    err.print(f"[bold red]{kind}[/] — {len(issues)} problem(s):")
    for issue in issues:
        err.print(f"  • {issue}", markup=False, highlight=False)
    return typer.Exit(code=2)


@contextmanager
def input_errors() -> Iterator[None]:
    """Bad input: print every issue, exit 2."""
    try:
        yield
    except InstanceError as exc:
        raise refuse("Input error", exc.issues) from None


def _settings(
    time_limit: float, workers: int, seed: int, method: Method = Method.auto
) -> SolverSettings:
    try:
        return SolverSettings(
            time_limit_seconds=time_limit, workers=workers, seed=seed, method=method.value
        )
    except ValidationError as exc:
        raise InstanceError(
            [InputIssue("settings", None, str(e["loc"][0]), e["msg"]) for e in exc.errors()]
        ) from None


def _load(path: Path, reference_date: dt.datetime | None = None) -> Instance:
    instance = io.read_instance(path)
    if reference_date is not None:
        policy = instance.policy.model_copy(update={"reference_date": reference_date.date()})
        instance = instance.with_changes(policy=policy)
    return instance


def _client_known(instance: Instance, client_id: str) -> None:
    if not instance.has("clients", client_id):
        raise InstanceError([InputIssue("clients", client_id, "id", "unknown client id")])


@contextmanager
def _progress(label: str) -> Iterator:
    """A progress bar on stderr naming the current step (parts done of all parts)."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # A bar that is not shown (stderr is a file or a pipe) is not drawn either: its refresh
    # thread would take the interpreter ten times a second from the run it reports on.
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(label, total=None)

        def step(message: str, done: int | None = None, total: int | None = None) -> None:
            bar.update(task, description=f"{label}: {message}", completed=done or 0, total=total)

        yield step


def _print_proposal(proposal: Proposal) -> None:
    o = proposal.objective
    out.print(
        f"[bold]Proposal[/] — {proposal.status} ({'proven' if proposal.proven else 'not proven'}), "
        f"reference date {proposal.reference_date}: placed {o.placed}, waiting days "
        f"{o.waiting_days}, rank sum {o.rank_sum}"
    )
    table = Table(title="Assignments", show_lines=False)
    for col in ("client", "unit", "municipality", "complex", "corp.", "rank", "waited", "why"):
        table.add_column(col, overflow="fold")
    for a in proposal.assignments:
        table.add_row(
            a.client_id,
            a.unit_id,
            a.municipality_id,
            a.complex_id,
            a.corporation_id,
            str(a.preference_rank),
            str(a.waiting_days),
            a.explanation,
        )
    out.print(table)
    if proposal.unplaced:
        table = Table(title="Not placed")
        for col in ("client", "waited", "eligible", "reasons"):
            table.add_column(col, overflow="fold")
        for u in proposal.unplaced:
            table.add_row(
                u.client_id,
                str(u.waiting_days),
                str(u.eligible_units),
                " ".join(r.message for r in u.reasons),
            )
        out.print(table)
    if proposal.summaries:
        table = Table(title="Quota per municipality")
        for col in ("municipality", "quota", "used", "left"):
            table.add_column(col)
        for m in proposal.summaries.municipalities:
            table.add_row(m.name, str(m.quota), str(m.used), str(m.left))
        out.print(table)
        table = Table(title="Corporations")
        for col in ("corporation", "quota", "used", "left"):
            table.add_column(col)
        for c in proposal.summaries.corporations:
            table.add_row(c.name, _opt(c.quota), str(c.used), _opt(c.left))
        out.print(table)
        table = Table(title="Magic Mix per complex (vulnerable households)")
        for col in ("complex", "municipality", "units", "cap", "before", "after"):
            table.add_column(col)
        for cx in proposal.summaries.complexes:
            table.add_row(
                cx.complex_id,
                cx.municipality_id,
                str(cx.units_total),
                str(cx.cap),
                str(cx.vulnerable_before),
                str(cx.vulnerable_after),
            )
        out.print(table)
    s = proposal.solver
    levels = ", ".join(
        f"{lv.level}={lv.value} ({lv.status}, bound {lv.bound}, {lv.wall_seconds:.2f}s)"
        for lv in s.levels
    )
    out.print(
        f"Solver {s.engine} {s.version}: {s.eligible_pairs} eligible pairs; eligibility "
        f"{s.eligibility_seconds:.2f}s, build {s.build_seconds:.2f}s, solve "
        f"{s.solve_seconds:.2f}s; {levels}" + (f"; {s.note}" if s.note else "")
    )


def _opt(value: int | None) -> str:
    return "—" if value is None else str(value)


@contextmanager
def _collecting_less() -> Iterator[None]:
    """Python's cyclic garbage collector, tuned for one run: by default it walks every live
    object again and again while a run builds hundreds of thousands that all stay alive (the
    instance, the solver's columns, the proposal): over a second of a national solve, with
    nothing to collect. Within the block the young objects are looked at in larger batches, and
    what the caller freezes (``gc.freeze``: the loaded instance) is left out of every walk; both
    are undone at the end, for a caller that runs more than this one command (one that froze
    objects of its own keeps them frozen)."""
    threshold = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if not frozen_before:
            gc.unfreeze()


def _propose(instance: Instance, settings: SolverSettings) -> Proposal:
    from allocator.explain import propose

    with _progress("Solving") as step:
        return propose(instance, settings, progress=step)


@app.command()
def solve(
    instance_path: InstanceArg,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write here; format from the suffix unless --format."),
    ] = None,
    fmt: Annotated[Format | None, typer.Option("--format", "-f")] = None,
    time_limit: TimeLimit = 60.0,
    workers: Workers = 1,
    seed: Seed = 0,
    method: MethodOpt = Method.auto,
    reference_date: ReferenceDate = None,
) -> None:
    """Solve an instance and print or write the proposal."""
    with _collecting_less():
        with input_errors():
            settings = _settings(time_limit, workers, seed, method)
            instance = _load(instance_path, reference_date)
            gc.freeze()  # the instance lives as long as the run
            proposal = _propose(instance, settings)
        chosen = fmt or (Format.table if out_path is None else None)
        if out_path is None:
            if chosen == Format.json:
                out.print_json(proposal.model_dump_json())
            elif chosen == Format.table:
                _print_proposal(proposal)
            else:
                err.print("--format csv/xlsx needs --out")
                raise typer.Exit(code=2)
            return
        io.write_proposal(proposal, out_path, None if chosen is None else chosen.value)
        err.print(
            f"Wrote {out_path}: {proposal.objective.placed} placed, {len(proposal.unplaced)} not "
            f"placed, {proposal.status}."
        )


@app.command()
def validate(
    instance_path: InstanceArg,
    proposal_path: Annotated[Path, typer.Argument(help="A proposal JSON (needs `assignments`).")],
) -> None:
    """List every rule a proposal breaks. Exit 0 when valid, 1 when not, 2 on bad input."""
    from allocator.validator import objective_of
    from allocator.validator import validate as check

    with input_errors():
        instance = _load(instance_path)
        pairs = _read_pairs(proposal_path)
    violations = check(instance, pairs)
    if not violations:
        known = all(instance.has("clients", c) for c, _ in pairs)
        values = objective_of(instance, pairs) if known else None
        out.print(f"[green]Valid[/]: {len(pairs)} assignments break no rule. Objective {values}.")
        return
    out.print(f"[red]{len(violations)} violation(s)[/]:")
    for v in violations:
        out.print(f"  • {v}", markup=False, highlight=False)
    raise typer.Exit(code=1)


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstanceError(
            [InputIssue("proposal", None, None, f"file not found: {path}")]
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InstanceError(
            [InputIssue("proposal", None, None, f"not valid JSON: {exc}")]
        ) from None
    try:
        parsed = TypeAdapter(ProposalPairs).validate_python(raw)
    except ValidationError as exc:
        raise InstanceError(
            [
                InputIssue("proposal", None, ".".join(str(p) for p in e["loc"]) or None, e["msg"])
                for e in exc.errors()
            ]
        ) from None
    return [(a.client_id, a.unit_id) for a in parsed.assignments]


@app.command()
def explain(
    instance_path: InstanceArg,
    client: Annotated[
        str | None,
        typer.Option("--client", help="Explain one client, re-solving with it forced in."),
    ] = None,
    time_limit: TimeLimit = 60.0,
    workers: Workers = 1,
    seed: Seed = 0,
    method: MethodOpt = Method.auto,
) -> None:
    """Why each client is or is not placed; for one client also what placing it would cost."""
    from allocator.explain import forced_cost, make_proposal
    from allocator.solver import solve as run

    with _collecting_less():
        with input_errors():
            settings = _settings(time_limit, workers, seed, method)
            instance = _load(instance_path)
            gc.freeze()  # the instance lives as long as the run (``_collecting_less``)
            if client is not None:
                _client_known(instance, client)
            with _progress("Solving") as step:
                solution = run(instance, settings, progress=step)
        proposal = make_proposal(instance, solution)
        lines = [
            (a.client_id, "placed", a.explanation)
            for a in proposal.assignments
            if client in (None, a.client_id)
        ] + [
            (u.client_id, "not placed", " ".join(r.message for r in u.reasons))
            for u in proposal.unplaced
            if client in (None, u.client_id)
        ]
        table = Table(title="Explanations")
        for col in ("client", "outcome", "why"):
            table.add_column(col, overflow="fold")
        for row in lines:
            table.add_row(*row)
        out.print(table)
        if client is not None and client not in {a.client_id for a in proposal.assignments}:
            with _progress(f"Re-solving with {client} forced in"):
                cost = forced_cost(instance, client, solution, settings)
            out.print(cost.message)


@app.command()
def alternatives(
    instance_path: InstanceArg,
    client: Annotated[str, typer.Option("--client", help="The client to find units for.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many alternatives.")] = 3,
    time_limit: TimeLimit = 60.0,
    workers: Workers = 1,
    seed: Seed = 0,
    method: MethodOpt = Method.auto,
) -> None:
    """The k best units for one client and what each would cost the rest of the proposal."""
    from allocator.alternatives import alternatives as find

    with _collecting_less():
        with input_errors():
            settings = _settings(time_limit, workers, seed, method)
            instance = _load(instance_path)
            gc.freeze()  # the instance lives as long as the run (``_collecting_less``)
            _client_known(instance, client)
            with _progress(f"Alternatives for {client}") as step:
                base, found = find(instance, client, k, settings, progress=step)
        current = dict(base.assignments).get(client)
        out.print(
            f"Client {client}: in the proposal {'unit ' + current if current else 'not placed'}; "
            f"proposal objective {base.objective}."
        )
        table = Table(title=f"Best {k} units for {client}")
        for col in ("unit", "municipality", "rank", "change against the proposal", "also", "note"):
            table.add_column(col, overflow="fold")
        for a in found:
            note = a.blocked_by or ("" if a.proven else "not proven (time limit)")
            table.add_row(
                a.unit_id,
                a.municipality_id,
                str(a.preference_rank),
                a.change if a.delta else "—",
                ", ".join(a.same_as[:5]) + (" …" if len(a.same_as) > 5 else ""),
                "; ".join(x for x in (a.withdraws, note) if x),
            )
        out.print(table)
        if not found:
            out.print("No eligible unit for this client.")


class SchemaOf(StrEnum):
    instance = "instance"
    proposal = "proposal"


@app.command()
def schema(
    of: Annotated[SchemaOf, typer.Argument(help="Which document.")] = SchemaOf.instance,
) -> None:
    """Print the JSON Schema of the instance (default) or of the proposal."""
    model = Instance if of == SchemaOf.instance else Proposal
    sys.stdout.write(json.dumps(model.model_json_schema(), indent=2) + "\n")


@app.command()
def generate(
    clients: Annotated[int, typer.Option("--clients", min=0)] = 150,
    units: Annotated[int, typer.Option("--units", min=0)] = 600,
    municipalities: Annotated[int, typer.Option("--municipalities", min=1)] = 8,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help=".json, .xlsx or a folder for CSV.")
    ] = None,
    national_corporations: Annotated[
        int | None,
        typer.Option(
            "--national-corporations",
            min=0,
            help="Owned-corporation family: two regional corporations per region own 85% of the "
            "buildings, this many national ones the rest anywhere; 70% have a binding quota.",
        ),
    ] = None,
    rules_12_15: Annotated[
        bool,
        typer.Option(
            "--rules-12-15",
            help="Add group shares, staircases, neighbourhoods and support providers.",
        ),
    ] = False,
) -> None:
    """A seeded synthetic instance of any size (clearly synthetic data)."""
    from allocator.generator import generate as make

    with _progress("Generating"):
        instance = make(
            clients,
            units,
            municipalities,
            seed,
            national_corporations=national_corporations,
            rules_12_15=rules_12_15,
        )
    if out_path is None:
        sys.stdout.write(instance.model_dump_json(indent=2) + "\n")
        return
    io.write_instance(instance, out_path)
    err.print(
        f"Wrote {out_path}: {len(instance.clients)} clients, {len(instance.units)} units, "
        f"{len(instance.municipalities)} municipalities."
    )


@app.command()
def demo(
    time_limit: TimeLimit = 60.0,
) -> None:
    """Solve the synthetic Westfriesland demo region and print the proposal."""
    with input_errors():
        instance = io.read_instance(DEMO)
        out.print(
            f"[bold]Westfriesland demo[/] (synthetic): {len(instance.clients)} ready clients, "
            f"{len(instance.units)} vacancies, {len(instance.municipalities)} municipalities, "
            f"{len(instance.pinned)} accepted offers pinned."
        )
        proposal = _propose(instance, _settings(time_limit, 1, 0))
    _print_proposal(proposal)


# ----------------------------------------------------------------------------------------------
# What-if scenarios (allocator/simulation/)

scenario_app = typer.Typer(
    no_args_is_help=True, help="What-if simulation of scenario files (scenarios/*.yaml)."
)
app.add_typer(scenario_app, name="scenario")


@contextmanager
def _scenario_errors() -> Iterator[None]:
    from allocator.simulation.scenario import ScenarioError

    try:
        yield
    except ScenarioError as exc:
        raise refuse("Scenario error", exc.issues) from None


def _scenario_bar(label: str):
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


def _parse_seeds(seeds: int | None, scenario):
    return scenario if seeds is None else scenario.with_seeds(list(range(1, seeds + 1)))


@scenario_app.command("run")
def scenario_run(
    file: Annotated[Path, typer.Argument(help="Scenario file (YAML).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for CSV, plots and report.")],
    seeds: Annotated[int | None, typer.Option(help="Replications (seeds 1..n).")] = None,
    variant: Annotated[
        list[str] | None, typer.Option(help="Only these variants (repeatable; 'base').")
    ] = None,
) -> None:
    """Simulate every variant x seed; write kpis.csv, runs.csv, PNG plots and report.md."""
    from allocator.simulation.report import write_outputs
    from allocator.simulation.runner import run_scenario
    from allocator.simulation.scenario import load_scenario

    with _scenario_errors():
        scenario = _parse_seeds(seeds, load_scenario(file))
        if variant:
            scenario = scenario.only(variant)
    total = len(scenario.configs) * len(scenario.seeds)
    with _scenario_bar(f"{scenario.name}: variants x seeds") as bar:
        task = bar.add_task("run", total=total)
        results = run_scenario(scenario, progress=lambda done, n: bar.update(task, completed=done))
    written = write_outputs(results, out_dir)
    out.print(f"Wrote {len(written)} files to {out_dir} (report: {out_dir / 'report.md'}).")


@scenario_app.command("sweep")
def scenario_sweep(
    file: Annotated[Path, typer.Argument(help="Scenario file (YAML).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for sweep.csv, the report and its plots.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(help="PATH=V1,V2,... (repeatable); default: the file's `sweep`."),
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Replications (seeds 1..n).")] = None,
    workers: Annotated[int, typer.Option(help="Local Dask workers (processes).")] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of an existing Dask scheduler.")
    ] = None,
) -> None:
    """Run a parameter grid x seeds on Dask; write sweep.csv (KPIs per grid point) and the same
    report, CSV files and plots as `scenario run`, one grid point per variant."""
    import yaml

    from allocator.simulation.runner import sweep
    from allocator.simulation.scenario import ScenarioError, load_scenario

    with _scenario_errors():
        scenario = _parse_seeds(seeds, load_scenario(file))
        grid = dict(scenario.sweep)
        if param:
            grid = {}
            for p in param:
                path, sep, values = p.partition("=")
                if not sep or not values:
                    raise ScenarioError([f"--param {p!r}: expected PATH=V1,V2,..."])
                grid[path.strip()] = [yaml.safe_load(v) for v in values.split(",")]
        if not grid:
            raise ScenarioError(["no sweep grid: give --param or a `sweep:` in the file"])
        n = len(scenario.seeds)
        for values in grid.values():
            n *= len(values)
        with _scenario_bar(f"{scenario.name}: grid points x seeds") as bar:
            task = bar.add_task("sweep", total=n)
            results = sweep(
                scenario,
                grid,
                address=scheduler,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done),
            )
    from allocator.simulation.report import write_outputs

    written = write_outputs(results, out_dir)
    results.sweep_table.to_csv(out_dir / "sweep.csv", index=False)
    out.print(
        f"Wrote {out_dir / 'sweep.csv'} ({len(results.sweep_table)} rows) and {len(written)} "
        f"files (report: {out_dir / 'report.md'})."
    )


if __name__ == "__main__":
    app()
