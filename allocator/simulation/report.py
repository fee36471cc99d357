"""The outputs of a scenario run or sweep: CSV of every KPI, PNG plots, and a Markdown report a
planner can read without code. The report leads with the paired differences (the same seeds
under each policy), in words."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from allocator.simulation.kpis import comparison_table, kaplan_meier  # noqa: E402
from allocator.simulation.runner import ScenarioResults  # noqa: E402
from allocator.simulation.table import (  # noqa: E402
    KPI_ROWS,
    ONLINE_ORDER,
    ORDER,
    digits,
    not_for_ceilings,
)  # noqa: E402

#: What each policy is, in the report's words.
POLICY_NAMES = {
    "practice": "today's practice (municipality and corporation fixed at intake)",
    "fcfs": "regional first come, first served",
    "optimiser": "the regional optimiser, every round",
    "optimiser_acceptance": "optimiser using the acceptance model",
    "ceiling_arrivals": "ceiling: knows arrivals, learns answers by offering",
    "hindsight": "clairvoyant ceiling: knows arrivals and every answer",
}
SHORT = {
    "practice": "practice",
    "fcfs": "regional FCFS",
    "optimiser": "optimiser",
    "optimiser_acceptance": "optimiser + acceptance",
    "ceiling_arrivals": "ceiling (arrivals)",
    "hindsight": "clairvoyant ceiling",
}
#: One colour per policy in every plot.
COLOURS = {
    "practice": "#d95f02",
    "fcfs": "#7570b3",
    "optimiser": "#1b9e77",
    "optimiser_acceptance": "#66a61e",
    "ceiling_arrivals": "#666666",
    "hindsight": "#000000",
}
PLOTS = ("placements", "paired", "waiting", "backlog", "quota_use")

#: Every text a plot shows, by key, in English as the CLI writes them. A caller that writes
#: the plots in another language passes its own mapping (``write_plots(..., labels=...)``);
#: keys it leaves out keep these. ``policy.<name>`` names a policy in legends and axes;
#: ``{variant}`` in the quota title is filled in.
#: Titles wrap (``wrap=True``) so that a longer wording than the English still fits the figure.
PLOT_LABELS: dict[str, str] = {
    **{f"policy.{p}": name for p, name in SHORT.items()},
    "placements.title": "Placements per policy",
    "placements.y": "clients housed (mean, 95% interval over seeds)",
    "paired.title": (
        "Paired differences on the same seeds (95% interval); colour: the policy compared"
    ),
    "paired.placements": "more clients housed",
    "paired.time_to_home_median": "change in median days to a home",
    "paired.refusals_per_placement": "change in refusals per placement",
    "waiting.title": "Time to a home, everyone counted (Kaplan–Meier, all seeds pooled)",
    "waiting.x": "weeks since ready",
    "waiting.y": "share still without a home",
    "backlog.title": "Backlog over time (colour: policy; line style: variant)",
    "backlog.x": "week",
    "backlog.y": "ready clients waiting (mean, 95% interval)",
    "quota_use.title": (
        "Quota used so far this year, per municipality ({variant}; mean, 95% interval)"
    ),
    "quota_use.none": "Quota used by week: no quota to use",
    "quota_use.x": "week",
    "quota_use.y": "share of the year's quota used",
}


def _policies(res: ScenarioResults, online_only: bool = False) -> list[str]:
    present = set(res.kpis["policy"])
    return [p for p in (ONLINE_ORDER if online_only else ORDER) if p in present]


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_placements(res: ScenarioResults, labels: dict[str, str]) -> Figure:
    k = res.kpis
    sub = k[(k["kpi"] == "placements") & (k["group"] == "all")]
    variants = list(dict.fromkeys(sub["variant"]))
    policies = _policies(res)
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / max(len(policies), 1)
    for i, policy in enumerate(policies):
        s = sub[sub["policy"] == policy].set_index("variant").reindex(variants)
        x = np.arange(len(variants)) + i * width
        err = np.vstack([s["mean"] - s["ci_low"], s["ci_high"] - s["mean"]])
        ax.bar(
            x,
            s["mean"],
            width,
            yerr=err,
            capsize=3,
            color=COLOURS[policy],
            label=labels[f"policy.{policy}"],
        )
    ax.set_xticks(np.arange(len(variants)) + 0.4 - width / 2, variants, rotation=20, ha="right")
    ax.set_ylabel(labels["placements.y"])
    ax.set_title(labels["placements.title"], wrap=True)
    ax.legend(fontsize=7, ncol=3)
    return fig


def _plot_paired(res: ScenarioResults, labels: dict[str, str]) -> Figure:
    d = res.paired
    kpis = ["placements", "time_to_home_median", "refusals_per_placement"]
    fig, axes = plt.subplots(1, len(kpis), figsize=(12, max(3, 0.45 * max(len(d), 1) / 2)))
    for ax, kpi in zip(axes, kpis, strict=True):
        sub = d[d["kpi"] == kpi] if len(d) else d
        ticks = [
            f"{r.variant}: {labels[f'policy.{r.policy}']} − {labels[f'policy.{r.against}']}"
            for r in sub.itertuples()
        ]
        y = np.arange(len(sub))
        for j, r in enumerate(sub.itertuples()):
            ax.errorbar(
                r.mean,
                j,
                xerr=[[r.mean - r.ci_low], [r.ci_high - r.mean]],
                fmt="o",
                color=COLOURS.get(r.against, "black"),
                capsize=3,
            )
        ax.axvline(0, color="grey", linewidth=1)
        ax.set_yticks(y, ticks if ax is axes[0] else [""] * len(y), fontsize=7)
        ax.set_title(labels[f"paired.{kpi}"], fontsize=9)
        ax.invert_yaxis()
    fig.suptitle(labels["paired.title"], wrap=True)
    return fig


def _plot_time_to_home(res: ScenarioResults, labels: dict[str, str]) -> Figure:
    w = res.waits
    variants = list(dict.fromkeys(w["variant"])) if len(w) else []
    n = max(len(variants), 1)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), squeeze=False)
    for ax, variant in zip(axes.ravel(), variants, strict=False):
        for policy in _policies(res):
            s = w[(w["variant"] == variant) & (w["policy"] == policy)]
            if s.empty:
                continue
            t, surv = kaplan_meier(s["days"].to_numpy(), s["housed"].to_numpy().astype(bool))
            ax.step(
                np.concatenate([[0], t]) / 7,
                np.concatenate([[1.0], surv]),
                where="post",
                color=COLOURS[policy],
                label=labels[f"policy.{policy}"],
                linestyle="--" if policy in ("ceiling_arrivals", "hindsight") else "-",
            )
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(variant, fontsize=9)
        ax.set_xlabel(labels["waiting.x"])
        ax.set_ylabel(labels["waiting.y"])
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(variants) :]:
        ax.set_visible(False)
    fig.suptitle(labels["waiting.title"], wrap=True)
    return fig


def _plot_backlog(res: ScenarioResults, labels: dict[str, str]) -> Figure:
    k = res.kpis
    sub = k[(k["kpi"] == "backlog") & k["group"].str.startswith("week=")].copy()
    sub["week"] = sub["group"].str.removeprefix("week=").astype(int)
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, variant in enumerate(dict.fromkeys(sub["variant"])):
        for policy in _policies(res, online_only=True):
            s = sub[(sub["variant"] == variant) & (sub["policy"] == policy)].sort_values("week")
            if s.empty:
                continue
            colour = COLOURS[policy]
            style = styles[i % len(styles)]
            ax.plot(
                s["week"],
                s["mean"],
                style,
                color=colour,
                label=f"{variant} — {labels[f'policy.{policy}']}",
            )
            ax.fill_between(s["week"], s["ci_low"], s["ci_high"], alpha=0.12, color=colour)
    ax.set_xlabel(labels["backlog.x"])
    ax.set_ylabel(labels["backlog.y"])
    ax.set_title(labels["backlog.title"], wrap=True)
    ax.legend(fontsize=6, ncol=2)
    return fig


def _plot_quota(res: ScenarioResults, labels: dict[str, str]) -> Figure:
    """Quota exhaustion by week, one panel per municipality, for the base (or first) variant:
    the share of the year's quota used so far under each online policy, with its interval."""
    k = res.kpis
    sub = k[k["kpi"] == "quota_used_share"].copy()
    if sub.empty:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.set_title(labels["quota_use.none"])
        return fig
    variant = "base" if "base" in set(sub["variant"]) else sub["variant"].iloc[0]
    sub = sub[sub["variant"] == variant]
    parts = sub["group"].str.split("/week=", expand=True)
    sub["municipality"], sub["week"] = parts[0], parts[1].astype(int)
    munis = list(dict.fromkeys(sub["municipality"]))
    cols = min(4, len(munis))
    rows = math.ceil(len(munis) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharex=True, sharey=True
    )
    for ax, m in zip(axes.ravel(), munis, strict=False):
        for policy in _policies(res, online_only=True):
            s = sub[(sub["policy"] == policy) & (sub["municipality"] == m)].sort_values("week")
            if s.empty:
                continue
            ax.plot(s["week"], s["mean"], color=COLOURS[policy], label=labels[f"policy.{policy}"])
            ax.fill_between(s["week"], s["ci_low"], s["ci_high"], color=COLOURS[policy], alpha=0.12)
        ax.axhline(1.0, color="grey", linewidth=1)
        ax.set_title(m, fontsize=9)
    for ax in axes.ravel()[len(munis) :]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel(labels["quota_use.x"])
    fig.supylabel(labels["quota_use.y"])
    fig.suptitle(labels["quota_use.title"].replace("{variant}", str(variant)), wrap=True)
    return fig


# --- the Markdown report ----------------------------------------------------------------------


def _fmt(mean: float, low: float, high: float, digits: int = 1) -> str:
    if mean is None or not np.isfinite(mean):
        return "—"
    if abs(high - low) < 1e-9:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def _kpi(k: pd.DataFrame, variant: str, policy: str, kpi: str, group: str = "all") -> str:
    r = k[(k["variant"] == variant) & (k["policy"] == policy) & (k["kpi"] == kpi)]
    r = r[r["group"] == group]
    if r.empty:
        return "—"
    row = r.iloc[0]
    text = _fmt(row["mean"], row["ci_low"], row["ci_high"], digits(kpi))
    if "missing" in row and row["missing"]:
        text += f" [not reached in {int(row['missing'])} seeds]"
    return text


def _interval_words(r, unit: str, digits: int = 1) -> str:
    return f"{abs(r.mean):.{digits}f} {unit}({r.ci_low:+.{digits}f} to {r.ci_high:+.{digits}f})"


def paired_sentence(
    pairs: pd.DataFrame, variant: str, policy: str, against: str, weeks: int
) -> str:
    """One sentence a planner reads: placements and median time to a home, with intervals."""
    sub = pairs[
        (pairs["variant"] == variant) & (pairs["policy"] == policy) & (pairs["against"] == against)
    ]
    rows = {r.kpi: r for r in sub.itertuples()}
    if "placements" not in rows:
        return ""
    p = rows["placements"]
    period = "a year" if weeks == 52 else f"in {weeks} weeks"
    if p.ci_low > 0:
        placed = f"houses {p.mean:.1f} ({p.ci_low:.1f}–{p.ci_high:.1f}) more people {period}"
    elif p.ci_high < 0:
        placed = f"houses {-p.mean:.1f} ({-p.ci_high:.1f}–{-p.ci_low:.1f}) fewer people {period}"
    else:
        placed = (
            f"houses about as many people ({p.mean:+.1f}, interval {p.ci_low:+.1f} to "
            f"{p.ci_high:+.1f}: the seeds cannot tell them apart)"
        )
    parts = [placed]
    if "time_to_home_median" in rows:
        m = rows["time_to_home_median"]
        if m.ci_high < 0:
            parts.append(
                f"cuts the median time to a home by {-m.mean:.0f} days "
                f"({-m.ci_high:.0f}–{-m.ci_low:.0f})"
            )
        elif m.ci_low > 0:
            parts.append(
                f"lengthens the median time to a home by {m.mean:.0f} days "
                f"({m.ci_low:.0f}–{m.ci_high:.0f})"
            )
        else:
            parts.append(
                f"changes the median time to a home by {m.mean:+.0f} days (interval "
                f"{m.ci_low:+.0f} to {m.ci_high:+.0f}, not distinguishable from no change)"
            )
    if "refusals_per_placement" in rows:
        r = rows["refusals_per_placement"]
        if r.against_mean:
            parts.append(
                f"with {r.mean / r.against_mean:+.0%} refusals per placement "
                f"({r.ci_low / r.against_mean:+.0%} to {r.ci_high / r.against_mean:+.0%})"
            )
    return f"Against {POLICY_NAMES[against]}, the {SHORT[policy]} " + ", ".join(parts) + "."


def _lead(res: ScenarioResults, variants: list[str]) -> list[str]:
    lines = ["## In short", ""]
    for v in variants:
        said = [
            s
            for a, b in (
                ("optimiser", "practice"),
                ("optimiser", "fcfs"),
                ("optimiser_acceptance", "fcfs"),
            )
            if (s := paired_sentence(res.paired, v, a, b, res.horizon_weeks))
        ]
        if said:
            lines.append(f"**{v}**: " + " ".join(said))
            lines.append("")
    return lines


def _ceiling_lines(k: pd.DataFrame, variants: list[str], n: int) -> list[str]:
    lines = ["## The ceilings", ""]
    lines.append(
        "Both ceilings solve each quota year at once with every arrival known and ignore the "
        "weekly round cadence, so they are references, not policies a region can run. The "
        "clairvoyant ceiling also knows every answer; within one quota year and with no "
        "residents moving out it is an exact upper bound when its solves are proven. The "
        "arrivals ceiling offers, learns the answers and re-solves: an estimate, not a proof."
    )
    lines.append("")
    lines += [
        "| variant | ceiling | held in seeds | solves proven in seeds |",
        "| --- | --- | ---: | ---: |",
    ]
    for v in variants:
        for c in ("hindsight", "ceiling_arrivals"):
            held = k[(k["variant"] == v) & (k["policy"] == c) & (k["kpi"] == "ceiling_holds")]
            proven = k[(k["variant"] == v) & (k["policy"] == c) & (k["kpi"] == "proven")]
            if held.empty:
                continue
            lines.append(
                f"| {v} | {SHORT[c]} | {round(held.iloc[0]['mean'] * n)} of {n} | "
                + (f"{round(proven.iloc[0]['mean'] * n)} of {n}" if len(proven) else "—")
                + " |"
            )
    lines.append("")
    return lines


def _paired_table(res: ScenarioResults) -> list[str]:
    d = res.paired
    lines = [
        "## Paired differences (same seeds)",
        "",
        "| variant | comparison | KPI | difference (95% interval) | relative |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for r in d.itertuples():
        rel = f"{r.relative:+.0%}" if np.isfinite(r.relative) else "—"
        lines.append(
            f"| {r.variant} | {SHORT[r.policy]} − {SHORT[r.against]} | {r.kpi} | "
            f"{_fmt(r.mean, r.ci_low, r.ci_high, 2)} | {rel} |"
        )
    return lines + [""]


def _who_waits_longest(k: pd.DataFrame, variants: list[str], policies: list[str]) -> list[str]:
    lines = [
        "## Who waits longest",
        "",
        "Median days to a home (Kaplan–Meier, everyone counted) per target group and "
        "first-choice municipality (`none`: no preference); the longest per policy in bold.",
        "",
    ]
    for v in variants:
        sub = k[(k["variant"] == v) & (k["kpi"] == "time_to_home_median")]
        groups = sorted(g for g in set(sub["group"]) if g != "all" and g != "urgent")
        if not groups:
            continue
        lines += [
            f"### {v}",
            "",
            "| group | " + " | ".join(SHORT[p] for p in policies) + " |",
            "| --- |" + " ---: |" * len(policies),
        ]
        worst = {}
        for p in policies:
            s = sub[(sub["policy"] == p) & sub["group"].isin(groups)].dropna(subset=["mean"])
            if len(s):
                worst[p] = s.loc[s["mean"].idxmax(), "group"]
        for g in groups:
            cells = []
            for p in policies:
                text = _kpi(k, v, p, "time_to_home_median", g)
                cells.append(f"**{text}**" if worst.get(p) == g else text)
            lines.append(f"| {g} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def markdown(res: ScenarioResults) -> str:
    k = res.kpis
    variants = list(dict.fromkeys(k["variant"]))
    policies = _policies(res)
    n = len(res.seeds)
    lines = [
        f"# Scenario report: {res.name}",
        "",
        f"Seeds: {n} replications ({', '.join(map(str, res.seeds[:10]))}"
        + (", …" if n > 10 else "")
        + "). Every policy sees the same clients, vacancies and answers on a seed (common random "
        "numbers), so differences are paired by seed. Numbers are means over the seeds with a "
        "95% interval in brackets. Synthetic data; no personal data.",
        "",
        "Policies: " + "; ".join(f"**{SHORT[p]}**: {POLICY_NAMES[p]}" for p in policies) + ".",
        "",
    ]
    lines += _lead(res, variants)
    lines += ["## Variants", ""]
    for v in variants:
        lines.append(f"- **{v}**: {res.descriptions.get(v, '')}")
    lines += ["", "![Placements](placements.png)", "", "![Paired differences](paired.png)", ""]
    lines += _paired_table(res)
    for v in variants:
        lines += [
            f"## KPIs: {v}",
            "",
            "| KPI | " + " | ".join(SHORT[p] for p in policies) + " |",
            "| --- |" + " ---: |" * len(policies),
        ]
        for kpi, group, label in KPI_ROWS:
            cells = [
                "—" if not_for_ceilings(kpi, p) else _kpi(k, v, p, kpi, group) for p in policies
            ]
            if all(c == "—" for c in cells):
                continue
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _ceiling_lines(k, variants, n)
    lines += _who_waits_longest(k, variants, policies)
    lines += [
        "## Plots",
        "",
        "![Time to a home](waiting.png)",
        "",
        "![Backlog over time](backlog.png)",
        "",
        "![Quota used by week](quota_use.png)",
        "",
        "## How to read this",
        "",
        "- Time to a home counts everyone on the list: a client not housed by the end (or who "
        "left the list) counts as still waiting at the days waited so far (censored). The "
        "median of the housed alone is shown for comparison and is biased low.",
        "- Quotas of a calendar year the horizon covers only in part are pro-rated.",
        "- A justified-envy pair: a client left unplaced who waited longer than the client "
        "given a unit, and was eligible for that unit (same unit: no quota or cap reason).",
        "- The fullest building is measured against its own cap (1.00 = at its cap).",
        "",
        "## Files",
        "",
        "- `kpis.csv`: every KPI per variant, policy and group: mean, standard deviation, 95% "
        "interval, number of seeds.",
        "- `runs.csv`: every KPI per seed. `paired.csv`: the paired differences.",
        "",
    ]
    return "\n".join(lines)


_PLOTTERS = {
    "placements": _plot_placements,
    "paired": _plot_paired,
    "waiting": _plot_time_to_home,
    "backlog": _plot_backlog,
    "quota_use": _plot_quota,
}


def write_plots(
    res: ScenarioResults, out: Path, labels: dict[str, str] | None = None, suffix: str = ""
) -> list[Path]:
    """Every plot as ``{name}{suffix}.png`` in ``out``, its texts from ``labels`` (English where
    a key is missing, so a caller translating only some keeps the rest readable)."""
    written = []
    for name in _PLOTTERS:
        path = out / f"{name}{suffix}.png"
        _save(figure(name, res, labels), path)
        written.append(path)
    return written


def figure(name: str, res: ScenarioResults, labels: dict[str, str] | None = None) -> Figure:
    """One plot of ``PLOTS``, drawn but not saved: its texts from ``labels`` over the English
    ``PLOT_LABELS``. The caller saves (``write_plots``) or closes it."""
    return _PLOTTERS[name](res, PLOT_LABELS | (labels or {}))


def write_outputs(res: ScenarioResults, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("kpis.csv", res.kpis), ("runs.csv", res.raw), ("paired.csv", res.paired)):
        df.to_csv(out / name, index=False)
        written.append(out / name)
    table = comparison_table(res.kpis)
    table.to_csv(out / "comparison.csv", index=False)
    written.append(out / "comparison.csv")
    written += write_plots(res, out)
    (out / "report.md").write_text(markdown(res), encoding="utf-8")
    written.append(out / "report.md")
    return written
