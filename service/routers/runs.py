"""Allocation runs (coordinator) and scenarios (planner): solved off the request thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from sqlalchemy import select, update

from allocator.errors import InstanceError
from allocator.models import Instance, Proposal, parse_instance
from service import tables as t
from service.audit import record
from service.deps import Caller, Coordinator, CoordinatorOrPlanner, RowId, SessionDep, SettingsDep
from service.offers import expire_due
from service.pagination import PageDep
from service.problems import ServiceProblem, conflict, not_found, responses
from service.schemas import RunIn, RunOut, ScenarioIn, ScenarioOut
from service.state import build_instance, input_hash, solver_version

router = APIRouter(tags=["runs"], responses=responses(401, 403, 503))


def run_out(run: t.Run, caller: Caller | None = None) -> RunOut:
    placed = None
    if run.proposal is not None:
        placed = run.proposal.get("objective", {}).get("placed")
    return RunOut(
        id=run.id,
        kind=run.kind,
        status=run.status,
        requested_by=run.requested_by,
        requested_at=run.requested_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        input_hash=run.input_hash,
        solver_version=run.solver_version,
        solver_settings=run.solver_settings,
        clients=len(run.instance.get("clients", [])),
        units=len(run.instance.get("units", [])),
        placed=placed,
        error=_error_for(run.error, caller),
    )


def _error_for(error: dict | None, caller: Caller | None) -> dict | None:
    if not error:
        return None
    # the input problems of a run can name clients; a planner sees no personal data
    hidden = {"trace", "errors"} if caller is not None and caller.role == "planner" else {"trace"}
    return {k: v for k, v in error.items() if k not in hidden}


def _queue(
    request: Request,
    session,
    caller: Caller,
    settings,
    instance: dict,
    time_limit: float | None,
    kind: str,
    method: str = "auto",
    seed: int = 0,
    scenario: dict | None = None,
) -> t.Run:
    n_clients, n_units = len(instance["clients"]), len(instance["units"])
    if n_clients > settings.max_instance_clients or n_units > settings.max_instance_units:
        raise ServiceProblem(
            422,
            f"The instance has {n_clients} clients and {n_units} units; this service solves at "
            f"most {settings.max_instance_clients} clients and {settings.max_instance_units} "
            "units (MAX_INSTANCE_CLIENTS, MAX_INSTANCE_UNITS).",
            kind="instance-too-large",
        )
    try:
        parse_instance(instance)  # refuse a broken state now, not in the worker
    except InstanceError as exc:
        raise exc from None
    limit = min(time_limit or settings.run_time_limit_seconds, settings.max_run_time_limit_seconds)
    solver_settings = {"method": method, "time_limit_seconds": limit, "seed": seed, "workers": 1}
    run = t.Run(
        kind=kind,
        status="queued",
        requested_by=caller.name,
        requested_by_key_id=caller.key_id,
        input_hash=input_hash(instance, solver_settings),
        instance=instance,
        solver_settings=solver_settings,
        solver_version=solver_version(),
        scenario=scenario,
    )
    session.add(run)
    session.flush()
    record(
        session,
        caller,
        f"{kind}.requested",
        "run",
        run.id,
        input_hash=run.input_hash,
        **solver_settings,
    )
    session.commit()
    request.app.state.jobs.enqueue("run", run.id)
    return run


@router.post("/runs", response_model=RunOut, status_code=202, responses=responses(422))
def request_run(
    request: Request,
    session: SessionDep,
    caller: Coordinator,
    settings: SettingsDep,
    body: Annotated[RunIn | None, Body()] = None,
):
    """Ask for a proposal over every ready client and open vacancy. Accepted offers are pinned,
    refusals are kept; the run is solved in a worker process: poll ``GET /runs/{id}``."""
    body = body or RunIn()
    expire_due(session)
    instance = build_instance(session)
    return run_out(
        _queue(
            request,
            session,
            caller,
            settings,
            instance,
            body.time_limit_seconds,
            "allocation",
            body.method,
            body.seed,
        )
    )


@router.get("/runs", response_model=list[RunOut])
def list_runs(session: SessionDep, caller: Coordinator, page: PageDep):
    """Newest first, a page at a time."""
    return [run_out(r) for r in page.of(session, select(t.Run).order_by(t.Run.id.desc()))]


def _run(session, run_id: RowId, kind: str | None = None) -> t.Run:
    run = session.get(t.Run, run_id)
    if run is None or (kind and run.kind != kind):
        raise not_found(kind or "run", run_id)
    return run


@router.get("/runs/{run_id}", response_model=RunOut, responses=responses(404, 422))
def read_run(run_id: RowId, session: SessionDep, caller: Coordinator):
    return run_out(_run(session, run_id))


@router.get("/runs/{run_id}/proposal", response_model=Proposal, responses=responses(404, 409, 422))
def read_proposal(run_id: RowId, session: SessionDep, caller: Coordinator):
    """The proposal with its explanations: every line is for the coordinator to confirm."""
    run = _run(session, run_id, "allocation")
    if run.proposal is None:
        raise conflict(f"Run {run_id} is {run.status}; it has no proposal.")
    return run.proposal


@router.get("/runs/{run_id}/input", response_model=Instance, responses=responses(404, 422))
def read_run_input(run_id: RowId, session: SessionDep, caller: Coordinator):
    """The exact instance the run solved, to reproduce it (``allocator solve``)."""
    return _run(session, run_id).instance


@router.post("/runs/{run_id}/cancel", response_model=RunOut, responses=responses(404, 409, 422))
def cancel_run(run_id: RowId, request: Request, session: SessionDep, caller: CoordinatorOrPlanner):
    run = _run(session, run_id)
    if caller.role == "planner" and run.kind != "scenario":
        raise not_found("scenario", run_id)
    cancelled = session.execute(
        update(t.Run)
        .where(t.Run.id == run_id, t.Run.status.in_(("queued", "running")))
        .values(status="cancelled", worker_token=None, finished_at=t.utcnow())
    ).rowcount
    if not cancelled:
        raise conflict(f"Run {run_id} is {run.status}; only a queued or running run is cancelled.")
    record(session, caller, "run.cancelled", "run", run_id)
    session.commit()
    session.refresh(run)
    return run_out(run, caller)


@router.post("/scenarios", response_model=RunOut, status_code=202, responses=responses(422))
def request_scenario(
    body: ScenarioIn,
    request: Request,
    session: SessionDep,
    caller: CoordinatorOrPlanner,
    settings: SettingsDep,
):
    """What if the quotas or the Magic Mix share were different? Solved over the current state;
    the outcome is given in aggregates only."""
    instance = build_instance(session)
    known = {m["id"] for m in instance["municipalities"]}
    unknown = sorted(set(body.quotas) - known)
    if unknown:
        raise ServiceProblem(422, f"Unknown municipalities in quotas: {', '.join(unknown)}.")
    if any(q < 0 for q in body.quotas.values()):
        raise ServiceProblem(422, "A quota cannot be negative.")
    for m in instance["municipalities"]:
        m["quota"] = body.quotas.get(m["id"], m["quota"])
    if body.max_vulnerable_share is not None:
        instance["policy"]["max_vulnerable_share"] = body.max_vulnerable_share
    # an accepted offer that the what-if's rules would not allow stays out, rather than failing
    instance["pinned"] = []
    return run_out(
        _queue(
            request,
            session,
            caller,
            settings,
            instance,
            body.time_limit_seconds,
            "scenario",
            scenario=body.model_dump(),
        ),
        caller,
    )


@router.get("/scenarios", response_model=list[RunOut])
def list_scenarios(session: SessionDep, caller: CoordinatorOrPlanner, page: PageDep):
    query = select(t.Run).where(t.Run.kind == "scenario").order_by(t.Run.id.desc())
    return [run_out(r, caller) for r in page.of(session, query)]


@router.get("/scenarios/{run_id}", response_model=ScenarioOut, responses=responses(404, 422))
def read_scenario(run_id: RowId, session: SessionDep, caller: CoordinatorOrPlanner):
    run = _run(session, run_id, "scenario")
    if not run.proposal:
        return ScenarioOut(run=run_out(run, caller))
    return ScenarioOut(
        run=run_out(run, caller),
        objective=run.proposal["objective"],
        unplaced=len(run.proposal["unplaced"]),
        summaries=run.proposal.get("summaries"),
    )
