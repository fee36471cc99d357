"""The planner's report in the page's language: the comparison tables built from a run's KPI rows
(the structured data the worker stored) with catalogue words, the plots' texts handed to the
core's plotting, and the same tables as a Markdown download.

The core writes its own English report for the CLI and the API; nothing here parses its text.
Its rows and their order come from ``allocator.simulation.table`` (no plotting library, so the
web process stays free of matplotlib)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_decimal

from allocator.simulation.table import KPI_ROWS, NO_MUNICIPALITY, ORDER, digits, not_for_ceilings
from service.web.i18n import LOCALES, Texts
from service.web.words import N_

#: The language the core's own plots and report are written in (the API's).
CORE_LOCALE = "en"

#: A policy, short, as a column heading and in a plot's legend.
POLICIES = {
    "practice": N_("today's practice"),
    "fcfs": N_("regional first come, first served"),
    "optimiser": N_("optimiser"),
    "optimiser_acceptance": N_("optimiser + acceptance"),
    "ceiling_arrivals": N_("ceiling (arrivals)"),
    "hindsight": N_("clairvoyant ceiling"),
}

#: What each policy is, under the table.
POLICY_DESCRIPTIONS = {
    "practice": N_("today's practice: municipality and corporation fixed at intake"),
    "fcfs": N_("regional first come, first served"),
    "optimiser": N_("the regional optimiser, every round"),
    "optimiser_acceptance": N_("the optimiser using the acceptance model"),
    "ceiling_arrivals": N_(
        "a reference, not a policy: knows the arrivals of the year and learns the answers by "
        "offering"
    ),
    "hindsight": N_(
        "a reference, not a policy: knows the arrivals and every answer beforehand (an upper bound)"
    ),
}

#: How to read the numbers, after the tables.
NOTES = [
    N_(
        "Every policy sees the same clients, vacancies and answers on a seed, so the policies "
        "are compared on the same weeks. Synthetic data; no personal data."
    ),
    N_(
        "Time to a home counts everyone on the list: a client not housed by the end (or who "
        "left the list) counts as still waiting at the days waited so far. The median of the "
        "housed alone is shown for comparison and is biased low."
    ),
    N_("The ceilings ignore the weekly rounds, so their waiting times are not shown (—)."),
    N_("The fullest building is measured against its own cap (1.00 = at its cap)."),
]

#: A row of the comparison table, by (KPI, group) as ``KPI_ROWS`` lists them.
KPI_LABELS = {
    ("placements", "all"): N_("clients housed"),
    ("time_to_home_median", "all"): N_("median days to a home, everyone counted (Kaplan–Meier)"),
    ("time_to_home_p90", "all"): N_("90th percentile days to a home, everyone counted"),
    ("time_to_home_restricted_mean", "all"): N_("mean days without a home within the horizon"),
    ("waiting_days_median", "all"): N_("median waiting days of the housed only (biased)"),
    ("backlog_mean", "all"): N_("clients waiting, time-averaged"),
    ("backlog_end", "all"): N_("still waiting at the end"),
    ("offers", "all"): N_("offers made"),
    ("refusals_per_placement", "all"): N_("refusals per placement"),
    ("vacancy_days_lost_to_refusals", "all"): N_("vacancy days lost to refusals"),
    ("vacancies_lost", "all"): N_("vacancies lost to regular letting"),
    ("left_the_list", "all"): N_("clients who left the list"),
    ("justified_envy", "all"): N_("justified-envy pairs (all rounds)"),
    ("time_to_home_median_spread", "municipality"): N_(
        "spread of median days across municipalities"
    ),
    ("time_to_home_median_spread", "target_group"): N_(
        "spread of median days across target groups"
    ),
    ("longest_wait_end", "all"): N_("longest wait of anyone still waiting at the end"),
    ("vulnerable_share_of_cap", "all"): N_("fullest building: vulnerable households / its own cap"),
    ("share_of_hindsight", "all"): N_("share of the clairvoyant ceiling"),
    ("share_of_ceiling_arrivals", "all"): N_("share of the arrivals ceiling"),
}

#: Every text of the plots but the policies' names, by the key of the core's ``PLOT_LABELS``.
PLOT_TEXTS = {
    "placements.title": N_("Placements per policy"),
    "placements.y": N_("clients housed (mean and 95 percent interval over the seeds)"),
    "paired.title": N_(
        "Paired differences on the same seeds (95 percent interval); colour: the policy compared"
    ),
    "paired.placements": N_("more clients housed"),
    "paired.time_to_home_median": N_("change in median days to a home"),
    "paired.refusals_per_placement": N_("change in refusals per placement"),
    "waiting.title": N_("Time to a home, everyone counted (Kaplan–Meier, all seeds pooled)"),
    "waiting.x": N_("weeks since ready"),
    "waiting.y": N_("share still without a home"),
    "backlog.title": N_("Backlog over time (colour: policy; line style: variant)"),
    "backlog.x": N_("week"),
    "backlog.y": N_("ready clients waiting (mean and 95 percent interval)"),
    "quota_use.title": N_(
        "Quota used so far this year, per municipality ({variant}; mean and 95 percent interval)"
    ),
    "quota_use.none": N_("Quota used by week: no quota to use"),
    "quota_use.x": N_("week"),
    "quota_use.y": N_("share of the year's quota used"),
}

#: What each plot shows, as its text alternative and caption.
PLOT_DESCRIPTIONS = {
    "placements": N_("Placements per policy"),
    "paired": N_("Paired differences"),
    "waiting": N_("Time to a home"),
    "backlog": N_("Backlog over time"),
    "quota_use": N_("Quota used by week"),
}

#: A breakdown of the KPIs, as the core names its groups (``target_group=BW``).
GROUPS = {"target_group": N_("target group %(name)s"), "municipality": N_("municipality %(name)s")}


def plot_labels(texts: Texts) -> dict[str, str]:
    """The texts the core's ``write_plots`` puts on the plots, in ``texts``' language."""
    labels = {key: texts.gettext(message) for key, message in PLOT_TEXTS.items()}
    return labels | {f"policy.{p}": texts.gettext(name) for p, name in POLICIES.items()}


def stored_plot(name: str, locale: str) -> str:
    """The name a plot is stored under in a language: the core's own (English, the API's) as
    it is, every other language with its code after a dot (``placements.nl``)."""
    return name if locale == CORE_LOCALE else f"{name}.{locale}"


def translated_plots() -> list[str]:
    """The languages besides the core's that the worker draws the plots in."""
    return [locale for locale in LOCALES if locale != CORE_LOCALE]


@dataclass
class Table:
    heading: str
    columns: list[str]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    caption: str = ""


@dataclass
class Report:
    tables: list[Table]
    policies: list[tuple[str, str]]  # (name, what it is)
    notes: list[str]
    plots: list[tuple[str, str]]  # (name, what it shows), in the order of the page


def _number(value: float, places: int, locale: str) -> str:
    return format_decimal(value, format="0." + "0" * places, locale=locale)


def _cell(row: dict[str, Any] | None, kpi: str, texts: Texts) -> str:
    if row is None or row.get("mean") is None or not math.isfinite(row["mean"]):
        return "—"
    places, loc = digits(kpi), texts.locale
    mean, low, high = row["mean"], row.get("ci_low"), row.get("ci_high")
    text = _number(mean, places, loc)
    if low is not None and high is not None and abs(high - low) >= 1e-9:
        text += f" ({_number(low, places, loc)}–{_number(high, places, loc)})"
    if row.get("missing"):
        text += " " + texts.gettext("[not reached in %(n)s seeds]", n=int(row["missing"]))
    return text


def _group(group: str, texts: Texts) -> str:
    kind, _, name = group.partition("=")
    if kind == "municipality" and name == NO_MUNICIPALITY:
        return texts.gettext("no first-choice municipality")
    return texts.gettext(GROUPS[kind], name=name) if kind in GROUPS else group


def report(kpis: list[dict[str, Any]], texts: Texts, plots: list[str]) -> Report:
    """The comparison table per variant and who waits longest, from the run's KPI rows."""
    found = {(r["variant"], r["policy"], r["kpi"], r["group"]): r for r in kpis}
    variants = list(dict.fromkeys(r["variant"] for r in kpis))
    present = {r["policy"] for r in kpis}
    policies = [p for p in ORDER if p in present]
    names = [texts.gettext(POLICIES[p]) for p in policies]
    tables = []
    for v in variants:
        table = Table(
            texts.gettext("Key figures: %(variant)s", variant=v),
            [texts.gettext("Key figure")] + names,
            caption=texts.gettext("Mean over the seeds, with the 95 percent interval in brackets."),
        )
        for kpi, group, _english in KPI_ROWS:
            cells = [
                "—"
                if not_for_ceilings(kpi, p)
                else _cell(found.get((v, p, kpi, group)), kpi, texts)
                for p in policies
            ]
            if any(c != "—" for c in cells):
                table.rows.append((texts.gettext(KPI_LABELS[(kpi, group)]), cells))
        tables.append(table)
    for v in variants:
        groups = sorted(
            {
                r["group"]
                for r in kpis
                if r["variant"] == v and r["kpi"] == "time_to_home_median"
                and r["group"] not in ("all", "urgent")
            }
        )  # fmt: skip
        if not groups:
            continue
        table = Table(
            texts.gettext("Who waits longest: %(variant)s", variant=v),
            [texts.gettext("Group")] + names,
            caption=texts.gettext(
                "Median days to a home (Kaplan–Meier, everyone counted) per target group and "
                "first-choice municipality."
            ),
        )
        for g in groups:
            cells = [
                _cell(found.get((v, p, "time_to_home_median", g)), "time_to_home_median", texts)
                for p in policies
            ]
            table.rows.append((_group(g, texts), cells))
        tables.append(table)
    shown = [(name, texts.gettext(PLOT_DESCRIPTIONS[name])) for name in PLOT_DESCRIPTIONS]
    shown = [(name, description) for name, description in shown if name in plots]
    said = [(texts.gettext(POLICIES[p]), texts.gettext(POLICY_DESCRIPTIONS[p])) for p in policies]
    return Report(tables, said, [texts.gettext(n) for n in NOTES], shown)


def markdown(name: str, built: Report, texts: Texts) -> str:
    """The page's report as Markdown, in the page's language (the download)."""
    title = texts.gettext("Scenario report: %(name)s", name=name)
    lines = [f"# {title}", ""]
    lines += [f"- **{name}**: {what}" for name, what in built.policies] + [""]
    for table in built.tables:
        lines += [f"## {table.heading}", "", table.caption, ""]
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("| --- |" + " ---: |" * (len(table.columns) - 1))
        for label, cells in table.rows:
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"- {note}" for note in built.notes] + [""]
    return "\n".join(lines)
