"""Scenario runs: a planner submits a what-if scenario file, it is simulated in a worker process,
and its KPIs (JSON and CSV), report and plots are read back. Bad scenarios name their place;
corporations may not; cancel, the time limit and a restart end a run without results."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest
import yaml
from fastapi.testclient import TestClient

from service import tables as t
from service.db import get_sessionmaker
from service.main import create_app

# Two municipalities, a few weeks, two seeds and one variant: simulated in well under a second.
TINY = """
name: tiny
description: A tiny region for the service tests. Synthetic.
start: 2026-09-07
horizon_weeks: 6
seeds: [1, 2]
region:
  yearly_quota: 12
  municipalities:
    - {id: a, name: A, population: 30000}
    - {id: b, name: B, population: 10000}
  corporations:
    - {id: c1, name: C1, yearly_quota: 6}
    - {id: c2, name: C2}
  complexes:
    - {id: a1, municipality: a, corporation: c1, units_total: 30, vulnerable_residents: 6}
    - {id: b1, municipality: b, corporation: c2, units_total: 25, vulnerable_residents: 5}
clients: {per_week: 1.5, initial_backlog: 6}
vacancies:
  open_weeks: 3
  streams:
    - {municipality: a, corporation: c1, per_week: 0.8}
    - {municipality: b, corporation: c2, per_week: 0.6}
offers: {accept_probability: 0.8}
variants:
  - name: tight mix
    description: A Magic Mix cap of 20%.
    set: {policy.max_vulnerable_share: 0.2}
"""


def tiny(**changes) -> dict:
    data = yaml.safe_load(TINY)
    data["start"] = data["start"].isoformat()
    data.update(changes)
    return data


def wait_for(client, run_id: int, headers, timeout: float = 30.0) -> dict:
    """Poll the status until it is final, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/scenario-runs/{run_id}", headers=headers).json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"scenario run {run_id} did not finish within {timeout} s: {run}")


def test_a_planner_simulates_a_scenario_and_reads_kpis_report_and_plots(client, keys):
    planner = keys.planner
    r = client.post("/scenario-runs", json={"scenario": TINY}, headers=planner)
    assert r.status_code == 202, r.text
    submitted = r.json()
    assert submitted["status"] == "queued" and submitted["name"] == "tiny"
    assert submitted["seeds"] == [1, 2] and submitted["variants"] == ["base", "tight mix"]
    assert submitted["size"] == 2 * 2 * 6 and submitted["tasks_total"] == 4
    run_id = submitted["id"]

    run = wait_for(client, run_id, planner)
    assert run["status"] == "done", run
    assert run["tasks_done"] == 4 and run["error"] is None
    assert sorted(run["plots"]) == ["backlog", "paired", "placements", "quota_use", "waiting"]
    assert run["started_at"] and run["finished_at"]

    kpis = client.get(f"/scenario-runs/{run_id}/kpis", headers=planner)
    assert kpis.status_code == 200 and kpis.headers["content-type"] == "application/json"
    rows = kpis.json()
    assert {r["variant"] for r in rows} == {"base", "tight mix"}
    policies = {"practice", "fcfs", "optimiser", "ceiling_arrivals", "hindsight"}
    assert {r["policy"] for r in rows} == policies
    placed = [r for r in rows if r["kpi"] == "placements" and r["group"] == "all"]
    assert len(placed) == 2 * len(policies) and all(r["n"] == 2 and r["mean"] >= 0 for r in placed)
    only = client.get(
        f"/scenario-runs/{run_id}/kpis",
        params={"variant": "base", "policy": "optimiser", "kpi": "placements"},
        headers=planner,
    ).json()
    assert only and all(
        (r["variant"], r["policy"], r["kpi"]) == ("base", "optimiser", "placements") for r in only
    )

    as_csv = client.get(f"/scenario-runs/{run_id}/kpis?format=csv", headers=planner)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(table) == len(rows)
    assert list(table[0]) == ["variant", "policy", "kpi", "group", "n", "mean", "std"] + [
        "ci_low",
        "ci_high",
    ]
    assert float(table[0]["mean"]) == pytest.approx(rows[0]["mean"])

    report = client.get(f"/scenario-runs/{run_id}/report", headers=planner)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/markdown")
    assert report.text.startswith("# Scenario report: tiny")
    assert "](plots/backlog.png)" in report.text and "tight mix" in report.text

    png = client.get(f"/scenario-runs/{run_id}/plots/backlog.png", headers=planner)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get(f"/scenario-runs/{run_id}/plots/nope.png", headers=planner).status_code == 422

    # coordinators and admins read it too; it is listed; a finished run cannot be cancelled
    for role in (keys.coordinator, keys.admin):
        assert client.get(f"/scenario-runs/{run_id}/report", headers=role).status_code == 200
    assert [x["id"] for x in client.get("/scenario-runs", headers=planner).json()] == [run_id]
    assert client.get("/scenario-runs?status=failed", headers=planner).json() == []
    assert client.post(f"/scenario-runs/{run_id}/cancel", headers=planner).status_code == 409
    audit = client.get("/audit", headers=keys.coordinator).json()
    assert any(e["action"] == "scenario_run.requested" for e in audit)


def _problem(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def test_a_bad_scenario_is_refused_naming_its_place(client, keys):
    planner = keys.planner

    def post(body):
        return _problem(client.post("/scenario-runs", json=body, headers=planner))

    problem = post({"scenario": tiny(horizon_weeks=0)})
    assert problem["type"].endswith("/invalid-scenario")
    (issue,) = problem["errors"]
    assert issue["location"] == "body: scenario.horizon_weeks" and issue["field"] == "horizon_weeks"
    assert "greater than or equal to 1" in issue["message"]

    streams = [{"municipality": "zz", "corporation": "c1", "per_week": 1}]
    problem = post({"scenario": tiny(vacancies={"streams": streams})})
    locations = [e["location"] for e in problem["errors"]]
    assert "body: scenario.vacancies.streams[0].municipality" in locations
    assert "'zz'" in str(problem["errors"])

    problem = post({"scenario": TINY.replace("horizon_weeks: 6", "horizon_weeks: [6")})
    assert "Not valid YAML at line" in problem["errors"][0]["message"]
    problem = post({"scenario": "a: &x [1]\nb: *x\n"})
    assert "aliases" in problem["errors"][0]["message"]
    problem = post({"scenario": TINY, "variants": ["base", "no such variant"]})
    assert problem["errors"][0]["location"] == "body: variants"
    problem = post({"scenario": "- just a list"})
    assert problem["errors"][0]["location"] == "body: scenario"
    # the request's own fields are checked by FastAPI, with the same problem details
    problem = post({"scenario": TINY, "seeds": 0})
    assert problem["errors"][0]["location"] == "body: seeds"
    # bigger than MAX_SCENARIO_SIZE (default 5,000): 500 seeds x 2 variants x 6 weeks
    problem = post({"scenario": TINY, "seeds": 500})
    assert problem["type"].endswith("/scenario-too-large") and "6,000" in problem["detail"]
    # nothing was stored
    assert client.get("/scenario-runs", headers=planner).json() == []


def test_corporations_may_not_run_or_read_scenarios(client, keys):
    corporation = keys.corporation
    problem = _problem(
        client.post("/scenario-runs", json={"scenario": TINY}, headers=corporation), 403
    )
    assert "corporation" in problem["detail"]
    run_id = client.post("/scenario-runs", json={"scenario": TINY}, headers=keys.admin).json()["id"]
    for path in ("", f"/{run_id}", f"/{run_id}/kpis", f"/{run_id}/report"):
        assert client.get(f"/scenario-runs{path}", headers=corporation).status_code == 403
    assert client.post(f"/scenario-runs/{run_id}/cancel", headers=corporation).status_code == 403
    assert wait_for(client, run_id, keys.admin)["status"] == "done"


def test_cancel_and_time_limit_end_a_run_without_results(client, keys):
    planner = keys.planner
    # a long one (40 weeks x 20 seeds x 2 variants), cancelled at once
    long = {"scenario": tiny(horizon_weeks=40), "seeds": 20}
    run_id = client.post("/scenario-runs", json=long, headers=planner).json()["id"]
    r = client.post(f"/scenario-runs/{run_id}/cancel", headers=planner)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert _problem(client.get(f"/scenario-runs/{run_id}/kpis", headers=planner), 409)
    # the same with a time limit of a second: failed, and nothing of it kept
    r = client.post("/scenario-runs", json={**long, "time_limit_seconds": 1}, headers=planner)
    limited = wait_for(client, r.json()["id"], planner)
    assert limited["status"] == "failed" and "time limit" in limited["error"]["detail"]
    assert limited["tasks_done"] < limited["tasks_total"] and limited["plots"] == []
    assert client.get(f"/scenario-runs/{run_id}", headers=planner).json()["status"] == "cancelled"
    with get_sessionmaker(client.app.state.settings.database_url)() as session:
        assert session.query(t.ScenarioRunPlot).count() == 0


def test_a_run_whose_worker_stopped_is_interrupted_when_its_lease_runs_out(keys, settings):
    """A worker died holding a run: its lease is not renewed, and the run becomes interrupted
    (no process start needed to notice it); a run whose lease still holds is left alone."""
    now = dt.datetime.now(dt.UTC)

    def left_running(name: str, lease_until: dt.datetime) -> None:
        session.add(
            t.ScenarioRun(
                region_id=1,
                name=name,
                status="running",
                worker_token="gone",
                worker="elsewhere:1",
                lease_expires_at=lease_until,
                requested_by="test",
                scenario=tiny(),
                input_hash="0" * 64,
                seeds=[1],
                variants=["base"],
                size=6,
                time_limit_seconds=60,
                software_version="test",
                tasks_total=1,
            )
        )

    with get_sessionmaker(settings.database_url)() as session:
        left_running("dead worker", now - dt.timedelta(seconds=1))
        left_running("live worker", now + dt.timedelta(hours=1))
        session.commit()
    short = settings.model_copy(update={"job_lease_seconds": 2})
    with TestClient(create_app(short)) as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            runs = {r["name"]: r for r in client.get("/scenario-runs", headers=keys.planner).json()}
            if runs["dead worker"]["status"] != "running":
                break
            time.sleep(0.2)
    dead, live = runs["dead worker"], runs["live worker"]
    assert dead["status"] == "interrupted" and "Submit it again" in dead["error"]["detail"]
    assert live["status"] == "running"
