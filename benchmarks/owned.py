"""The owned-corporation family: corporations that cross region borders (issue 12).

    .venv/bin/python benchmarks/owned.py [--scales owned-region,owned-province,owned-national,
        owned-stress] [--time-limit 60] [--highs-limit 120] [--out benchmarks/RESULTS.md]

Each building is owned by one corporation: two regional corporations per region of eight
municipalities own 85% of the buildings, 2-3 national corporations the other 15% anywhere (in
``owned-stress`` twelve national corporations own everything); 70% of the corporations have a
quota between 30% and 90% of their share of the clients (``allocator generate
--national-corporations K``). A national corporation's quota joins every region into one part.

Per scale, each in its own freshly spawned process (peak memory is that process's own), in the
same run: ``instance`` (the base every other row includes), ``flow`` (the nested min-cost flow
of the same instance: corporation quotas dropped, so a relaxation and the speed to hold
``solve auto`` against), ``solve auto``, the independent ``highs mip`` (with --highs-limit) and
one-model ``solve cp-sat``. The section of RESULTS.md it writes gives the ratios to ``solve
auto`` and to the flow, peak memory and the load average beside the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import OWNED_SCALES, _load_line, run_isolated, scale_section  # noqa: E402
from scaling import isolated, measure_assignment, median  # noqa: E402
from sections import RESULTS, write_section  # noqa: E402

APPROACHES = ("instance", "flow", "solve auto", "highs mip", "solve cp-sat")


def flow_ratio(rows: list[dict]) -> list[str]:
    auto = next((r for r in rows if r["approach"] == "solve auto"), {})
    flow = next((r for r in rows if r["approach"] == "flow"), {})
    if not auto.get("solve_seconds") or not flow.get("solve_seconds"):
        return []
    total = (auto.get("build_seconds") or 0) + auto["solve_seconds"]
    ratio = total / flow["solve_seconds"]
    return [
        f"- `solve auto` build + solve {total:.2f} s against the nested flow's "
        f"{flow['solve_seconds']:.2f} s on the same instance: **{ratio:.1f}×** "
        f"(load average {auto.get('load_before', float('nan')):.2f} / "
        f"{flow.get('load_before', float('nan')):.2f} when they started).",
        "",
    ]


def assignment_section(repeat: int) -> list[str]:
    """The plain assignment (800 × 800, one municipality, no cap can bind) against scipy's
    linear_sum_assignment on the same weights, each run in a fresh process, interleaved."""
    ours, lsa = [], []
    for _ in range(repeat):
        ours.append(isolated(measure_assignment, "auto"))
        lsa.append(isolated(measure_assignment, "lsa"))
    ours_s, lsa_s = median(ours, "solve_seconds"), median(lsa, "solve_seconds")
    return [
        "### Plain assignment: 800 clients × 800 units, one municipality, no cap can bind",
        "",
        f"Median of {repeat} fresh processes each, interleaved; load average "
        f"{os.getloadavg()[0]:.2f} after.",
        "",
        "| approach | objective (placed, waiting) | solve s | ratio to LSA |",
        "| --- | --- | ---: | ---: |",
        f"| auto (path {ours[0]['paths']}) | {ours[0]['objective'][:2]} | {ours_s:.4f} | "
        f"{ours_s / lsa_s:.1f} |",
        f"| scipy linear_sum_assignment (dense weights given) | {lsa[0]['objective']} | "
        f"{lsa_s:.4f} | 1.0 |",
        "",
        "`auto`'s solve time includes settling pinned pairs, the check that no cap can bind, "
        "the lexicographic weights and building the dense matrix from the eligible pairs; LSA "
        "is handed the finished matrix.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=",".join(OWNED_SCALES))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--highs-limit", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--approaches", default=",".join(APPROACHES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--assignment-repeat", type=int, default=7)
    args = parser.parse_args(argv)
    scales = [s for s in args.scales.split(",") if s]
    approaches = [a for a in args.approaches.split(",") if a]
    command = shlex.join([".venv/bin/python", "benchmarks/owned.py", *(argv or sys.argv[1:])])
    results: dict[str, list[dict]] = {}
    print("plain assignment ...", flush=True)
    assignment = assignment_section(args.assignment_repeat) if args.assignment_repeat else []
    for scale in scales:
        results[scale] = []
        for approach in approaches:
            limit = args.highs_limit if approach.startswith("highs") else args.time_limit
            print(f"[{dt.datetime.now():%H:%M:%S}] {scale}: {approach} ...", flush=True)
            row = run_isolated(approach, scale, args.seed, limit, 3 * limit + 300)
            results[scale].append(row)
            keep = ("result", "objective", "solve_seconds", "wall_seconds", "peak_mb")
            print(f"    { ({k: row.get(k) for k in keep}) }", flush=True)
        lines = [
            "## Corporations across regions (the owned-corporation family)",
            "",
            f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}; command: "
            f"`{command}`; seed {args.seed}; time limit {args.time_limit:g} s "
            f"(HiGHS MIP {args.highs_limit:g} s); {os.cpu_count()} CPUs.",
            f"- {_load_line(results)}.",
            "- Instances: `generate(clients, units, municipalities, seed, "
            "national_corporations=K, national_share=s)`; `flow` is the nested min-cost flow "
            "of the same instance without corporation quotas (a relaxation: its objective can "
            "exceed the optimum).",
            "",
        ]
        for done, rows in results.items():
            lines += scale_section(done, rows, args.time_limit) + flow_ratio(rows)
        lines += assignment
        write_section(args.out, "owned", lines)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
