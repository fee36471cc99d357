"""Runs, KPIs with intervals, the report, the CLI, and a sweep on a local Dask cluster with two
workers that gives the same results as running in this process."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.simulation.kpis import comparison_table
from allocator.simulation.report import write_outputs
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
        "paired.csv",
        "placements.png",
        "paired.png",
    ):
        assert (out / name).stat().st_size > 0
    kpis = pd.read_csv(out / "kpis.csv")
    assert set(kpis["variant"]) == {"base", "tight mix", "more quota"}
    assert set(kpis["policy"]) == {"practice", "fcfs", "optimiser", "ceiling_arrivals", "hindsight"}
    needed = {
        "placements",
        "backlog",
        "waiting_days_mean",
        "waiting_days_median",
        "waiting_days_p90",
        "quota_use",
        "max_vulnerable_share",
        "refusals",
        "refusals_per_placement",
        "vacancy_days_lost_to_refusals",
        "vacancies_lost",
        "share_of_hindsight",
        "share_of_ceiling_arrivals",
        "time_to_home_median",
        "time_to_home_p90",
        "backlog_mean",
        "justified_envy",
        "vulnerable_share_of_cap",
        "quota_used_share",
        "ceiling_holds",
    }
    assert needed <= set(kpis["kpi"])
    # a value undefined in some seeds (a median the horizon did not reach) is counted as missing
    assert kpis["n"].add(kpis["missing"]).between(1, 2).all()
    assert (kpis[(kpis["group"] == "all") & (kpis["kpi"] == "placements")]["n"] == 2).all()
    defined = kpis[kpis["n"] > 0]
    assert defined["mean"].notna().all() and kpis[kpis["n"] == 0]["mean"].isna().all()
    assert any(kpis["group"].str.startswith("target_group="))
    assert any(kpis["group"].str.startswith("municipality="))
    report = (out / "report.md").read_text()
    assert "clairvoyant ceiling" in report and "![Backlog over time](backlog.png)" in report
    # the report leads with the paired differences, in words, before any table
    lead = report.index("## In short")
    assert lead < report.index("| KPI |") and lead < report.index("## Paired differences")
    assert "Against today's practice" in report.split("## Variants")[0]
    paired = pd.read_csv(out / "paired.csv")
    assert {("optimiser", "practice"), ("optimiser", "fcfs")} <= set(
        zip(paired["policy"], paired["against"], strict=True)
    )
    assert (paired[paired["kpi"] == "placements"]["n"] == 2).all()
    table = comparison_table(kpis)
    assert (table["hindsight_placements"] >= table["optimiser_placements"]).all()
    assert (table["hindsight_placements"] >= table["practice_placements"]).all()


def test_cli_bad_file_exits_2(small_data, tmp_path):
    import yaml

    small_data["horizon_weeks"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(small_data))
    result = CliRunner().invoke(app, ["scenario", "run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "horizon_weeks" in result.output
    assert not (tmp_path / "o").exists()


def test_sweep_on_local_dask_two_workers_matches_serial(small_data, tmp_path):
    small_data["horizon_weeks"] = 10
    scenario = parse_scenario(small_data)
    grid = {"clients.per_week": [1.0, 2.0], "policy.max_vulnerable_share": [0.3]}
    results = sweep(scenario, grid, workers=2, processes=True)
    table = results.sweep_table
    # the sweep writes the same report and plots as a run, one grid point per variant
    written = {p.name for p in write_outputs(results, tmp_path / "sweep")}
    assert {"report.md", "paired.csv", "placements.png", "paired.png", "waiting.png"} <= written
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "## In short" in report and "clients.per_week=2.0" in report
    assert set(table["clients.per_week"]) == {1.0, 2.0}
    got = table[(table["kpi"] == "placements") & (table["group"] == "all")]
    for point in (
        {"clients.per_week": 1.0, "policy.max_vulnerable_share": 0.3},
        {"clients.per_week": 2.0, "policy.max_vulnerable_share": 0.3},
    ):
        config = grid_point_config(scenario.base_data, point)
        for policy in ("practice", "optimiser", "fcfs", "hindsight"):
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


def test_cli_sweep_writes_the_report_plots_and_sweep_csv(small_data, tmp_path):
    import yaml

    small_data["horizon_weeks"] = 8
    small_data["policies"] = ["practice", "optimiser", "hindsight"]
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_data))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        app, ["scenario", "sweep", str(path), "--out", str(out), "--seeds", "2", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    for name in ("sweep.csv", "report.md", "paired.csv", "kpis.csv", "waiting.png", "paired.png"):
        assert (out / name).stat().st_size > 0
    table = pd.read_csv(out / "sweep.csv")
    assert set(table["clients.per_week"]) == {1.0, 2.0}
    report = (out / "report.md").read_text()
    assert "**clients.per_week=1.0**" in report and "Against today's practice" in report
