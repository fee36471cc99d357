"""The rows of a scenario report's KPI table, in the order a planner reads them, with no plotting
or data-frame library: the CLI's Markdown report and the service's pages (in the page's language)
both list these and no other."""

from __future__ import annotations

#: A client's first-choice municipality when it listed none (a group ``municipality=none``).
NO_MUNICIPALITY = "none"

#: The policies in the order of every table and legend: the online ones, then the ceilings.
ONLINE_ORDER = ("practice", "fcfs", "optimiser", "optimiser_acceptance")
ORDER = (*ONLINE_ORDER, "ceiling_arrivals", "hindsight")

#: (KPI, group, its label in the CLI's English report), one row of the table each.
KPI_ROWS = [
    ("placements", "all", "clients housed"),
    ("time_to_home_median", "all", "median days to a home, everyone counted (Kaplan–Meier)"),
    ("time_to_home_p90", "all", "90th percentile days to a home, everyone counted"),
    ("time_to_home_restricted_mean", "all", "mean days without a home within the horizon"),
    ("waiting_days_median", "all", "median waiting days of the housed only (biased)"),
    ("backlog_mean", "all", "clients waiting, time-averaged"),
    ("backlog_end", "all", "still waiting at the end"),
    ("offers", "all", "offers made"),
    ("refusals_per_placement", "all", "refusals per placement"),
    ("vacancy_days_lost_to_refusals", "all", "vacancy days lost to refusals"),
    ("vacancies_lost", "all", "vacancies lost to regular letting"),
    ("left_the_list", "all", "clients who left the list"),
    ("justified_envy", "all", "justified-envy pairs (all rounds)"),
    ("time_to_home_median_spread", "municipality", "spread of median days across municipalities"),
    ("time_to_home_median_spread", "target_group", "spread of median days across target groups"),
    ("longest_wait_end", "all", "longest wait of anyone still waiting at the end"),
    ("vulnerable_share_of_cap", "all", "fullest building: vulnerable households / its own cap"),
    ("share_of_hindsight", "all", "share of the clairvoyant ceiling"),
    ("share_of_ceiling_arrivals", "all", "share of the arrivals ceiling"),
]


def not_for_ceilings(kpi: str, policy: str) -> bool:
    """A ceiling bounds placements; it ignores the round cadence, so its times mean nothing."""
    timed = kpi.startswith(("time_to_home", "waiting_days", "longest_wait", "vacancy_days"))
    return timed and policy in ("ceiling_arrivals", "hindsight")


def digits(kpi: str) -> int:
    """Decimals a KPI is shown with: shares and ratios two, counts and days one."""
    return 2 if "share" in kpi or kpi in ("refusals_per_placement", "proven") else 1
