"""National instances of the owned-corporation family that the solver was not tuned on (issue 12):
other seeds, more national corporations, larger national shares, so 2-9 linking limits.

    .venv/bin/python benchmarks/unseen.py [--cases 1:3:0.15,2:3:0.15,...] [--time-limit 60]
        [--out benchmarks/RESULTS.md]

Each case (``seed:national corporations:national share`` of
``generate(10000, 40000, 350, ...)``) is solved once with ``solve`` (method auto) in its own
freshly spawned process; the row gives the linking limits, whether every level is proven, the
solve's own seconds (eligibility, building and solving), what is left when not proven (the
proposal's gap in words), peak memory and whether ``validate`` finds a broken rule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import _peak_mb  # noqa: E402
from scaling import isolated  # noqa: E402
from sections import RESULTS, write_section  # noqa: E402

CASES = "0:3:0.15,1:3:0.15,2:3:0.15,3:6:0.15,4:3:0.5,0:12:1.0"


def measure_case(seed: int, national: int, share: float, limit: float) -> dict:
    import logging
    import time

    from allocator.generator import generate
    from allocator.solver import SolverSettings, solve
    from allocator.validator import validate

    linking = []

    class Links(logging.Handler):  # the solver logs how many caps join the regions
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("linked:"):
                linking.append(record.args[1])

    logger = logging.getLogger("allocator.solver")
    logger.addHandler(Links())
    logger.setLevel(logging.INFO)
    instance = generate(10_000, 40_000, 350, seed, national_corporations=national,
                        national_share=share)  # fmt: skip
    load = os.getloadavg()[0]
    started = time.perf_counter()
    solution = solve(instance, SolverSettings(time_limit_seconds=limit))
    wall = time.perf_counter() - started
    return {
        "case": f"seed {seed}, {national} national, share {share:g}",
        "linking": linking[0] if linking else 0,
        "proven": solution.proven,
        "wall": wall,
        "objective": (
            solution.objective.placed,
            solution.objective.waiting_days,
            solution.objective.rank_sum,
        ),  # fmt: skip
        "note": solution.facts.note or "",
        "paths": solution.facts.paths,
        "peak_mb": _peak_mb(),
        "load": load,
        "broken": len(validate(instance, solution.assignments)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=CASES)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = shlex.join([".venv/bin/python", "benchmarks/unseen.py", *(argv or sys.argv[1:])])
    rows = []
    for case in args.cases.split(","):
        seed, national, share = case.split(":")
        print(f"[{dt.datetime.now():%H:%M:%S}] {case} ...", flush=True)
        row = isolated(measure_case, int(seed), int(national), float(share), args.time_limit)
        print(f"    {row}", flush=True)
        rows.append(row)
    lines = [
        "## National instances not tuned on (owned-corporation family, 2-9 linking limits)",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}; command: "
        f"`{command}`; time limit {args.time_limit:g} s; {os.cpu_count()} CPUs; load average "
        f"{min(r['load'] for r in rows):.2f}-{max(r['load'] for r in rows):.2f} when they started.",
        "- `generate(10000, 40000, 350, seed, national_corporations=K, national_share=s)`, "
        "`solve` with method auto, each case in its own process.",
        "",
        "| case | linking limits | proven | solve s | placed / waiting_days / rank_sum | "
        "what is left | broken rules | peak MB |",
        "| --- | ---: | --- | ---: | --- | --- | ---: | ---: |",
    ]
    for r in rows:
        left = r["note"].split("not proven optimal: ")[-1] if not r["proven"] else "-"
        lines.append(
            f"| {r['case']} | {r['linking']} | {'**yes**' if r['proven'] else 'no'} | "
            f"{r['wall']:.1f} | {' / '.join(f'{v:,}' for v in r['objective'])} | {left} | "
            f"{r['broken']} | {r['peak_mb']:,.0f} |"
        )
    write_section(args.out, "unseen", lines)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
