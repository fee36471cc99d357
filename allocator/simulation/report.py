"""The outputs of a scenario run: CSV of every KPI, PNG plots, and a Markdown report a planner
can read without code."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from allocator.simulation.kpis import comparison_table  # noqa: E402
from allocator.simulation.runner import ScenarioResults  # noqa: E402

POLICY_NAMES = {
    "optimiser": "optimiser",
    "fcfs": "first come, first served (today)",
    "hindsight": "hindsight ceiling",
}


def _plot_backlog(res: ScenarioResults, path: Path) -> None:
    k = res.kpis
    sub = k[(k["kpi"] == "backlog") & k["group"].str.startswith("week=")].copy()
    sub["week"] = sub["group"].str.removeprefix("week=").astype(int)
    fig, ax = plt.subplots(figsize=(9, 5))
    for variant in sub["variant"].unique():
        for policy, style in (("optimiser", "-"), ("fcfs", "--")):
            s = sub[(sub["variant"] == variant) & (sub["policy"] == policy)].sort_values("week")
            if s.empty:
                continue
            (line,) = ax.plot(s["week"], s["mean"], style, label=f"{variant} — {policy}")
            ax.fill_between(
                s["week"], s["ci_low"], s["ci_high"], alpha=0.15, color=line.get_color()
            )
    ax.set_xlabel("week")
    ax.set_ylabel("ready clients waiting (mean, 95% interval)")
    ax.set_title("Backlog over time")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_waiting(res: ScenarioResults, path: Path) -> None:
    w = res.waits
    fig, ax = plt.subplots(figsize=(9, 5))
    data, labels = [], []
    for variant in w["variant"].unique():
        for policy in ("optimiser", "fcfs"):
            s = w[(w["variant"] == variant) & (w["policy"] == policy)]["waiting_days"]
            if len(s):
                data.append(s.to_numpy() / 7)
                labels.append(f"{variant}\n{policy}")
    if data:
        ax.boxplot(data, whis=(10, 90), showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=7)
    ax.set_ylabel("weeks from ready to moving in (box: quartiles, whiskers: 10–90%)")
    ax.set_title("Waiting time of placed clients")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_quota(res: ScenarioResults, path: Path) -> None:
    k = res.kpis
    sub = k[(k["kpi"] == "quota_use") & (k["policy"] == "optimiser")]
    sub = sub[~sub["group"].str.endswith("/region")]
    fig, ax = plt.subplots(figsize=(9, 5))
    variants = list(sub["variant"].unique())
    groups = list(dict.fromkeys(sub["group"]))
    width = 0.8 / max(len(variants), 1)
    for i, variant in enumerate(variants):
        s = sub[sub["variant"] == variant].set_index("group").reindex(groups)
        x = [j + i * width for j in range(len(groups))]
        ax.bar(x, s["mean"], width, label=variant)
    ax.axhline(1.0, color="grey", linewidth=1)
    ax.set_xticks(
        [j + 0.4 - width / 2 for j in range(len(groups))], groups, rotation=45, ha="right"
    )
    ax.set_ylabel("placements / yearly quota (optimiser, mean)")
    ax.set_title("Quota use per municipality")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(mean: float, low: float, high: float, digits: int = 1) -> str:
    if abs(high - low) < 1e-9:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def _kpi(k: pd.DataFrame, variant: str, policy: str, kpi: str, group: str = "all") -> str:
    r = k[(k["variant"] == variant) & (k["policy"] == policy) & (k["kpi"] == kpi)]
    r = r[r["group"] == group]
    if r.empty:
        return "—"
    row = r.iloc[0]
    digits = 2 if kpi in ("share_of_ceiling", "max_vulnerable_share", "quota_use") else 1
    return _fmt(row["mean"], row["ci_low"], row["ci_high"], digits)


def markdown(res: ScenarioResults) -> str:
    k = res.kpis
    variants = list(k["variant"].unique())
    lines = [
        f"# Scenario report: {res.name}",
        "",
        f"Seeds: {', '.join(map(str, res.seeds))} ({len(res.seeds)} replications). Numbers are "
        "means over the seeds with a 95% confidence interval in brackets. Synthetic data; no "
        "personal data.",
        "",
        "Policies: **optimiser** (the regional optimiser, every week); **first come, first "
        "served** (today's practice: the longest-waiting client takes the first suitable "
        "vacancy); **hindsight ceiling** (everything that will arrive known in advance: no "
        "policy can place more).",
        "",
        "## Variants",
        "",
    ]
    for v in variants:
        lines.append(f"- **{v}**: {res.descriptions.get(v, '')}")
    lines += [
        "",
        "## Placements: optimiser vs today vs ceiling",
        "",
        "| variant | optimiser | first come, first served | hindsight ceiling | "
        "optimiser / ceiling | FCFS / ceiling |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in variants:
        lines.append(
            f"| {v} | {_kpi(k, v, 'optimiser', 'placements')} | {_kpi(k, v, 'fcfs', 'placements')}"
            f" | {_kpi(k, v, 'hindsight', 'placements')} | "
            f"{_kpi(k, v, 'optimiser', 'share_of_ceiling')} | "
            f"{_kpi(k, v, 'fcfs', 'share_of_ceiling')} |"
        )
    rows = [
        ("placements", "all", "clients placed"),
        ("waiting_days_mean", "all", "waiting days, mean"),
        ("waiting_days_median", "all", "waiting days, median"),
        ("waiting_days_p90", "all", "waiting days, 90th percentile"),
        ("backlog_end", "all", "still waiting at the end"),
        ("refusals", "all", "offers refused"),
        ("vacancies_lost", "all", "vacancies lost to regular letting"),
        ("max_vulnerable_share", "all", "highest vulnerable share in any building"),
    ]
    for policy in ("optimiser", "fcfs"):
        lines += [
            "",
            f"## KPIs: {POLICY_NAMES[policy]}",
            "",
            "| KPI | " + " | ".join(variants) + " |",
            "| --- |" + " ---: |" * len(variants),
        ]
        for kpi, group, label in rows:
            lines.append(
                f"| {label} | "
                + " | ".join(_kpi(k, v, policy, kpi, group) for v in variants)
                + " |"
            )
    groups = sorted(g for g in k[k["kpi"] == "waiting_days_mean"]["group"].unique() if g != "all")
    lines += [
        "",
        "## Waiting days by target group and municipality (optimiser, mean)",
        "",
        "| group | " + " | ".join(variants) + " |",
        "| --- |" + " ---: |" * len(variants),
    ]
    for g in groups:
        lines.append(
            f"| {g} | "
            + " | ".join(_kpi(k, v, "optimiser", "waiting_days_mean", g) for v in variants)
            + " |"
        )
    lines += [
        "",
        "## Plots",
        "",
        "![Backlog over time](backlog.png)",
        "",
        "![Waiting-time distributions](waiting.png)",
        "",
        "![Quota use](quota_use.png)",
        "",
        "## Files",
        "",
        "- `kpis.csv`: every KPI per variant, policy and group: mean, standard deviation, 95% "
        "interval, number of seeds.",
        "- `runs.csv`: every KPI per seed.",
        "",
    ]
    return "\n".join(lines)


def write_outputs(res: ScenarioResults, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("kpis.csv", res.kpis), ("runs.csv", res.raw)):
        df.to_csv(out / name, index=False)
        written.append(out / name)
    table = comparison_table(res.kpis)
    table.to_csv(out / "comparison.csv", index=False)
    written.append(out / "comparison.csv")
    for name, plot in (
        ("backlog.png", _plot_backlog),
        ("waiting.png", _plot_waiting),
        ("quota_use.png", _plot_quota),
    ):
        plot(res, out / name)
        written.append(out / name)
    (out / "report.md").write_text(markdown(res), encoding="utf-8")
    written.append(out / "report.md")
    return written
