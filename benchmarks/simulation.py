"""Speed of the what-if simulation (allocator/simulation/).

1. One region-year: the Westfriesland base scenario, 52 weekly rounds, per policy (target:
   the optimiser's year in 10 s or less).
2. Sweep throughput: the same grid x seeds on a local Dask cluster with 1 and with 2 worker
   processes, in tasks (one task = one seed of one grid point, every policy) per second.

    .venv/bin/python benchmarks/simulation.py [--seeds 8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from allocator.simulation.arrivals import generate_arrivals
from allocator.simulation.engine import hindsight, simulate
from allocator.simulation.runner import sweep
from allocator.simulation.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "westfriesland.yaml"


def region_year(seed: int = 1) -> dict[str, float]:
    config = load_scenario(SCENARIO).configs["base"]
    arrivals = generate_arrivals(config, seed)
    times = {}
    for policy in ("optimiser", "fcfs"):
        t = time.perf_counter()
        result = simulate(config, arrivals, policy)
        times[policy] = time.perf_counter() - t
        print(
            f"region-year {policy:9s}: {times[policy]:6.2f} s  "
            f"({len(result.rounds)} rounds, {result.placed} placed)"
        )
    t = time.perf_counter()
    result = hindsight(config, arrivals)
    times["hindsight"] = time.perf_counter() - t
    print(f"region-year hindsight: {times['hindsight']:6.2f} s  ({result.placed} placed)")
    return times


def throughput(workers: int, seeds: int) -> float:
    """Tasks per second on a warm local cluster (started, and warmed by a first sweep, before
    timing), reached through its scheduler address like an existing cluster."""
    from dask.distributed import LocalCluster

    scenario = load_scenario(SCENARIO)
    grid = {"policy.max_vulnerable_share": [0.25, 0.3], "clients.per_week": [2.0, 2.5]}
    tasks = seeds * 4
    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        sweep(scenario.with_seeds([1]), grid, address=cluster.scheduler_address)  # warm-up
        t = time.perf_counter()
        sweep(
            scenario.with_seeds(list(range(1, seeds + 1))), grid, address=cluster.scheduler_address
        )
        seconds = time.perf_counter() - t
    print(
        f"sweep, {workers} worker(s): {tasks} tasks in {seconds:6.2f} s "
        f"= {tasks / seconds:.2f} tasks/s"
    )
    return tasks / seconds


def main() -> None:
    import datetime as dt
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from run import machine
    from sections import write_section

    times = region_year()
    one = throughput(1, args.seeds)
    two = throughput(2, args.seeds)
    print(f"speed-up 2 vs 1 workers: {two / one:.2f}x")
    write_section(
        args.out,
        "simulation",
        [
            "## What-if simulation speed",
            "",
            f"- Date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}; command: "
            f"`.venv/bin/python benchmarks/simulation.py --seeds {args.seeds}`",
            "- Machine: " + "; ".join(f"{k}: {v}" for k, v in machine().items()),
            "",
            "| measure | value |",
            "| --- | ---: |",
            *(
                f"| Westfriesland region-year, 52 weekly rounds, {p} | {s:.2f} s |"
                for p, s in times.items()
            ),
            f"| sweep on a local Dask cluster, 1 worker | {one:.2f} tasks/s |",
            f"| sweep on a local Dask cluster, 2 workers | {two:.2f} tasks/s |",
            f"| speed-up 2 vs 1 workers | {two / one:.2f}× |",
        ],
    )


if __name__ == "__main__":
    main()
