"""The planner's pages: a scenario file in, its simulation's progress, then its report with the
comparison tables, every plot the run stored, and downloads (CSV, PNG, Markdown), all in the
page's language (``service.web.report``) but the KPI CSV, whose columns and values are the
API's identifiers so that a spreadsheet or script reads every run's file alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from service.deps import RowId, SessionDep
from service.problems import ServiceProblem
from service.routers import scenario_runs
from service.schemas import ScenarioRunIn
from service.web import session as web
from service.web.core import call, require
from service.web.forms import parse, read_form, text
from service.web.pages import router
from service.web.render import page, redirect
from service.web.render import texts as texts_of
from service.web.report import markdown, stored_plot
from service.web.report import report as build_report

pages = router()
Caller = Annotated[Any, Depends(web.page_caller)]
Form = Annotated[FormData, Depends(read_form)]
Csrf = [Depends(web.check_csrf)]
EXAMPLE = Path(__file__).resolve().parents[3] / "scenarios/westfriesland.yaml"


def planner_page(request, session, caller, status_code=200, **values):
    tx = texts_of(request)
    defaults = {
        "runs": call(scenario_runs.list_scenario_runs, caller, session=session),
        "scenario": EXAMPLE.read_text(encoding="utf-8") if EXAMPLE.is_file() else "",
        "seeds": "",
        "variants": "",
        "problem": None,
        "errors": {},
    }
    title = tx.gettext("Scenarios")
    return page(request, "planner.html", status_code, title=title, **(defaults | values))


@pages.get("/planner")
def planner(request: Request, session: SessionDep, caller: Caller):
    require(scenario_runs.list_scenario_runs, caller)
    return planner_page(request, session, caller)


@pages.post("/planner", dependencies=Csrf)
async def planner_submit(request: Request, caller: Caller, form: Form):
    sent = form.get("file")
    scenario = text(form, "scenario") or ""
    if isinstance(sent, UploadFile) and sent.filename:
        scenario = (await sent.read(2_000_000)).decode("utf-8", errors="replace")
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_submit, request, caller, form, scenario)


def _submit(request, caller, form: FormData, scenario: str):
    from service.db import get_sessionmaker
    from service.scope import set_region

    tx = texts_of(request)
    settings = request.app.state.settings
    variants = [v.strip() for v in (text(form, "variants") or "").split(",") if v.strip()]
    data = {"scenario": scenario, "seeds": text(form, "seeds"), "variants": variants or None}
    values = {"scenario": scenario, "seeds": data["seeds"] or "", "variants": ", ".join(variants)}
    with get_sessionmaker(settings.database_url)() as session:
        set_region(session, caller.region_id)  # as the request's own session is (page_caller)
        body, errors = parse(ScenarioRunIn, data, tx)
        if body is None:
            return planner_page(request, session, caller, 422, errors=errors, **values)
        try:
            run = call(
                scenario_runs.submit_scenario_run, caller,
                body=body, request=request, session=session, settings=settings,
            )  # fmt: skip
        except ServiceProblem as exc:
            session.rollback()
            if exc.status in (401, 403):
                raise
            return planner_page(request, session, caller, exc.status, problem=exc, **values)
    return redirect(request, f"/planner/{run.id}")


def _report(request, run, session, caller):
    """The report of a finished run in the page's language, from its stored KPI rows."""
    rows = call(
        scenario_runs.read_scenario_kpis, caller, run_id=run.id, session=session, format="json"
    )
    return build_report(rows, texts_of(request), run.plots)


@pages.get("/planner/{run_id}")
def scenario_run(request: Request, run_id: RowId, session: SessionDep, caller: Caller):
    tx = texts_of(request)
    run = call(scenario_runs.read_scenario_run, caller, run_id=run_id, session=session)
    report = _report(request, run, session, caller) if run.status == "done" else None
    return page(
        request,
        "scenario_run.html",
        title=tx.gettext("Scenario run %(id)s: %(name)s", id=run.id, name=run.name),
        run=run,
        report=report,
    )


@pages.get("/planner/{run_id}/voortgang")
def scenario_progress(request: Request, run_id: RowId, session: SessionDep, caller: Caller):
    run = call(scenario_runs.read_scenario_run, caller, run_id=run_id, session=session)
    if run.status not in ("queued", "running"):
        return redirect(request, f"/planner/{run_id}")
    return page(request, "scenario_progress.html", run=run, title="")


@pages.get("/planner/{run_id}/plots/{name}.png")
def scenario_plot(request: Request, run_id: RowId, name: str, session: SessionDep, caller: Caller):
    run = call(scenario_runs.read_scenario_run, caller, run_id=run_id, session=session)
    if name not in run.plots:
        raise ServiceProblem(404, f"There is no plot {name!r}.", kind="not-found")
    try:  # in the page's language; a run finished before plots were translated has English
        answer = call(
            scenario_runs.read_scenario_plot, caller, run_id=run_id, session=session,
            name=stored_plot(name, texts_of(request).locale),
        )  # fmt: skip
    except ServiceProblem as exc:
        if exc.status != 404:
            raise
        answer = call(
            scenario_runs.read_scenario_plot, caller, run_id=run_id, name=name, session=session
        )
    return Response(
        answer.body,
        media_type="image/png",
        headers={"Content-Disposition": f'inline; filename="scenario-{run_id}-{name}.png"'},
    )


@pages.get("/planner/{run_id}/kpis.csv")
def scenario_kpis(request: Request, run_id: RowId, session: SessionDep, caller: Caller):
    return call(
        scenario_runs.read_scenario_kpis, caller, run_id=run_id, session=session, format="csv"
    )


@pages.get("/planner/{run_id}/report.md")
def scenario_report(request: Request, run_id: RowId, session: SessionDep, caller: Caller):
    """The report as the page shows it, in the page's language (the API's ``/report`` is the
    core's, in English)."""
    run = call(scenario_runs.read_scenario_run, caller, run_id=run_id, session=session)
    text = markdown(run.name, _report(request, run, session, caller), texts_of(request))
    return Response(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="scenario-{run_id}-report.md"'},
    )
