"""Words the pages show from data (roles, statuses): listed here so that the message extractor
finds them (``N_`` marks a message without translating it)."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    return message


WORDS = [
    # roles
    N_("coordinator"), N_("corporation"), N_("planner"), N_("admin"),
    # clients
    N_("ready"), N_("proposed"), N_("housed"), N_("withdrawn"),
    # vacancies
    N_("open"), N_("let"),
    # offers
    N_("accepted"), N_("refused"), N_("expired"),
    # runs
    N_("queued"), N_("running"), N_("done"), N_("failed"), N_("cancelled"), N_("interrupted"),
    # income brackets
    N_("below_income_limit"), N_("above_income_limit"),
]  # fmt: skip

TABLES = [
    N_("vacancies"),
    N_("municipalities"),
    N_("corporations"),
    N_("complexes"),
    N_("units"),
    N_("clients"),
    N_("pinned"),
    N_("neighbourhoods"),
    N_("support_providers"),
    N_("acceptance"),
    N_("policy"),
]
