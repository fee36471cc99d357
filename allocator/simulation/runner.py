"""Running replications: one task is (configuration, seed) -> every policy on the same arrivals.

``run_scenario`` runs every variant × seed in this process; ``sweep`` runs a parameter grid ×
seeds on Dask (a local cluster by default, an existing one given its scheduler address). Each
task is deterministic in its inputs and results are put back in task order, so where a task ran
never changes the outcome.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from allocator.simulation.arrivals import generate_arrivals
from allocator.simulation.engine import ceiling_arrivals, hindsight, simulate
from allocator.simulation.kpis import aggregate, frame, paired_differences, run_kpis
from allocator.simulation.scenario import Scenario, ScenarioConfig, grid_point_config

Progress = Callable[[int, int], None]


@dataclass
class TaskOutput:
    records: list[tuple] = field(default_factory=list)
    # (variant, policy, seed, target_group, municipality, days, housed) of every client: days to
    # a home when housed, else to leaving the list or the end of the horizon (censored)
    waits: list[tuple] = field(default_factory=list)


def run_task(
    config: ScenarioConfig, variant: str, seed: int, policies: list[str] | tuple[str, ...]
) -> TaskOutput:
    """Every policy on one seed's arrivals; KPIs as records."""
    arrivals = generate_arrivals(config, seed)
    results = {}
    for p in policies:
        if p == "hindsight":
            results[p] = hindsight(config, arrivals)
        elif p == "ceiling_arrivals":
            results[p] = ceiling_arrivals(config, arrivals)
        else:
            results[p] = simulate(config, arrivals, p)
    out = TaskOutput()
    for r in results.values():
        out.records += run_kpis(variant, r, results)
        out.waits += [
            (variant, r.policy, seed, x.target_group, x.municipality, x.days, int(x.housed))
            for x in r.outcomes
        ]
    return out


@dataclass
class ScenarioResults:
    name: str
    descriptions: dict[str, str]
    seeds: list[int]
    raw: pd.DataFrame  # one row per (variant, policy, seed, kpi, group)
    kpis: pd.DataFrame  # aggregated over seeds
    waits: pd.DataFrame
    paired: pd.DataFrame = field(default_factory=pd.DataFrame)  # paired differences
    horizon_weeks: int = 52
    sweep_table: pd.DataFrame | None = None  # a sweep's KPIs with each point's parameters


def _collect(name, descriptions, seeds, outputs: list[TaskOutput], horizon=52) -> ScenarioResults:
    records = [r for o in outputs for r in o.records]
    waits = [w for o in outputs for w in o.waits]
    raw = frame(records)
    return ScenarioResults(
        name=name,
        descriptions=descriptions,
        seeds=list(seeds),
        raw=raw,
        kpis=aggregate(raw),
        paired=paired_differences(raw),
        horizon_weeks=horizon,
        waits=pd.DataFrame(
            waits,
            columns=[
                "variant",
                "policy",
                "seed",
                "target_group",
                "municipality",
                "days",
                "housed",
            ],
        ),
    )


def run_scenario(scenario: Scenario, progress: Progress | None = None) -> ScenarioResults:
    tasks = [(name, seed) for name in scenario.configs for seed in scenario.seeds]
    outputs = []
    for i, (name, seed) in enumerate(tasks):
        outputs.append(run_task(scenario.configs[name], name, seed, scenario.policies))
        if progress:
            progress(i + 1, len(tasks))
    horizon = next(iter(scenario.configs.values())).horizon_weeks
    return _collect(scenario.name, scenario.descriptions, scenario.seeds, outputs, horizon)


# --- sweeps on Dask ---------------------------------------------------------------------------


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def point_label(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "base"


def _sweep_task(config: ScenarioConfig, label: str, seed: int, policies: list[str]) -> TaskOutput:
    return run_task(config, label, seed, policies)


def sweep(
    scenario: Scenario,
    grid: dict[str, list[Any]],
    *,
    address: str | None = None,
    workers: int = 2,
    processes: bool = True,
    progress: Progress | None = None,
) -> ScenarioResults:
    """Every grid point × seed on Dask: the same results as a run, each grid point a variant
    (so the same report and plots), and ``sweep_table``: KPIs aggregated over seeds per grid
    point with the point's parameter values as columns. Raises ``ScenarioError`` for a bad
    grid point."""
    from dask.distributed import Client, LocalCluster, as_completed

    points = grid_points(grid)
    configs = [grid_point_config(scenario.base_data, p) for p in points]
    labels = [point_label(p) for p in points]
    cluster = None
    if address is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            host="127.0.0.1",
            dashboard_address=None,
        )
    try:
        with Client(cluster if cluster is not None else address) as client:
            tasks = [(i, seed) for i in range(len(points)) for seed in scenario.seeds]
            scattered = client.scatter(configs, broadcast=True) if processes or address else configs
            futures = [
                client.submit(
                    _sweep_task, scattered[i], labels[i], seed, list(scenario.policies), pure=False
                )
                for i, seed in tasks
            ]
            order = {f.key: n for n, f in enumerate(futures)}
            results: list[TaskOutput | None] = [None] * len(futures)
            for done, future in enumerate(as_completed(futures), 1):
                results[order[future.key]] = future.result()
                if progress:
                    progress(done, len(futures))
    finally:
        if cluster is not None:
            cluster.close()
    descriptions = {label: f"sweep point {label}" for label in labels}
    horizon = configs[0].horizon_weeks if configs else 52
    res = _collect(scenario.name, descriptions, scenario.seeds, results, horizon)
    agg = res.kpis
    params = pd.DataFrame([points[labels.index(v)] for v in agg["variant"]])
    res.sweep_table = pd.concat(
        [params.reset_index(drop=True), agg.reset_index(drop=True)], axis=1
    ).rename(columns={"variant": "point"})
    return res
