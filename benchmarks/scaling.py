"""How the optimiser's time and memory grow from region to national scale, against its peers.

    .venv/bin/python benchmarks/scaling.py [--repeat 3] [--highs-limit 120] [--out FILE]

Five generated sizes from a region to the whole country. Per size, each of these runs --repeat
times, every run in a freshly spawned process (peak memory is that process's own):

- ``auto``: ``allocator.solver.solve`` (the proposal's optimiser), all levels, proven;
- ``flow``: the nested min-cost flow of the same instance (rules 1, 8 and 10, corporation
  quotas dropped), with the same lexicographic weights, per independent part: the relaxation
  the ``auto`` time is held against (target: at most 3x);
- ``greedy``: first come, first served (today's practice);
- ``highs``: the per-pair HiGHS MIP (``allocator.mip``), once per size, up to --highs-max-pairs
  eligible pairs and --highs-limit seconds.

Then a plain assignment (one municipality, no cap that can bind, 800 × 800) against scipy's
``linear_sum_assignment`` on the same weights. Medians are reported; ratios are of medians
measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

SIZES = [
    (150, 600, 8),
    (500, 2_000, 16),
    (1_500, 6_000, 40),
    (4_000, 16_000, 120),
    (10_000, 40_000, 350),
]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(approach: str, size: tuple[int, int, int], time_limit: float) -> dict:
    import numpy as np

    from allocator.columns import build_columns
    from allocator.decompose import settle_pinned, split
    from allocator.eligibility import eligible_pairs
    from allocator.flow import lexicographic_weights, solve_flow
    from allocator.generator import generate
    from allocator.greedy import first_come_first_served
    from allocator.models import LEVEL_SENSE
    from allocator.solver import SolverSettings, level_coefficients, objective_values, solve

    instance = generate(*size, seed=0)
    out: dict = {"approach": approach}
    t = time.perf_counter()
    if approach == "auto":
        s = solve(instance, SolverSettings(time_limit_seconds=time_limit))
        out["seconds"] = time.perf_counter() - t
        out["solve_seconds"] = s.facts.build_seconds + s.facts.solve_seconds
        out["eligibility_seconds"] = s.facts.eligibility_seconds
        out["objective"] = s.objective.as_tuple()
        out["proven"] = s.proven
        out["paths"] = s.facts.paths
        out["pairs"] = s.facts.eligible_pairs
    else:
        cols = build_columns(instance)
        pairs = eligible_pairs(cols)
        out["eligibility_seconds"] = time.perf_counter() - t
        out["pairs"] = len(pairs)
        t = time.perf_counter()
        if approach == "greedy":
            chosen = first_come_first_served(cols, pairs)
            out["objective"] = objective_values(cols, pairs, chosen).as_tuple()
        elif approach == "flow":
            levels = list(instance.policy.objective)
            coefficients = [level_coefficients(lv, cols, pairs) for lv in levels]
            up = [LEVEL_SENSE[lv] == "max" for lv in levels]
            reduced = settle_pinned(cols, pairs)
            chosen = [reduced.fixed]
            for positions in split(cols, pairs, reduced.free, reduced.caps):
                c, u = pairs.client[positions], pairs.unit[positions]
                weight = lexicographic_weights([k[positions] for k in coefficients], up, c)
                chosen.append(positions[solve_flow(c, u, weight, reduced.caps)])
            picked = np.concatenate(chosen)
            out["objective"] = objective_values(cols, pairs, picked).as_tuple()
        elif approach == "highs":
            from allocator.mip import solve_mip

            ids = list(
                zip(
                    [cols.client_ids[c] for c in pairs.client.tolist()],
                    [cols.unit_ids[u] for u in pairs.unit.tolist()],
                    strict=True,
                )
            )
            result = solve_mip(instance, time_limit_seconds=time_limit, pairs=ids)
            out["proven"] = result.proven
            out["objective"] = None if result.objective is None else result.objective.as_tuple()
        out["solve_seconds"] = time.perf_counter() - t
        out["seconds"] = out["eligibility_seconds"] + out["solve_seconds"]
    out["peak_mb"] = _peak_mb()
    return out


def measure_assignment(approach: str, n: int = 800) -> dict:
    """A plain assignment: one municipality, no corporation quota, room everywhere."""
    import datetime
    import time

    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from allocator.columns import build_columns
    from allocator.eligibility import eligible_pairs
    from allocator.models import Instance
    from allocator.solver import solve

    rng = np.random.default_rng(0)
    start = datetime.date(2026, 1, 1)
    instance = Instance.model_validate(
        {
            "municipalities": [{"id": "m", "name": "M", "quota": n}],
            "corporations": [{"id": "k", "name": "K"}],
            "complexes": [
                {
                    "id": f"cx{i}",
                    "municipality_id": "m",
                    "units_total": 100,
                    "vulnerable_residents": 0,
                    "max_vulnerable_share": 1.0,
                }
                for i in range(n // 50)
            ],
            "units": [
                {
                    "id": f"u{j}",
                    "complex_id": f"cx{j % (n // 50)}",
                    "corporation_id": "k",
                    "rooms": 1,
                    "rent": float(rng.integers(400, 900)),
                    "max_occupants": 4,
                }
                for j in range(n)
            ],
            "clients": [
                {
                    "id": f"c{i}",
                    "household_size": 1,
                    "max_rent": float(rng.integers(500, 1000)),
                    "target_group": "BW",
                    "ready_since": str(start - datetime.timedelta(days=int(rng.integers(0, 700)))),
                }
                for i in range(n)
            ],
            "policy": {"reference_date": "2026-11-25"},
        }
    )
    out: dict = {"approach": approach}
    if approach == "auto":
        t = time.perf_counter()
        s = solve(instance)
        out["seconds"] = time.perf_counter() - t
        out["solve_seconds"] = s.facts.build_seconds + s.facts.solve_seconds
        out["objective"] = s.objective.as_tuple()
        out["paths"] = s.facts.paths
    else:
        cols = build_columns(instance)
        pairs = eligible_pairs(cols)
        # the same lexicographic weights: placed first, then waiting days (rank is 1 everywhere)
        weights = np.zeros((n, n))
        weights[pairs.client, pairs.unit] = 1e6 + cols.waiting_days[pairs.client]
        t = time.perf_counter()
        rows, columns = linear_sum_assignment(weights, maximize=True)
        out["solve_seconds"] = out["seconds"] = time.perf_counter() - t
        taken = weights[rows, columns] > 0
        out["objective"] = (int(taken.sum()), int(cols.waiting_days[rows[taken]].sum()))
    out["peak_mb"] = _peak_mb()
    return out


def isolated(function, *args) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--highs-limit", type=float, default=120.0)
    parser.add_argument("--highs-max-pairs", type=int, default=400_000)
    parser.add_argument("--sizes", type=int, default=len(SIZES), help="how many of the sizes")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).with_name("RESULTS.md"),
        help="the report to add this section to (replacing an earlier scaling section)",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from run import machine  # the same machine description as the main benchmark
    from sections import write_section

    lines = [
        "# Scaling: region to national",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"- Command: `.venv/bin/python benchmarks/scaling.py --repeat {args.repeat} "
        f"--highs-limit {args.highs_limit:g}`",
        "- Machine: " + "; ".join(f"{k}: {v}" for k, v in machine().items()),
        f"- Every figure is the median of {args.repeat} runs, each in a fresh process; *solve s* "
        "excludes eligibility (common to all), *total s* includes it; *peak MB* is the process's "
        "own maximum resident set, instance included. `flow` is the nested relaxation "
        "(corporation quotas dropped): a bound, not an allocation that respects every rule.",
        "",
        "| clients × units (municipalities) | pairs | approach | placed, waiting, -rank | proven "
        "| paths | solve s | total s | peak MB | solve ÷ flow | solve ÷ HiGHS |",
        "| --- | ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    growth = []
    for size in SIZES[: args.sizes]:
        n, m, k = size
        print(f"size {n} x {m} ...", flush=True)
        results = {
            approach: [
                isolated(measure, approach, size, args.time_limit) for _ in range(args.repeat)
            ]
            for approach in ("auto", "flow", "greedy")
        }
        pairs = results["auto"][0]["pairs"]
        if pairs <= args.highs_max_pairs:
            results["highs"] = [isolated(measure, "highs", size, args.highs_limit)]
        auto_solve = median(results["auto"], "solve_seconds")
        flow_solve = median(results["flow"], "solve_seconds")
        highs_solve = median(results.get("highs", []), "solve_seconds")
        highs_done = bool(results.get("highs")) and results["highs"][0].get("proven")
        for approach, rows in results.items():
            row = rows[0]
            solve_s = median(rows, "solve_seconds")
            proven = row.get("proven")
            if approach == "highs" and not proven:
                proven = f"no (limit {args.highs_limit:g} s)"
            lines.append(
                f"| {n:,} × {m:,} ({k}) | {pairs:,} | {approach} | {row['objective']} | "
                f"{'—' if proven is None else proven} | {row.get('paths', '') or ''} | "
                f"{solve_s:.3f} | {median(rows, 'seconds'):.3f} | {median(rows, 'peak_mb'):.0f} | "
                + (f"{solve_s / flow_solve:.2f}" if approach == "auto" else "")
                + " | "
                + (
                    ""
                    if approach != "auto" or not highs_solve
                    else f"{highs_solve / solve_s:.0f}× faster"
                    if highs_done
                    else f"> {highs_solve / solve_s:.0f}× (HiGHS unproven at its limit)"
                )
                + " |"
            )
        if "highs" not in results:
            lines.append(
                f"| {n:,} × {m:,} ({k}) | {pairs:,} | highs | not run: {pairs:,} pairs is above "
                f"--highs-max-pairs ({args.highs_max_pairs:,}); at 286,214 pairs it already ran "
                f"out of time | | | | | | | |"
            )
        growth.append(
            (
                n,
                m,
                pairs,
                auto_solve,
                median(results["auto"], "seconds"),
                median(results["auto"], "peak_mb"),
                flow_solve,
            )
        )

    lines += [
        "",
        "## Growth of `auto` with size",
        "",
        "| clients | units | pairs | solve s | total s | peak MB | pairs × prev | solve × prev |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    previous = None
    for n, m, pairs, solve_s, total, peak, _flow in growth:
        ratio = (
            ("", "")
            if previous is None
            else (f"{pairs / previous[0]:.1f}", f"{solve_s / previous[1]:.1f}")
        )
        lines.append(
            f"| {n:,} | {m:,} | {pairs:,} | {solve_s:.3f} | {total:.3f} | {peak:.0f} | "
            f"{ratio[0]} | {ratio[1]} |"
        )
        previous = (pairs, solve_s)

    print("plain assignment ...", flush=True)
    ours = [isolated(measure_assignment, "auto") for _ in range(args.repeat)]
    lsa = [isolated(measure_assignment, "lsa") for _ in range(args.repeat)]
    ours_s, lsa_s = median(ours, "solve_seconds"), median(lsa, "solve_seconds")
    lines += [
        "",
        "## Plain assignment: 800 clients × 800 units, one municipality, no cap can bind",
        "",
        "| approach | objective (placed, waiting) | solve s | total s | ratio to LSA (solve) |",
        "| --- | --- | ---: | ---: | ---: |",
        f"| auto (path {ours[0]['paths']}) | {ours[0]['objective'][:2]} | {ours_s:.4f} | "
        f"{median(ours, 'seconds'):.4f} | {ours_s / lsa_s:.1f} |",
        f"| scipy linear_sum_assignment (dense weights given) | {lsa[0]['objective']} | "
        f"{lsa_s:.4f} | {lsa_s:.4f} | 1.0 |",
        "",
        "`auto`'s solve time includes splitting into parts and building the dense matrix from the "
        "eligible pairs; LSA is handed the finished matrix.",
    ]
    lines[0] = "#" + lines[0]  # a section of the results, one level down
    write_section(args.out, "scaling", lines)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
