"""Runs, KPIs with intervals, the report, the CLI, and a sweep on a local Dask cluster with two
workers that gives the same results as running in this process."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.simulation.kpis import comparison_table
from allocator.simulation.runner import run_task, sweep
from allocator.simulation.scenario import grid_point_config, parse_scenario


def test_cli_run_writes_csv_plots_and_report(small_file, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["scenario", "run", str(small_file), "--out", str(out), "--seeds", "2"]
    )
    assert result.exit_code == 0, result.output
    for name in (
        "kpis.csv",
        "runs.csv",
        "comparison.csv",
        "report.md",
        "backlog.png",
        "waiting.png",
        "quota_use.png",
    ):
        assert (out / name).stat().st_size > 0
    kpis = pd.read_csv(out / "kpis.csv")
    assert set(kpis["variant"]) == {"base", "tight mix", "more quota"}
    assert set(kpis["policy"]) == {"optimiser", "fcfs", "hindsight"}
    needed = {
        "placements",
        "backlog",
        "waiting_days_mean",
        "waiting_days_median",
        "waiting_days_p90",
        "quota_use",
        "max_vulnerable_share",
        "refusals",
        "vacancies_lost",
        "share_of_ceiling",
    }
    assert needed <= set(kpis["kpi"])
    assert (kpis["ci_low"] <= kpis["mean"] + 1e-9).all()
    assert (kpis["mean"] <= kpis["ci_high"] + 1e-9).all()
    assert any(kpis["group"].str.startswith("target_group="))
    assert any(kpis["group"].str.startswith("municipality="))
    report = (out / "report.md").read_text()
    assert "hindsight ceiling" in report and "![Backlog over time](backlog.png)" in report
    table = comparison_table(kpis)
    assert (table["hindsight_placements"] >= table["optimiser_placements"]).all()


def test_cli_bad_file_exits_2(small_data, tmp_path):
    import yaml

    small_data["horizon_weeks"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(small_data))
    result = CliRunner().invoke(app, ["scenario", "run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "horizon_weeks" in result.output
    assert not (tmp_path / "o").exists()


def test_sweep_on_local_dask_two_workers_matches_serial(small_data):
    small_data["horizon_weeks"] = 10
    scenario = parse_scenario(small_data)
    grid = {"clients.per_week": [1.0, 2.0], "policy.max_vulnerable_share": [0.3]}
    table = sweep(scenario, grid, workers=2, processes=True)
    assert set(table["clients.per_week"]) == {1.0, 2.0}
    got = table[(table["kpi"] == "placements") & (table["group"] == "all")]
    for point in (
        {"clients.per_week": 1.0, "policy.max_vulnerable_share": 0.3},
        {"clients.per_week": 2.0, "policy.max_vulnerable_share": 0.3},
    ):
        config = grid_point_config(scenario.base_data, point)
        for policy in ("optimiser", "fcfs", "hindsight"):
            serial = [
                next(
                    r[5]
                    for r in run_task(config, "x", seed, scenario.policies).records
                    if r[1] == policy and r[3] == "placements" and r[4] == "all"
                )
                for seed in scenario.seeds
            ]
            row = got[
                (got["clients.per_week"] == point["clients.per_week"]) & (got["policy"] == policy)
            ]
            assert row["mean"].iloc[0] == pytest.approx(sum(serial) / len(serial))
