"""The time limit and the memory ceiling at national scale, on every method (issue 12, points 3-4).

    .venv/bin/python benchmarks/limits.py [--scales owned-national] [--limit 10]
        [--methods auto,lp,parts,cp-sat] [--out benchmarks/RESULTS.md]

Each (scale, method) runs once in its own freshly spawned process with a short time limit; the
row gives the whole ``solve`` call (eligibility, building and solving) against the limit, the
process's peak resident memory (Python, libraries and the generated instance included), what came
back and the bound on the first level. The goals: the whole solve within the limit + 5 %, peak at
most 2 GB, and a time-out that returns the best found with a real bound.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import OWNED_SCALES, SCALES, _peak_mb, make_instance  # noqa: E402
from scaling import isolated  # noqa: E402
from sections import RESULTS, write_section  # noqa: E402


def measure_limit(scale: str, method: str, limit: float, seed: int = 0) -> dict:
    import time

    from allocator.solver import SolverSettings, solve

    instance = make_instance(scale, seed)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    solution = solve(instance, SolverSettings(method=method, time_limit_seconds=limit))
    wall = time.perf_counter() - started
    first = solution.facts.levels[0]
    return {
        "scale": scale,
        "method": method,
        "ran": solution.facts.method,
        "wall": wall,
        "peak_mb": _peak_mb(),
        "load": load,
        "proven": solution.proven,
        "paths": solution.facts.paths,
        "placed": solution.objective.placed,
        "bound": first.bound,
        "status": first.status,
        "note": solution.facts.note,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="owned-national")
    parser.add_argument("--methods", default="auto,lp,parts,cp-sat")
    parser.add_argument("--limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = shlex.join([".venv/bin/python", "benchmarks/limits.py", *(argv or sys.argv[1:])])
    rows = []
    for scale in [s for s in args.scales.split(",") if s]:
        if scale not in OWNED_SCALES and scale not in SCALES:
            parser.error(f"unknown scale {scale!r}")
        for method in [m for m in args.methods.split(",") if m]:
            print(f"[{dt.datetime.now():%H:%M:%S}] {scale}: {method} ...", flush=True)
            rows.append(isolated(measure_limit, scale, method, args.limit, args.seed))
            print(f"    {rows[-1]}", flush=True)
    lines = [
        "## Time limit and memory at national scale (issue 12, points 3-4)",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}; command: "
        f"`{command}`; {os.cpu_count()} CPUs; each row in its own fresh process.",
        "- *whole solve* is the `solve` call (eligibility, building, solving) against the limit "
        "(goal: at most the limit + 5 %); *peak MB* the process's maximum resident set "
        "(instance and libraries included; goal: at most 2,048).",
        "",
        "| scale | method asked | ran | limit s | whole solve s | × limit | peak MB | load | "
        "result | placed | bound on placed |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        result = "proven optimal" if r["proven"] else f"best found ({r['status']})"
        bound = "-" if r["bound"] is None else f"{r['bound']:,.0f}"
        lines.append(
            f"| {r['scale']} | {r['method']} | {r['ran']} {r['paths']} | {args.limit:g} | "
            f"{r['wall']:.2f} | {r['wall'] / args.limit:.3f} | {r['peak_mb']:,.0f} | "
            f"{r['load']:.2f} | {result} | {r['placed']:,} | {bound} |"
        )
    lines.append("")
    for r in rows:
        if r["note"]:
            lines.append(f"- {r['method']}: {r['note']}")
    lines.append("")
    write_section(args.out, "limits", lines)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
