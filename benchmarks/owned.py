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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=",".join(OWNED_SCALES))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--highs-limit", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--approaches", default=",".join(APPROACHES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    scales = [s for s in args.scales.split(",") if s]
    approaches = [a for a in args.approaches.split(",") if a]
    command = shlex.join([".venv/bin/python", "benchmarks/owned.py", *(argv or sys.argv[1:])])
    results: dict[str, list[dict]] = {}
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
        write_section(args.out, "owned", lines)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
