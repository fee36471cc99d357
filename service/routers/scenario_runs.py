"""Scenario runs: a planner's what-if simulation (``allocator scenario run``) as a resource.

The scenario file is checked when it is submitted (problems name their place in it), then
simulated in a worker process (``scenario_worker.py``); its KPI rows, report and plots are stored
together when it is done. Scenarios are synthetic arrival models: no personal data goes in or
comes out, so planners, coordinators and admins may all run and read them; corporations may not.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import select, update

from allocator.simulation.scenario import (
    Scenario,
    ScenarioError,
    parse_scenario,
)
from service import tables as t
from service.audit import record
from service.deps import RowId, ScenarioRunner, SessionDep, SettingsDep
from service.pagination import PageDep
from service.problems import ProblemIssue, ServiceProblem, conflict, not_found, responses
from service.scenario_worker import PLOTS, PlotName
from service.schemas import RunStatus, ScenarioKpi, ScenarioRunIn, ScenarioRunOut
from service.settings import Settings
from service.state import solver_version

router = APIRouter(
    prefix="/scenario-runs", tags=["scenario runs"], responses=responses(401, 403, 503)
)

KPI_FIELDS = list(ScenarioKpi.model_fields)


class MarkdownResponse(PlainTextResponse):
    media_type = "text/markdown"


# --- reading and checking the scenario -----------------------------------------------------


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors' aliases: a few bytes of ``*ref`` can expand to gigabytes."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed here", event.start_mark
            )
        return super().compose_node(parent, index)


def _invalid(detail: str, issues: list[ProblemIssue]) -> ServiceProblem:
    return ServiceProblem(422, detail, kind="invalid-scenario", errors=issues)


def _read(scenario: dict[str, Any] | str) -> dict[str, Any]:
    """The scenario as JSON data (what is stored and simulated): YAML text is read, dates
    become ISO strings."""
    data: Any = scenario
    if isinstance(scenario, str):
        try:
            data = yaml.load(scenario, Loader=_NoAliases)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise _invalid(
                "The scenario is not valid YAML.",
                [
                    ProblemIssue(
                        location="body: scenario", message=f"Not valid YAML{where}: {problem}."
                    )
                ],
            ) from None
        except RecursionError:
            raise _invalid(
                "The scenario is nested too deeply.",
                [ProblemIssue(location="body: scenario", message="Nested too deeply.")],
            ) from None
    try:
        text = json.dumps(data, default=_iso, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _invalid(
            "The scenario holds a value that cannot be stored.",
            [ProblemIssue(location="body: scenario", message=f"Cannot be stored: {exc}.")],
        ) from None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise _invalid(
            "The scenario must be a mapping (key: value) at the top level.",
            [ProblemIssue(location="body: scenario", message="Not a mapping.")],
        )
    return data


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


# "region.complexes.a1.municipality: ...", "vacancies.streams[0]: ...", "variants.quota +20%: ..."
_PLACE = re.compile(r"^(?P<place>[A-Za-z_]\w*(?:[.\[][^:()]*)?): (?P<message>.+)$", re.S)


def _issue(text: str, prefix: str = "body: scenario") -> ProblemIssue:
    match = _PLACE.match(text)
    if not match:
        return ProblemIssue(location=prefix, message=text)
    place = match["place"]
    last = re.split(r"[.\[]", place)[-1]
    field = last if re.fullmatch(r"[A-Za-z_]\w*", last) else None  # not a row id or index
    return ProblemIssue(location=f"{prefix}.{place}", field=field, message=match["message"])


def _check(body: ScenarioRunIn, settings: Settings) -> tuple[dict[str, Any], Scenario]:
    data = _read(body.scenario)
    try:
        scenario = parse_scenario(data)
    except ScenarioError as exc:
        issues = [_issue(i) for i in exc.issues]
        n = len(issues)
        raise _invalid(
            f"The scenario has {n} problem{'s' if n != 1 else ''}; each names its place.", issues
        ) from None
    if body.seeds is not None:
        scenario = scenario.with_seeds(list(range(1, body.seeds + 1)))
    if body.variants is not None:
        wanted = list(dict.fromkeys(body.variants))
        unknown = [v for v in wanted if v not in scenario.configs]
        if unknown:
            raise _invalid(
                "The scenario has no variant named " + ", ".join(map(repr, unknown)) + ".",
                [
                    ProblemIssue(
                        location="body: variants",
                        field="variants",
                        message=f"Unknown variant(s) {unknown}; known: {list(scenario.configs)}.",
                    )
                ],
            )
        scenario = scenario.only(wanted)
    too_much = scenario_work_issues(scenario, settings)
    if too_much:
        raise ServiceProblem(
            422,
            "The scenario would simulate more than this service allows; each problem names "
            "its place.",
            kind="scenario-too-large",
            errors=too_much,
        )
    weeks = sum(config.horizon_weeks for config in scenario.configs.values())
    size = len(scenario.seeds) * weeks
    if size > settings.max_scenario_size:
        raise ServiceProblem(
            422,
            f"The scenario is {len(scenario.seeds)} seeds x {len(scenario.configs)} variants x "
            f"their weeks = {size:,}; this service simulates at most "
            f"{settings.max_scenario_size:,} (MAX_SCENARIO_SIZE). Ask for fewer seeds, fewer "
            "variants or a shorter horizon_weeks.",
            kind="scenario-too-large",
            errors=[
                ProblemIssue(location="body: seeds", field="seeds", message="Too many seeds."),
                ProblemIssue(location="body: variants", field="variants", message="Too many."),
            ],
        )
    return data, scenario


def scenario_work_issues(scenario: Scenario, settings) -> list[ProblemIssue]:
    """The work of every variant, bounded before it is queued: the clients that may wait in
    one round (the backlog and every arrival of the horizon) and the vacancies of the horizon
    stay within the largest instance a run may solve (MAX_INSTANCE_CLIENTS, _UNITS)."""
    issues = []

    def issue(name: str, where: str, message: str) -> None:
        issues.append(
            ProblemIssue(
                location=f"scenario: variants[{name}].{where}", field=where, message=message
            )
        )

    most_clients, most_units = settings.max_instance_clients, settings.max_instance_units
    for name, config in scenario.configs.items():
        weeks, clients = config.horizon_weeks, config.clients
        if clients.initial_backlog > most_clients:
            issue(
                name,
                "clients.initial_backlog",
                f"{clients.initial_backlog:,} clients waiting; at most {most_clients:,} "
                "(MAX_INSTANCE_CLIENTS).",
            )
        elif clients.initial_backlog + clients.per_week * weeks > most_clients:
            issue(
                name,
                "clients.per_week",
                f"{clients.per_week:,g} a week for {weeks} weeks on a backlog of "
                f"{clients.initial_backlog:,} is more than {most_clients:,} clients "
                "(MAX_INSTANCE_CLIENTS).",
            )
        for i, stream in enumerate(config.vacancies.streams):
            if stream.per_week * weeks > most_units:
                issue(
                    name,
                    f"vacancies.streams[{i}].per_week",
                    f"{stream.per_week:,g} a week for {weeks} weeks is more than {most_units:,} "
                    "vacancies (MAX_INSTANCE_UNITS).",
                )
        if sum(cx.units_total for cx in config.region.complexes) > 100 * most_units:
            issue(name, "region.complexes", "More dwellings than any region has.")
    return issues


def _hash(data: dict[str, Any], seeds: list[int], variants: list[str]) -> str:
    canonical = json.dumps(
        {"scenario": data, "seeds": seeds, "variants": variants},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- the resource ---------------------------------------------------------------------------


def _plots(session, runs: list[t.ScenarioRun]) -> dict[int, list[str]]:
    done = [r.id for r in runs if r.status == "done"]
    found: dict[int, list[str]] = {}
    if done:
        rows = session.execute(
            select(t.ScenarioRunPlot.run_id, t.ScenarioRunPlot.name)
            .where(t.ScenarioRunPlot.run_id.in_(done))
            .order_by(t.ScenarioRunPlot.run_id, t.ScenarioRunPlot.name)
        )
        for run_id, name in rows:
            if name in PLOTS:  # the core's own, in English; the pages' translations are theirs
                found.setdefault(run_id, []).append(name)
    return found


def _out(run: t.ScenarioRun, plots: list[str]) -> ScenarioRunOut:
    error = {k: v for k, v in run.error.items() if k != "trace"} if run.error else None
    return ScenarioRunOut(
        id=run.id,
        name=run.name,
        status=run.status,
        requested_by=run.requested_by,
        requested_at=run.requested_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        input_hash=run.input_hash,
        software_version=run.software_version,
        seeds=run.seeds,
        variants=run.variants,
        size=run.size,
        time_limit_seconds=run.time_limit_seconds,
        tasks_total=run.tasks_total,
        tasks_done=run.tasks_done,
        plots=plots,
        error=error,
    )


def _run(session, run_id: int) -> t.ScenarioRun:
    run = session.get(t.ScenarioRun, run_id)
    if run is None:
        raise not_found("scenario run", run_id)
    return run


def _done(run: t.ScenarioRun) -> t.ScenarioRun:
    if run.status != "done":
        raise conflict(f"Scenario run {run.id} is {run.status}; its results come when it is done.")
    return run


@router.post("", response_model=ScenarioRunOut, status_code=202, responses=responses(422))
def submit_scenario_run(
    body: ScenarioRunIn,
    request: Request,
    session: SessionDep,
    caller: ScenarioRunner,
    settings: SettingsDep,
):
    """Simulate a scenario file: every variant x seed, the optimiser against first come, first
    served and the hindsight ceiling. Checked now (422 names the place of every problem), run
    in a worker process: poll ``GET /scenario-runs/{id}``, then read its KPIs, report and
    plots."""
    data, scenario = _check(body, settings)
    variants = list(scenario.configs)
    limit = min(
        body.time_limit_seconds or settings.scenario_run_time_limit_seconds,
        settings.max_scenario_run_time_limit_seconds,
    )
    run = t.ScenarioRun(
        name=scenario.name[:200],
        status="queued",
        requested_by=caller.name,
        requested_by_key_id=caller.key_id,
        scenario=data,
        input_hash=_hash(data, scenario.seeds, variants),
        seeds=scenario.seeds,
        variants=variants,
        size=len(scenario.seeds) * sum(c.horizon_weeks for c in scenario.configs.values()),
        time_limit_seconds=limit,
        software_version=solver_version(),
        tasks_total=len(scenario.seeds) * len(variants),
        tasks_done=0,
    )
    session.add(run)
    session.flush()
    record(
        session,
        caller,
        "scenario_run.requested",
        "scenario_run",
        run.id,
        input_hash=run.input_hash,
        size=run.size,
        seeds=len(run.seeds),
        variants=len(variants),
    )
    session.commit()
    request.app.state.jobs.enqueue("scenario_run", run.id)
    return _out(run, [])


@router.get("", response_model=list[ScenarioRunOut])
def list_scenario_runs(
    session: SessionDep,
    caller: ScenarioRunner,
    page: PageDep,
    status: RunStatus | None = None,
):
    """The newest first, a page at a time."""
    query = select(t.ScenarioRun).order_by(t.ScenarioRun.id.desc())
    if status:
        query = query.where(t.ScenarioRun.status == status)
    runs = page.of(session, query)
    plots = _plots(session, runs)
    return [_out(r, plots.get(r.id, [])) for r in runs]


@router.get("/{run_id}", response_model=ScenarioRunOut, responses=responses(404, 422))
def read_scenario_run(run_id: RowId, session: SessionDep, caller: ScenarioRunner):
    """Status and progress (``tasks_done`` of ``tasks_total``)."""
    run = _run(session, run_id)
    return _out(run, _plots(session, [run]).get(run.id, []))


@router.get(
    "/{run_id}/kpis",
    response_model=list[ScenarioKpi],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **responses(404, 409, 422),
    },
)
def read_scenario_kpis(
    run_id: RowId,
    session: SessionDep,
    caller: ScenarioRunner,
    format: Literal["json", "csv"] = "json",  # noqa: A002 - the query parameter's name
    variant: Annotated[str | None, Query(max_length=200)] = None,
    policy: Annotated[str | None, Query(max_length=50)] = None,
    kpi: Annotated[str | None, Query(max_length=100)] = None,
):
    """Every KPI per variant, policy and group over the seeds (``kpis.csv`` of
    ``allocator scenario run``); ``?format=csv`` for the CSV. Filter by variant, policy, kpi."""
    rows = _done(_run(session, run_id)).kpis or []
    wanted = {"variant": variant, "policy": policy, "kpi": kpi}
    rows = [r for r in rows if all(v is None or r.get(k) == v for k, v in wanted.items())]
    if format == "json":
        return rows
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=KPI_FIELDS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="scenario-run-{run_id}-kpis.csv"'},
    )


@router.get(
    "/{run_id}/report",
    response_class=MarkdownResponse,
    responses=responses(404, 409, 422),
)
def read_scenario_report(run_id: RowId, session: SessionDep, caller: ScenarioRunner):
    """The report a planner reads (Markdown): placements of the optimiser against today and
    the ceiling, waiting times, quota use, building composition. Its plots are linked
    relative to this address."""
    return MarkdownResponse(_done(_run(session, run_id)).report or "")


@router.get(
    "/{run_id}/plots/{name}.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
        **responses(404, 409, 422),
    },
)
def read_scenario_plot(
    run_id: RowId,
    name: Annotated[PlotName, Path(description="Which plot.")],
    session: SessionDep,
    caller: ScenarioRunner,
):
    """A plot of the report: ``backlog`` over time, ``waiting`` times, ``quota_use``."""
    _done(_run(session, run_id))
    png = session.scalar(
        select(t.ScenarioRunPlot.png).where(
            t.ScenarioRunPlot.run_id == run_id, t.ScenarioRunPlot.name == name
        )
    )
    if png is None:
        raise not_found("plot", name)
    return Response(png, media_type="image/png")


@router.post("/{run_id}/cancel", response_model=ScenarioRunOut, responses=responses(404, 409, 422))
def cancel_scenario_run(
    run_id: RowId, request: Request, session: SessionDep, caller: ScenarioRunner
):
    """Stop a queued or running simulation; nothing of it is kept."""
    run = _run(session, run_id)
    cancelled = session.execute(
        update(t.ScenarioRun)
        .where(t.ScenarioRun.id == run_id, t.ScenarioRun.status.in_(("queued", "running")))
        .values(status="cancelled", worker_token=None, finished_at=t.utcnow())
    ).rowcount
    if not cancelled:
        raise conflict(
            f"Scenario run {run_id} is {run.status}; only a queued or running run is cancelled."
        )
    record(session, caller, "scenario_run.cancelled", "scenario_run", run_id)
    session.commit()
    session.refresh(run)
    return _out(run, [])
