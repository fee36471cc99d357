"""Outcomes: does the optimiser house people sooner than today's practice, and where not?

The Westfriesland scenario (scenarios/westfriesland.yaml) in four settings, 30 seeds each, every
policy on the same seeds (common random numbers), differences paired by seed with 95% intervals:

- base: the scenario as it is;
- scarce vacancies: every vacancy stream at half its rate;
- narrow preferences: every client lists exactly one municipality;
- pair-dependent refusals: the chance of accepting falls with preference rank (−0.8 log-odds per
  rank), rent close to the client's limit (−0.6 per 10 points above 80%) and distance from the
  first-listed municipality (−0.5 per 10 km); here the optimiser that uses the acceptance model
  (``optimiser_acceptance``, levels placed, expected_acceptance, waiting_days, rank_sum) runs too;
- the same with the acceptance level after waiting (placed, waiting_days, expected_acceptance,
  rank_sum): the other end of the trade-off between fewer refusals and waiting order.

The issue's targets, reported whether met or not: against today's practice, ≥ 25% shorter median
time to a home and ≥ 5% more placements; against regional FCFS under pair-dependent acceptance,
≥ 30% fewer refusals per placement at ≤ 1% fewer placements; ≥ 98% of the non-clairvoyant
ceiling. Then the speed figure: a region-year with 30 seeds × 4 policies (practice, regional
FCFS, optimiser, clairvoyant ceiling) in this process and on a local Dask cluster of 2 workers,
with the load average beside it (the machine is shared).

    .venv/bin/python benchmarks/outcomes.py [--seeds 30] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import yaml

from allocator.simulation.runner import ScenarioResults, run_scenario, run_task, sweep
from allocator.simulation.scenario import parse_scenario

try:
    from benchmarks.sections import RESULTS, write_section
except ModuleNotFoundError:  # run as a script
    from sections import RESULTS, write_section

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "westfriesland.yaml"
PAIR_DEPENDENT = {"rank": -0.8, "rent_over_limit": -0.6, "rent_from": 0.8, "distance": -0.5}
SETTINGS = [
    {"name": "scarce vacancies", "scale": {"vacancies.streams.per_week": 0.5}},
    {
        "name": "narrow preferences",
        "set": {"clients.preferences.none_share": 0.0, "clients.preferences.count_shares": {1: 1}},
    },
    {"name": "pair-dependent refusals", "set": {"offers.acceptance": PAIR_DEPENDENT}},
    {
        "name": "pair-dependent, acceptance after waiting",
        "description": "As pair-dependent refusals, with the acceptance optimiser's levels "
        "placed, waiting_days, expected_acceptance, rank_sum (acceptance only among equal waits)",
        "set": {
            "offers.acceptance": PAIR_DEPENDENT,
            "policy.acceptance_objective": [
                "placed",
                "waiting_days",
                "expected_acceptance",
                "rank_sum",
            ],
        },
    },
]
ACCEPTANCE_SETTINGS = ("pair-dependent refusals", "pair-dependent, acceptance after waiting")
POLICIES = [
    "practice",
    "fcfs",
    "optimiser",
    "optimiser_acceptance",
    "ceiling_arrivals",
    "hindsight",
]
SPEED_POLICIES = ["practice", "fcfs", "optimiser", "hindsight"]


def scenario(seeds: int):
    data = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    data["variants"] = SETTINGS
    data["policies"] = POLICIES
    return parse_scenario(data).with_seeds(list(range(1, seeds + 1)))


def _row(res: ScenarioResults, variant: str, policy: str, against: str, kpi: str):
    d = res.paired
    hit = d[
        (d["variant"] == variant)
        & (d["policy"] == policy)
        & (d["against"] == against)
        & (d["kpi"] == kpi)
    ]
    return None if hit.empty else hit.iloc[0]


def _mean(res: ScenarioResults, variant: str, policy: str, kpi: str) -> float:
    k = res.kpis
    hit = k[
        (k["variant"] == variant)
        & (k["policy"] == policy)
        & (k["kpi"] == kpi)
        & (k["group"] == "all")
    ]
    return float(hit.iloc[0]["mean"]) if len(hit) else float("nan")


def _cell(r, digits: int = 1) -> str:
    if r is None:
        return "—"
    rel = f", {r['relative']:+.0%}" if np.isfinite(r["relative"]) else ""
    return f"{r['mean']:+.{digits}f} ({r['ci_low']:+.{digits}f} to {r['ci_high']:+.{digits}f}{rel})"


def outcome_lines(res: ScenarioResults) -> list[str]:
    variants = list(dict.fromkeys(res.kpis["variant"]))
    lines = [
        "| setting | comparison | placements | median days to a home (KM) | "
        "refusals per placement | share of arrivals ceiling |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for v in variants:
        for policy, against in (
            ("optimiser", "practice"),
            ("optimiser", "fcfs"),
            ("optimiser_acceptance", "fcfs"),
        ):
            if policy == "optimiser_acceptance" and v not in ACCEPTANCE_SETTINGS:
                continue
            lines.append(
                f"| {v} | {policy} − {against} | "
                f"{_cell(_row(res, v, policy, against, 'placements'))} | "
                f"{_cell(_row(res, v, policy, against, 'time_to_home_median'), 0)} | "
                f"{_cell(_row(res, v, policy, against, 'refusals_per_placement'), 3)} | "
                f"{_mean(res, v, policy, 'share_of_ceiling_arrivals'):.3f} |"
            )
    lines += ["", "Means per policy (30 seeds):", ""]
    lines += [
        "| setting | policy | placements | median days (KM) | median days, housed only | "
        "refusals / placement | justified envy |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in variants:
        for p in POLICIES:
            if p == "optimiser_acceptance" and v not in ACCEPTANCE_SETTINGS:
                continue
            timed = p not in ("ceiling_arrivals", "hindsight")
            lines.append(
                f"| {v} | {p} | {_mean(res, v, p, 'placements'):.1f} | "
                + (f"{_mean(res, v, p, 'time_to_home_median'):.0f}" if timed else "—")
                + " | "
                + (f"{_mean(res, v, p, 'waiting_days_median'):.0f}" if timed else "—")
                + f" | {_mean(res, v, p, 'refusals_per_placement'):.3f} | "
                f"{_mean(res, v, p, 'justified_envy'):.0f} |"
            )
    return lines


def target_lines(res: ScenarioResults) -> list[str]:
    variants = list(dict.fromkeys(res.kpis["variant"]))
    out = ["", "Targets (met / not met, on the mean paired difference):", ""]
    for v in variants:
        t = _row(res, v, "optimiser", "practice", "time_to_home_median")
        p = _row(res, v, "optimiser", "practice", "placements")
        share = _mean(res, v, "optimiser", "share_of_ceiling_arrivals")
        out.append(
            f"- {v}: vs practice median time {t['relative']:+.0%} (target ≤ −25%: "
            f"{'met' if t['relative'] <= -0.25 else 'not met'}), placements {p['relative']:+.1%} "
            f"(target ≥ +5%: {'met' if p['relative'] >= 0.05 else 'not met'}); optimiser at "
            f"{share:.1%} of the arrivals ceiling (target ≥ 98%: "
            f"{'met' if share >= 0.98 else 'not met'})."
        )
    for v in ACCEPTANCE_SETTINGS:
        r = _row(res, v, "optimiser_acceptance", "fcfs", "refusals_per_placement")
        p = _row(res, v, "optimiser_acceptance", "fcfs", "placements")
        m = _row(res, v, "optimiser_acceptance", "fcfs", "time_to_home_median")
        if r is None or p is None:
            continue
        out.append(
            f"- {v}: optimiser with the acceptance model vs regional FCFS: refusals per placement "
            f"{r['relative']:+.0%} (target ≤ −30%: {'met' if r['relative'] <= -0.30 else 'not met'}"
            f"), placements {p['relative']:+.1%} (target ≥ −1%: "
            f"{'met' if p['relative'] >= -0.01 else 'not met'}); median time to a home "
            f"{m['mean']:+.0f} days ({m['relative']:+.0%})."
        )
    return out


def speed(seeds: int) -> tuple[float, float, list[float]]:
    """Seconds for a region-year of the base, ``seeds`` × the four policies: in this process,
    and on a warm local Dask cluster of two worker processes."""
    from dask.distributed import LocalCluster

    config = parse_scenario(yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))).configs["base"]
    loads = [os.getloadavg()[0]]
    t = time.perf_counter()
    for seed in range(1, seeds + 1):
        run_task(config, "base", seed, SPEED_POLICIES)
    serial = time.perf_counter() - t
    loads.append(os.getloadavg()[0])
    data = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    data["policies"] = SPEED_POLICIES
    base = parse_scenario(data)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        sweep(base.with_seeds([1]), {"horizon_weeks": [52]}, address=cluster.scheduler_address)
        t = time.perf_counter()
        sweep(
            base.with_seeds(list(range(1, seeds + 1))),
            {"horizon_weeks": [52]},
            address=cluster.scheduler_address,
        )
        parallel = time.perf_counter() - t
    loads.append(os.getloadavg()[0])
    return serial, parallel, loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load0 = os.getloadavg()
    t = time.perf_counter()
    res = run_scenario(scenario(args.seeds))
    total = time.perf_counter() - t
    lines = [
        "## Outcomes: the optimiser against today's practice (benchmarks/outcomes.py)",
        "",
        f"Westfriesland, {args.seeds} seeds per setting, every policy on the same seeds; paired "
        "differences (policy − the one compared) with 95% intervals and the change relative to "
        "the one compared. Median days to a home: Kaplan–Meier, everyone on the list counted "
        "(still waiting at the end: censored). Machine: "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"simulated in {total:.0f} s, load average {load0[0]:.1f} at the start (shared by five "
        "engineers).",
        "",
    ]
    lines += outcome_lines(res) + target_lines(res)
    serial, parallel, loads = speed(args.seeds)
    lines += [
        "",
        f"Speed: a region-year (52 weekly rounds), {args.seeds} seeds × 4 policies (practice, "
        f"regional FCFS, optimiser, clairvoyant ceiling): {serial:.1f} s in one process, "
        f"{parallel:.1f} s on 2 Dask worker processes (target ≤ 30 s on 2 cores; ratio "
        f"{serial / parallel:.2f}); load average {', '.join(f'{x:.1f}' for x in loads)} "
        "(before, after the serial run, after the parallel run).",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(RESULTS, "outcomes", lines)


if __name__ == "__main__":
    main()
