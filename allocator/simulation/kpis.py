"""KPIs of one run, their means with 95% intervals over seeds, and paired differences between
policies on the same seeds.

A KPI record is ``(variant, policy, seed, kpi, group, value)``; ``group`` is ``all`` or a
breakdown such as ``target_group=BW``, ``municipality=hoorn``, ``complex=cx-hoorn-1``,
``2026/hoorn`` (quota use) or ``week=12`` (backlog over time). No personal data: only counts,
shares and waiting times in aggregate.

Time to a home counts everyone who was on the list: a client housed after d days is an event at
d; a client still waiting at the end, or who left the list, is censored at the days waited so
far. The Kaplan–Meier estimate then gives the median and 90th percentile (the first day the
share still without a home is at or below 50% / 10%; NaN where the horizon ends first) and the
restricted mean (the area under the curve up to the longest time seen). Waiting times of the
placed only (``waiting_days_*``) are kept for comparison; they leave out whoever is not housed.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
from scipy import stats

from allocator.simulation.engine import Outcome, RunResult
from allocator.simulation.scenario import CEILINGS, ONLINE

KPI_COLUMNS = ["variant", "policy", "seed", "kpi", "group", "value"]
#: Below this many clients a group's time-to-home figures are not reported.
MIN_GROUP = 5


def kaplan_meier(days, housed) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan–Meier curve: event times and the share still without a home just after each."""
    days = np.asarray(days, dtype=float)
    housed = np.asarray(housed, dtype=bool)
    times = np.unique(days[housed])
    if not len(times):
        return times, np.ones(0)
    order = np.sort(days)
    at_risk = len(days) - np.searchsorted(order, times, side="left")
    events = np.array([np.count_nonzero(housed & (days == t)) for t in times])
    return times, np.cumprod(1.0 - events / at_risk)


def km_quantile(times: np.ndarray, survival: np.ndarray, q: float) -> float:
    """The first time at which the share still without a home is at or below ``1 - q``."""
    hit = np.flatnonzero(survival <= 1 - q + 1e-12)
    return float(times[hit[0]]) if len(hit) else float("nan")


def km_restricted_mean(times: np.ndarray, survival: np.ndarray, tau: float) -> float:
    """Mean days without a home within [0, tau]: the area under the curve up to tau."""
    edges = np.concatenate([[0.0], times[times < tau], [tau]])
    levels = np.concatenate([[1.0], survival[times < tau]])
    return float(np.sum(np.diff(edges) * levels))


def _time_to_home(add, outcomes: list[Outcome], group: str, tau: float) -> None:
    if len(outcomes) < MIN_GROUP:
        return
    days = [o.days for o in outcomes]
    housed = [o.housed for o in outcomes]
    times, surv = kaplan_meier(days, housed)
    add("time_to_home_median", km_quantile(times, surv, 0.5), group)
    add("time_to_home_p90", km_quantile(times, surv, 0.9), group)
    add("time_to_home_restricted_mean", km_restricted_mean(times, surv, tau), group)
    add("clients", len(outcomes), group)
    add("housed_share", float(np.mean(housed)), group)


def _placed_only(add, days: list[int], group: str) -> None:
    if not days:
        return
    arr = np.asarray(days, dtype=float)
    add("waiting_days_mean", arr.mean(), group)
    add("waiting_days_median", np.median(arr), group)
    add("waiting_days_p90", np.percentile(arr, 90), group)


def run_kpis(variant: str, result: RunResult, others: dict[str, RunResult] | None = None) -> list:
    """Every KPI of one run as records; ``others`` are the seed's other policies' runs (for the
    share of each ceiling and whether a ceiling held)."""
    out: list[tuple] = []

    def add(kpi: str, value: float, group: str = "all") -> None:
        out.append((variant, result.policy, result.seed, kpi, group, float(value)))

    others = others or {}
    _counts(add, result, others)
    _times(add, result)
    _quota_and_buildings(add, result)
    for r in result.rounds:
        add("backlog", r.backlog, f"week={r.week}")
    if result.rounds:
        add("backlog_end", result.rounds[-1].backlog)
        add("backlog_mean", float(np.mean([r.backlog for r in result.rounds])))
    return out


def _counts(add, result: RunResult, others: dict[str, RunResult]) -> None:
    placed = result.placed
    add("placements", placed)
    for name in CEILINGS:
        if name in others and others[name].placed and name != result.policy:
            add(f"share_of_{name}", placed / others[name].placed)
    if result.policy in CEILINGS:
        online = [r.placed for p, r in others.items() if p in ONLINE]
        add("ceiling_holds", float(all(placed >= x for x in online)))
        if result.proven is not None:
            add("proven", float(result.proven))
    add("offers", result.offers)
    add("refusals", result.refusals)
    add("refusals_per_placement", result.refusals / placed if placed else 0.0)
    add("vacancy_days_lost_to_refusals", result.vacancy_days_lost_to_refusals)
    add("vacancies_lost", result.lost)
    add("left_the_list", result.left)
    add("still_waiting_end", len(result.still_waiting))
    add("justified_envy", result.envy)
    add("seconds", result.seconds)
    if result.still_waiting:
        add("longest_wait_end", max(d for _, _, d in result.still_waiting))


def _times(add, result: RunResult) -> None:
    outcomes = result.outcomes
    tau = float(max((o.days for o in outcomes), default=0))
    _time_to_home(add, outcomes, "all", tau)
    by: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by[f"target_group={o.target_group}"].append(o)
        by[f"municipality={o.municipality}"].append(o)
        if o.urgent:
            by["urgent"].append(o)
    medians: dict[str, list[float]] = defaultdict(list)
    for group, rows in sorted(by.items()):
        _time_to_home(add, rows, group, tau)
        if len(rows) >= MIN_GROUP:
            t, s = kaplan_meier([o.days for o in rows], [o.housed for o in rows])
            medians[group.split("=")[0]].append(km_quantile(t, s, 0.5))
    for kind in ("target_group", "municipality"):
        finite = [m for m in medians.get(kind, []) if np.isfinite(m)]
        if len(finite) > 1:
            add("time_to_home_median_spread", max(finite) - min(finite), kind)
    placed_by: dict[str, list[int]] = defaultdict(list)
    for x in result.placements:
        placed_by["all"].append(x.waiting_days)
        placed_by[f"target_group={x.target_group}"].append(x.waiting_days)
        placed_by[f"municipality={x.municipality}"].append(x.waiting_days)
    for group, days in sorted(placed_by.items()):
        _placed_only(add, days, group)
        if group != "all":
            add("placements", len(days), group)


def _quota_and_buildings(add, result: RunResult) -> None:
    used: dict[tuple[int, str], int] = defaultdict(int)
    for x in result.placements:
        used[(x.year, x.municipality)] += 1
    for year, quota in sorted(result.quota_by_year.items()):
        total = sum(quota.values())
        total_used = sum(n for (y, _), n in used.items() if y == year)
        add("quota_use", total_used / total if total else 0.0, f"{year}/region")
        for m, q in quota.items():
            n = used.get((year, m), 0)
            add("placements", n, f"{year}/{m}")
            if q:
                add("quota_use", n / q, f"{year}/{m}")
    _quota_by_week(add, result)
    for cx, share in sorted(result.max_share.items()):
        add("max_vulnerable_share", share, f"complex={cx}")
    if result.max_share:
        add("max_vulnerable_share", max(result.max_share.values()))
    # against each building's own cap: peak vulnerable households / the cap (1 = full)
    of_cap = {cx: result.peak_vulnerable[cx] / cap for cx, cap in result.caps.items() if cap > 0}
    for cx, x in sorted(of_cap.items()):
        add("vulnerable_share_of_cap", x, f"complex={cx}")
    if of_cap:
        add("vulnerable_share_of_cap", max(of_cap.values()))


def _quota_by_week(add, result: RunResult) -> None:
    """Per municipality and week: the share of that year's quota used so far (online runs)."""
    if not result.rounds:
        return
    placed: dict[tuple[int, str], int] = defaultdict(int)
    for x in result.placements:
        placed[(x.week, x.municipality)] += 1
    munis = list(next(iter(result.quota_by_year.values()), {}))
    used: dict[str, int] = defaultdict(int)
    year = None
    for r in result.rounds:
        if r.year != year:
            year, used = r.year, defaultdict(int)
        quota = result.quota_by_year.get(r.year, {})
        for m in munis:
            used[m] += placed.get((r.week, m), 0)
            if quota.get(m):
                add("quota_used_share", used[m] / quota[m], f"{m}/week={r.week}")


def frame(records: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=KPI_COLUMNS)


def _t_interval(n: np.ndarray, std: np.ndarray) -> np.ndarray:
    t = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), 0.0)
    return t * std / np.sqrt(np.maximum(n, 1))


def aggregate(df: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, standard deviation and 95% t-interval over seeds per (variant, policy, kpi, group).
    Seeds where a value is undefined (a median the horizon did not reach) are left out of ``n``;
    ``missing`` counts them."""
    keys = by or ["variant", "policy", "kpi", "group"]
    g = df.groupby(keys, sort=False)["value"]
    out = g.agg(n="count", mean="mean", std="std", size="size").reset_index()
    out["missing"] = out.pop("size") - out["n"]
    out["std"] = out["std"].fillna(0.0)
    half = _t_interval(out["n"].to_numpy(), out["std"].to_numpy())
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out[keys + ["n", "mean", "std", "ci_low", "ci_high", "missing"]]


#: The paired comparisons the report leads with: (policy, against).
PAIRS = (("optimiser", "practice"), ("optimiser", "fcfs"), ("optimiser_acceptance", "fcfs"))
#: KPIs compared in pairs, with the direction that is better.
PAIRED_KPIS = {
    "placements": "higher",
    "time_to_home_median": "lower",
    "time_to_home_p90": "lower",
    "time_to_home_restricted_mean": "lower",
    "backlog_mean": "lower",
    "refusals_per_placement": "lower",
    "vacancy_days_lost_to_refusals": "lower",
    "justified_envy": "lower",
}


def paired_differences(raw: pd.DataFrame, pairs=PAIRS, kpis=PAIRED_KPIS) -> pd.DataFrame:
    """Per variant, pair of policies and KPI: the mean over seeds of (policy − against) on the
    same seed, its 95% t-interval, the number of seeds with both values, and the change relative
    to the mean of ``against``."""
    sub = raw[(raw["group"] == "all") & raw["kpi"].isin(list(kpis))]
    wide = sub.pivot_table(
        index=["variant", "kpi", "seed"], columns="policy", values="value", aggfunc="first"
    )
    rows = []
    for (variant, kpi), block in wide.groupby(level=[0, 1], sort=False):
        for a, b in pairs:
            if a not in block or b not in block:
                continue
            both = block[[a, b]].dropna()
            if both.empty:
                continue
            d = (both[a] - both[b]).to_numpy()
            n = len(d)
            std = float(d.std(ddof=1)) if n > 1 else 0.0
            half = float(_t_interval(np.array([n]), np.array([std]))[0])
            base = float(both[b].mean())
            rows.append(
                {
                    "variant": variant,
                    "policy": a,
                    "against": b,
                    "kpi": kpi,
                    "n": n,
                    "mean": float(d.mean()),
                    "ci_low": float(d.mean()) - half,
                    "ci_high": float(d.mean()) + half,
                    "against_mean": base,
                    "relative": float(d.mean()) / base if base else float("nan"),
                    "better": kpis[kpi],
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "variant",
            "policy",
            "against",
            "kpi",
            "n",
            "mean",
            "ci_low",
            "ci_high",
            "against_mean",
            "relative",
            "better",
        ],
    )


def comparison_table(agg: pd.DataFrame) -> pd.DataFrame:
    """Per variant: placements of each policy (mean and CI) and its share of each ceiling."""
    rows = []
    for variant in agg["variant"].unique():
        sub = agg[(agg["variant"] == variant) & (agg["group"] == "all")]
        row = {"variant": variant}
        for policy in sub["policy"].unique():
            hit = sub[(sub["policy"] == policy) & (sub["kpi"] == "placements")]
            if len(hit):
                r = hit.iloc[0]
                row[f"{policy}_placements"] = float(r["mean"])
                row[f"{policy}_ci_low"] = float(r["ci_low"])
                row[f"{policy}_ci_high"] = float(r["ci_high"])
            for ceiling in ("hindsight", "ceiling_arrivals"):
                share = sub[(sub["policy"] == policy) & (sub["kpi"] == f"share_of_{ceiling}")]
                if len(share):
                    row[f"{policy}_share_of_{ceiling}"] = float(share.iloc[0]["mean"])
        rows.append(row)
    return pd.DataFrame(rows)
