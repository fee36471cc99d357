"""KPIs of one run, and their means with 95% confidence intervals over seeds.

A KPI record is ``(variant, policy, seed, kpi, group, value)``; ``group`` is ``all`` or a
breakdown such as ``target_group=BW``, ``municipality=hoorn``, ``complex=cx-hoorn-1``,
``2026/hoorn`` (quota use) or ``week=12`` (backlog over time). No personal data: only counts,
shares and waiting times in aggregate.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
from scipy import stats

from allocator.simulation.engine import RunResult

KPI_COLUMNS = ["variant", "policy", "seed", "kpi", "group", "value"]


def _waiting(records: list, variant: str, policy: str, seed: int, name: str, days: list[int]):
    if not days:
        return
    arr = np.asarray(days, dtype=float)
    for stat, value in (
        ("mean", arr.mean()),
        ("median", np.median(arr)),
        ("p90", np.percentile(arr, 90)),
    ):
        records.append((variant, policy, seed, f"waiting_days_{stat}", name, float(value)))


def run_kpis(variant: str, result: RunResult, ceiling: RunResult | None) -> list[tuple]:
    """Every KPI of one run as records."""
    p, s = result.policy, result.seed
    out: list[tuple] = []

    def add(kpi: str, value: float, group: str = "all") -> None:
        out.append((variant, p, s, kpi, group, float(value)))

    add("placements", result.placed)
    if ceiling is not None and ceiling.placed:
        add("share_of_ceiling", result.placed / ceiling.placed)
    add("refusals", result.refusals)
    add("vacancies_lost", result.lost)
    add("left_after_refusals", result.left)
    add("still_waiting_end", len(result.still_waiting))
    add("seconds", result.seconds)
    # waiting time of the placed, overall and by target group and municipality
    _waiting(out, variant, p, s, "all", [x.waiting_days for x in result.placements])
    by_group: dict[str, list[int]] = defaultdict(list)
    by_muni: dict[str, list[int]] = defaultdict(list)
    for x in result.placements:
        by_group[x.target_group].append(x.waiting_days)
        by_muni[x.municipality].append(x.waiting_days)
    for g, days in sorted(by_group.items()):
        _waiting(out, variant, p, s, f"target_group={g}", days)
        add("placements", len(days), f"target_group={g}")
    for m, days in sorted(by_muni.items()):
        _waiting(out, variant, p, s, f"municipality={m}", days)
    # quota use per year and municipality (placements / yearly quota)
    used: dict[tuple[int, str], int] = defaultdict(int)
    for x in result.placements:
        used[(x.year, x.municipality)] += 1
    years = sorted({r.year for r in result.rounds} | {x.year for x in result.placements})
    for year in years:
        total_quota = sum(result.yearly_quota.values())
        total_used = sum(n for (y, _), n in used.items() if y == year)
        add("quota_use", total_used / total_quota if total_quota else 0.0, f"{year}/region")
        for m, q in result.yearly_quota.items():
            n = used.get((year, m), 0)
            add("placements", n, f"{year}/{m}")
            if q:
                add("quota_use", n / q, f"{year}/{m}")
    # highest vulnerable share per complex during the run
    for cx, share in sorted(result.max_share.items()):
        add("max_vulnerable_share", share, f"complex={cx}")
    if result.max_share:
        add("max_vulnerable_share", max(result.max_share.values()))
    # backlog over time
    for r in result.rounds:
        add("backlog", r.backlog, f"week={r.week}")
    if result.rounds:
        add("backlog_end", result.rounds[-1].backlog)
        add("backlog_mean", float(np.mean([r.backlog for r in result.rounds])))
    return out


def frame(records: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=KPI_COLUMNS)


def aggregate(df: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, standard deviation and 95% t-interval over seeds per (variant, policy, kpi, group)."""
    keys = by or ["variant", "policy", "kpi", "group"]
    g = df.groupby(keys, sort=False)["value"]
    out = g.agg(n="count", mean="mean", std="std").reset_index()
    out["std"] = out["std"].fillna(0.0)
    t = np.where(out["n"] > 1, stats.t.ppf(0.975, np.maximum(out["n"] - 1, 1)), 0.0)
    half = t * out["std"] / np.sqrt(out["n"])
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out


def comparison_table(agg: pd.DataFrame) -> pd.DataFrame:
    """Per variant: placements of each policy (mean and CI) and the share of the ceiling."""
    rows = []
    for variant in agg["variant"].unique():
        sub = agg[(agg["variant"] == variant) & (agg["group"] == "all")]
        row = {"variant": variant}
        for policy in ("optimiser", "fcfs", "hindsight"):
            hit = sub[(sub["policy"] == policy) & (sub["kpi"] == "placements")]
            if len(hit):
                r = hit.iloc[0]
                row[f"{policy}_placements"] = float(r["mean"])
                row[f"{policy}_ci_low"] = float(r["ci_low"])
                row[f"{policy}_ci_high"] = float(r["ci_high"])
            share = sub[(sub["policy"] == policy) & (sub["kpi"] == "share_of_ceiling")]
            if len(share):
                row[f"{policy}_share_of_ceiling"] = float(share.iloc[0]["mean"])
        rows.append(row)
    return pd.DataFrame(rows)
