"""Benchmark the optimisers on generated instances at region, province and national scale.

    .venv/bin/python benchmarks/run.py [--scales region,province,national] [--time-limit 60]
                                       [--out benchmarks/RESULTS.md] [--seed 0]

Every approach runs in its own freshly spawned process, so its peak memory (the process's own
``ru_maxrss``) is its own and nothing else's. Each process regenerates the instance from the seed
(deterministic), so every peak includes the instance; the ``instance`` row measures that common
base (Python, numpy, OR-Tools, the instance and its eligible pairs) on its own.

Approaches:
- ``instance``: generator and vectorised eligibility only (the base every other row includes).
- ``greedy``: first come, first served (``allocator.greedy``), today's hand practice.
- ``solve auto``: ``allocator.solver.solve`` with the default method (split, flow, LP, CP-SAT).
- ``solve cp-sat``: ``solve`` with ``method="cp-sat"``: one CP-SAT model of every rule.
- ``highs mip``: ``allocator.mip.solve_mip`` (HiGHS through MathOpt, default options), given the
  vectorised pairs.
- ``highs mip presolve-off``: the same with HiGHS's presolve switched off (on this structure
  HiGHS's presolve can take tens of seconds and remove little).

The time limit is passed to each optimiser; a process that runs far past it is stopped and
reported as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

SCALES: dict[str, tuple[int, int, int]] = {
    "region": (150, 600, 8),
    "province": (1_500, 6_000, 40),
    "national": (10_000, 40_000, 350),
}
#: The owned-corporation family (issue 12): clients, units, municipalities, national
#: corporations and their share of the buildings. Regional corporations own the rest, two per
#: region; their quotas join the regions into one problem.
OWNED_SCALES: dict[str, tuple[int, int, int, int, float]] = {
    "owned-region": (150, 600, 8, 2, 0.15),
    "owned-province": (1_500, 6_000, 40, 2, 0.15),
    "owned-national": (10_000, 40_000, 350, 3, 0.15),
    "owned-stress": (10_000, 40_000, 350, 12, 1.0),
}
APPROACHES = (
    "instance",
    "greedy",
    "solve auto",
    "solve cp-sat",
    "highs mip",
    "highs mip presolve-off",
)
REFERENCE = "solve auto"
#: Set (by ``--rules-12-15``) in the environment the spawned processes inherit.
RULES_12_15 = "ALLOCATOR_BENCH_RULES_12_15"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(approach: str, scale: str, seed: int, time_limit: float) -> dict:
    """Run one approach on one scale in this process and report what it did."""
    # Every library is imported up front in every process (the base included), so that import
    # time and library memory land in no approach's own figures.
    import allocator.generator  # noqa: F401  (imported here so import time lands nowhere)
    from allocator.columns import build_columns
    from allocator.eligibility import eligible_pairs
    from allocator.greedy import first_come_first_served
    from allocator.mip import solve_mip
    from allocator.solver import SolverSettings, objective_values, solve
    from allocator.validator import validate

    out: dict = {"approach": approach}
    t = time.perf_counter()
    instance = make_instance(scale, seed)
    out["generate_seconds"] = time.perf_counter() - t
    out["clients"], out["units"] = len(instance.clients), len(instance.units)
    out["municipalities"] = len(instance.municipalities)
    out["corporations"] = len(instance.corporations)
    out["complexes"] = len(instance.complexes)

    started = time.perf_counter()
    assignments: list[tuple[str, str]] | None = None
    if approach in ("instance", "greedy", "flow") or approach.startswith("highs mip"):
        t = time.perf_counter()
        cols = build_columns(instance)
        pairs = eligible_pairs(cols)
        out["eligibility_seconds"] = time.perf_counter() - t
        out["pairs"] = len(pairs)

    if approach == "instance":
        out["result"] = "-"
    elif approach == "greedy":
        t = time.perf_counter()
        chosen = first_come_first_served(cols, pairs)
        out["solve_seconds"] = time.perf_counter() - t
        out["objective"] = objective_values(cols, pairs, chosen).model_dump()
        out["result"] = "heuristic"
        out["proven"] = False
        assignments = [
            (cols.client_ids[pairs.client[p]], cols.unit_ids[pairs.unit[p]])
            for p in chosen.tolist()
        ]
    elif approach == "flow":
        t = time.perf_counter()
        chosen = nested_flow(cols, pairs, instance)
        out["solve_seconds"] = time.perf_counter() - t
        out["objective"] = objective_values(cols, pairs, chosen).model_dump()
        out["result"] = "relaxation (no corporation quota)"
        out["proven"] = False
    elif approach.startswith("solve"):
        method = approach.split()[1]
        solution = solve(instance, SolverSettings(method=method, time_limit_seconds=time_limit))
        facts = solution.facts
        out["eligibility_seconds"] = facts.eligibility_seconds
        out["pairs"] = facts.eligible_pairs
        out["build_seconds"] = facts.build_seconds
        out["solve_seconds"] = facts.solve_seconds
        out["objective"] = solution.objective.model_dump()
        out["proven"] = solution.proven
        out["levels"] = [(lv.level, lv.status) for lv in facts.levels]
        out["paths"] = facts.paths
        out["note"] = facts.note
        spent = facts.eligibility_seconds + facts.build_seconds + facts.solve_seconds
        out["result"] = (
            "optimal" if solution.proven else _timeout_result(out["levels"], spent, time_limit)
        )
        assignments = solution.assignments
    elif approach.startswith("highs mip"):
        t = time.perf_counter()
        id_pairs = list(
            zip(
                [cols.client_ids[c] for c in pairs.client.tolist()],
                [cols.unit_ids[u] for u in pairs.unit.tolist()],
                strict=True,
            )
        )
        convert = time.perf_counter() - t
        options = {"presolve": "off"} if approach.endswith("presolve-off") else None
        result = solve_mip(
            instance, time_limit_seconds=time_limit, pairs=id_pairs, highs_options=options
        )
        out["build_seconds"] = convert + result.build_seconds
        out["solve_seconds"] = result.solve_seconds
        out["proven"] = result.proven
        out["levels"] = [(lv.level, lv.status) for lv in result.levels]
        out["note"] = "; ".join(result.notes) or None
        if result.objective is None:
            out["result"] = "time limit: no solution"
        else:
            out["objective"] = result.objective.model_dump()
            out["result"] = "optimal" if result.proven else _timeout_result(out["levels"])
            assignments = result.assignments
    else:
        raise ValueError(f"unknown approach {approach!r}")
    out["wall_seconds"] = time.perf_counter() - started
    out["peak_mb"] = _peak_mb()
    if assignments is not None:
        out["violations"] = len(validate(instance, assignments))
    return out


def make_instance(scale: str, seed: int):
    from allocator.generator import generate

    if scale in OWNED_SCALES:
        n, m, k, national, share = OWNED_SCALES[scale]
        return generate(
            n,
            m,
            k,
            seed,
            national_corporations=national,
            national_share=share,
            rules_12_15=RULES_12_15 in os.environ,
        )
    return generate(*SCALES[scale], seed, rules_12_15=RULES_12_15 in os.environ)


def nested_flow(cols, pairs, instance):
    """The nested min-cost flow of the instance (rules 1, 8 and 10; corporation quotas
    dropped) with the solver's lexicographic weights, per part of the municipalities: the
    relaxation ``solve auto`` is held against."""
    import numpy as np

    from allocator.decompose import settle_pinned, split
    from allocator.flow import lexicographic_weights, solve_flow
    from allocator.models import LEVEL_SENSE
    from allocator.solver import level_coefficients

    levels = list(instance.policy.objective)
    coefficients = [level_coefficients(level, cols, pairs) for level in levels]
    maximise = [LEVEL_SENSE[level] == "max" for level in levels]
    reduced = settle_pinned(cols, pairs)
    chosen = [reduced.fixed]
    for positions in split(cols, pairs, reduced.free, []):
        client, unit = pairs.client[positions], pairs.unit[positions]
        weight = lexicographic_weights([c[positions] for c in coefficients], maximise, client)
        picked = None if weight is None else solve_flow(client, unit, weight, reduced.caps)
        if picked is None:
            raise RuntimeError("the flow's weights overflow on a part")
        chosen.append(positions[picked])
    return np.sort(np.concatenate(chosen))


def _timeout_result(
    levels: list[tuple[str, str]], spent: float | None = None, limit: float | None = None
) -> str:
    unproven = [level for level, status in levels if status != "optimal"]
    # a path can also give up before the limit (nothing left to try): not a time-out
    ended = (
        "ended before the limit"
        if spent is not None and limit is not None and spent < 0.9 * limit
        else "time limit"
    )
    return f"{ended}: best found ({', '.join(unproven)} not proven)"


def _child(approach: str, scale: str, seed: int, time_limit: float, conn) -> None:
    try:
        conn.send(measure(approach, scale, seed, time_limit))
    except BaseException as exc:  # report, never hang the parent
        conn.send(
            {
                "approach": approach,
                "result": f"error: {type(exc).__name__}: {exc}",
                "peak_mb": _peak_mb(),
            }
        )
    finally:
        conn.close()


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run_isolated(
    approach: str, scale: str, seed: int, time_limit: float, hard_limit: float
) -> dict:
    """``measure`` in a fresh spawned process; stopped after ``hard_limit`` seconds."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(approach, scale, seed, time_limit, send))
    started = time.perf_counter()
    load = os.getloadavg()[0]
    process.start()
    send.close()
    result = None
    while time.perf_counter() - started < hard_limit:
        if receive.poll(1.0):
            result = receive.recv()
            break
        if not process.is_alive():
            break
    if result is None:
        peak = _vm_hwm_mb(process.pid)
        alive = process.is_alive()
        if alive:
            process.kill()
        process.join()
        why = (
            f"stopped after {hard_limit:.0f} s"
            if alive
            else f"process died (exit code {process.exitcode})"
        )
        result = {"approach": approach, "result": why, "peak_mb": peak}
    else:
        process.join()
    result["process_seconds"] = time.perf_counter() - started
    result["load_before"] = load
    return result


# ----------------------------------------------------------------------------------------------
# report


def machine() -> dict[str, str]:
    import numpy
    import ortools

    def lscpu(field: str) -> str:
        try:
            text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return "?"
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        return "?"

    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu": lscpu("Model name"),
        "cores": f"{os.cpu_count()} logical CPUs ({lscpu('Core(s) per socket')} cores per socket, "
        f"{lscpu('Socket(s)')} socket(s), {lscpu('Thread(s) per core')} thread(s) per core)",
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "ortools": ortools.__version__ + " (CP-SAT; HiGHS as bundled, through MathOpt)",
        "numpy": numpy.__version__,
    }


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _objective(row: dict, key: str) -> str:
    objective = row.get("objective")
    return "-" if objective is None else f"{objective[key]:,}"


def scale_section(scale: str, rows: list[dict], time_limit: float) -> list[str]:
    n, m, k = SCALES[scale] if scale in SCALES else OWNED_SCALES[scale][:3]
    base = next((r for r in rows if r["approach"] == "instance"), {})
    title = f"## {scale}: {n:,} clients × {m:,} units, {k} municipalities"
    if scale in OWNED_SCALES:
        national, share = OWNED_SCALES[scale][3:]
        title += f", {national} national corporations owning {share:.0%} of the buildings"
    lines = [title, ""]
    if "pairs" in base:
        lines += [
            f"Instance: {base.get('corporations', '?')} corporations, "
            f"{base.get('complexes', '?'):,} complexes; generator "
            f"{_f(base.get('generate_seconds'))} s; vectorised eligibility "
            f"{_f(base.get('eligibility_seconds'))} s, {base['pairs']:,} eligible pairs; "
            f"base process peak (Python + libraries + instance + pairs) "
            f"{_f(base.get('peak_mb'), 0)} MB.",
            "",
        ]
    lines += [
        "| approach | result | placed | waiting_days | rank_sum | eligibility s | build s "
        "| solve s | wall s | peak MB | violations |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if r["approach"] == "instance":
            continue
        result = r.get("result", "?")
        extras = []
        if r.get("paths"):
            extras.append("paths " + ", ".join(f"{p}×{c}" for p, c in r["paths"].items()))
        if r.get("note"):
            extras.append(r["note"])
        if extras:
            result += " (" + "; ".join(extras) + ")"
        lines.append(
            f"| {r['approach']} | {result} | {_objective(r, 'placed')} "
            f"| {_objective(r, 'waiting_days')} | {_objective(r, 'rank_sum')} "
            f"| {_f(r.get('eligibility_seconds'))} | {_f(r.get('build_seconds'))} "
            f"| {_f(r.get('solve_seconds'))} | {_f(r.get('wall_seconds'))} "
            f"| {_f(r.get('peak_mb'), 0)} | {r.get('violations', '-')} |"
        )
    lines += ["", *_summary(rows, time_limit), "", *_ratios(rows), ""]
    return lines


def _triple(row: dict) -> tuple[int, int, int] | None:
    o = row.get("objective")
    return None if o is None else (o["placed"], o["waiting_days"], -o["rank_sum"])


def _summary(rows: list[dict], time_limit: float) -> list[str]:
    """What the table says, in words: who proved what, who found the best, who disagrees."""
    # the flow drops the corporation quotas: a bound to compare with, not an allocation
    solvers = [r for r in rows if r["approach"] not in ("instance", "greedy", "flow")]
    proven = [r for r in solvers if r.get("proven")]
    lines = []
    if proven:
        fastest = min(proven, key=lambda r: r["wall_seconds"])
        lines.append(
            "- Proven optimal: "
            + ", ".join(f"{r['approach']} ({_f(r['wall_seconds'])} s)" for r in proven)
            + f"; fastest {fastest['approach']}."
        )
        triples = {_triple(r) for r in proven}
        if len(triples) > 1:
            lines.append(f"- **Disagreement between proven optima: {sorted(triples)}** (a bug).")
    unproven = [r for r in solvers if not r.get("proven")]
    if unproven:
        lines.append(
            f"- Not proven within the {time_limit:g} s limit: "
            + ", ".join(f"{r['approach']} ({r.get('result', '?')})" for r in unproven)
            + "."
        )
    found = [r for r in rows if _triple(r) is not None and r["approach"] != "flow"]
    if found:
        best = max(_triple(r) for r in found)
        at_best = [r["approach"] for r in found if _triple(r) == best]
        lines.append(
            f"- Best objective (placed, waiting_days, rank_sum) = ({best[0]:,}, {best[1]:,}, "
            f"{-best[2]:,}), reached by {', '.join(at_best)}."
        )
        if proven and any(_triple(r) > _triple(proven[0]) for r in found):
            lines.append("- **An allocation beats a proven optimum** (a bug).")
    return lines


def _ratios(rows: list[dict]) -> list[str]:
    ref = next((r for r in rows if r["approach"] == REFERENCE), None)
    base = next((r for r in rows if r["approach"] == "instance"), None)
    if ref is None or ref.get("wall_seconds") is None:
        return []
    lines = [
        f"Against `{REFERENCE}` in the same run (wall time and peak memory as multiples; memory "
        "also above the base process; objective as differences, + = more):",
        "",
        "| approach | wall × | peak × | peak above base MB | placed Δ | waiting_days Δ "
        "| rank_sum Δ |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if r["approach"] in ("instance", REFERENCE):
            continue
        wall = (
            f"{r['wall_seconds'] / ref['wall_seconds']:.2f}"
            if r.get("wall_seconds") and ref["wall_seconds"] > 0
            else "-"
        )
        peak = f"{r['peak_mb'] / ref['peak_mb']:.2f}" if r.get("peak_mb") else "-"
        above = (
            _f(r["peak_mb"] - base["peak_mb"], 0)
            if r.get("peak_mb") and base and base.get("peak_mb")
            else "-"
        )
        deltas = []
        for key in ("placed", "waiting_days", "rank_sum"):
            if r.get("objective") and ref.get("objective"):
                deltas.append(f"{r['objective'][key] - ref['objective'][key]:+,}")
            else:
                deltas.append("-")
        lines.append(
            f"| {r['approach']} | {wall} | {peak} | {above} | " + " | ".join(deltas) + " |"
        )
    if base and base.get("peak_mb"):
        lines += [
            "",
            f"`{REFERENCE}` itself: {_f(ref['peak_mb'] - base['peak_mb'], 0)} MB above "
            "the base process.",
        ]
    return lines


def _load_line(results: dict[str, list[dict]]) -> str:
    loads = [r["load_before"] for rows in results.values() for r in rows if "load_before" in r]
    if not loads:
        return "Machine load: not recorded."
    return (
        f"1-minute load average when each approach started: {min(loads):.2f}-{max(loads):.2f} "
        f"on {os.cpu_count()} CPUs (each approach itself uses about one; a higher load means "
        "other processes were competing and times are pessimistic)"
    )


def write_report(path: Path, results: dict[str, list[dict]], args, command: str) -> None:
    info = machine()
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- Command: `{command}`",
        "- Instances: `allocator.generator.generate(clients, units, municipalities, "
        f"seed={args.seed}{', rules_12_15=True' if args.rules_12_15 else ''})`",
        f"- Time limit per optimiser: {args.time_limit:g} s (`solve` counts eligibility and "
        "model building in it; `solve_mip` counts its model building, eligibility is given)",
        f"- Machine: {info['cpu']}; {info['cores']}; {info['memory']} memory; {info['os']}",
        f"- Software: Python {info['python']}, OR-Tools {info['ortools']}, numpy {info['numpy']}",
        f"- {_load_line(results)}",
        "- Every approach ran in its own freshly spawned process; *peak MB* is that process's own "
        "maximum resident set (`ru_maxrss`), which includes Python, the libraries and the "
        "regenerated instance (see the base process figure per scale). CP-SAT ran with 1 worker "
        "(the deterministic default).",
        "- *wall s* is the approach's own time after the instance was generated (for `solve` it "
        "includes eligibility and building; for `highs mip` it includes vectorised eligibility "
        "and turning the pairs into id tuples). *violations* is `validate` on the proposal.",
        "",
    ]
    for scale in args.scales:
        if scale in results:
            lines += scale_section(scale, results[scale], args.time_limit)
        else:
            lines += [f"## {scale}", "", "Not run in this invocation.", ""]
    for scale in SCALES:
        if scale not in args.scales and args.not_run_reason:
            lines += [f"## {scale}", "", f"Not run: {args.not_run_reason}", ""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="region,province,national")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--approaches",
        default=",".join(APPROACHES),
        help="comma-separated subset of " + ", ".join(APPROACHES),
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results")
    parser.add_argument(
        "--rules-12-15",
        action="store_true",
        help="instances with group shares, staircases, neighbourhoods and support providers",
    )
    parser.add_argument(
        "--not-run-reason", default=None, help="text for the scales left out (in the report)"
    )
    args = parser.parse_args(argv)
    args.scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    unknown = [s for s in args.scales if s not in SCALES and s not in OWNED_SCALES]
    if unknown:
        parser.error(f"unknown scales {unknown}; choose from {[*SCALES, *OWNED_SCALES]}")
    approaches = [a.strip() for a in args.approaches.split(",") if a.strip()]
    if args.rules_12_15:
        os.environ[RULES_12_15] = "1"
    command = shlex.join([".venv/bin/python", "benchmarks/run.py", *(argv or sys.argv[1:])])

    results: dict[str, list[dict]] = {}
    for scale in args.scales:
        results[scale] = []
        for approach in approaches:
            hard = 4 * args.time_limit + 300
            print(f"[{dt.datetime.now():%H:%M:%S}] {scale}: {approach} ...", flush=True)
            row = run_isolated(approach, scale, args.seed, args.time_limit, hard)
            results[scale].append(row)
            summary = {k: row.get(k) for k in ("result", "objective", "wall_seconds", "peak_mb")}
            print(f"    {summary}", flush=True)
        # written after every scale, so a long run leaves its finished scales behind
        write_report(args.out, results, args, command)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
