"""The proposal's explanations in the page's language, written from the proposal's structured
fields (rank, waiting days, reason codes, counts, names) rather than from the core's English
sentences. A reason code this module does not know is shown with the core's own message."""

from __future__ import annotations

import re
from typing import Any

from service.web.i18n import Texts
from service.web.words import N_

#: The eligibility rules' labels (``allocator.rules``), translated where they are shown.
RULE_LABELS = [
    N_("not accessible"),
    N_("rent above max_rent"),
    N_("household size outside the unit's occupancy"),
    N_("municipality excluded or not preferred"),
    N_("refused before"),
    N_("reserved for another target group"),
]


class Explainer:
    """Sentences for one run's proposal, with the names and quotas of the instance it solved."""

    def __init__(self, t: Texts, instance: dict[str, Any]):
        self.t = t
        self.municipalities = {m["id"]: m for m in instance.get("municipalities", [])}
        self.corporations = {c["id"]: c for c in instance.get("corporations", [])}
        self.complexes = {c["id"]: c for c in instance.get("complexes", [])}
        self.preferences = {
            c["id"]: len(c.get("preferred_municipalities") or []) for c in instance["clients"]
        }

    def municipality(self, id_: str) -> str:
        return self.municipalities.get(id_, {}).get("name", id_)

    def line(self, a: dict[str, Any]) -> str:
        t = self.t
        name = self.municipality(a["municipality_id"])
        listed = self.preferences.get(a["client_id"], 0)
        if listed:
            where = t.gettext("%(name)s, choice %(rank)s of %(listed)s", name=name,
                              rank=a["preference_rank"], listed=listed)  # fmt: skip
        else:
            where = t.gettext("%(name)s (no preference given)", name=name)
        text = (
            N_("Accepted offer kept: %(where)s; waited %(days)s days; %(n)s eligible dwellings.")
            if a.get("pinned")
            else N_("Placed in %(where)s; waited %(days)s days; %(n)s eligible dwellings.")
        )
        return t.gettext(text, where=where, days=a["waiting_days"], n=a["eligible_units"])

    def reason(self, r: dict[str, Any], removed: dict[str, int], total_units: int) -> str:
        t, code, n, names = self.t, r["code"], r["count"], r.get("names") or []
        if code == "no_eligible_unit":
            detail = "; ".join(
                t.gettext(
                    "%(rule)s: %(n)s of %(total)s", rule=t.gettext(label), n=k, total=total_units
                )  # fmt: skip
                for label, k in removed.items()
            )
            return t.gettext("No eligible dwelling at all (%(detail)s).", detail=detail)
        if code == "municipality_quota":
            what = ", ".join(
                t.gettext(
                    "%(name)s (quota %(quota)s)",
                    name=self.municipality(m),
                    quota=self.municipalities.get(m, {}).get("quota"),
                )  # fmt: skip
                for m in names
            )
            return t.gettext(
                "Municipal quota used up in %(what)s: blocks %(n)s eligible dwellings.",
                what=what, n=n,
            )  # fmt: skip
        if code == "corporation_quota":
            what = ", ".join(
                t.gettext(
                    "%(name)s (quota %(quota)s)",
                    name=self.corporations.get(c, {}).get("name", c),
                    quota=self.corporations.get(c, {}).get("quota"),
                )  # fmt: skip
                for c in names
            )
            return t.gettext(
                "Corporation quota used up for %(what)s: blocks %(n)s eligible dwellings.",
                what=what, n=n,
            )  # fmt: skip
        if code == "mix_cap":
            what = ", ".join(self.complexes.get(c, {}).get("name") or c for c in names)
            return t.gettext(
                "Magic Mix cap reached in %(what)s: blocks %(n)s eligible dwellings.",
                what=what, n=n,
            )  # fmt: skip
        simple = {
            "taken_by_pinned": N_("%(n)s eligible dwellings hold an accepted offer."),
            "taken_by_longer_waiting": N_(
                "%(n)s eligible dwellings went to clients who waited at least as long."
            ),
            "taken_to_place_more": N_(
                "%(n)s eligible dwellings went to clients who waited less but had fewer "
                "options, so that more people could be housed."
            ),
            "not_chosen": N_(
                "%(n)s eligible dwellings had room but were not chosen (or the search stopped "
                "at its time limit)."
            ),
        }
        if code in simple:
            return t.gettext(simple[code], n=n)
        return r.get("message", code)


#: The input problems a person meets most in an upload, as patterns of the readers' English
#: (``allocator.spreadsheet``, pydantic, the API's region checks) with the message to show
#: instead. A problem no pattern matches is shown as the reader wrote it.
_ISSUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Input should be a valid number"), N_("This is not a number.")),
    (re.compile(r"^Input should be a valid integer"), N_("This is not a whole number.")),
    (re.compile(r"^Input should be a valid date"), N_("This is not a date (day-month-year).")),
    (
        re.compile(r"^Input should be greater than or equal to (?P<limit>\S+)"),
        N_("This must be at least %(limit)s."),
    ),
    (
        re.compile(r"^Input should be less than or equal to (?P<limit>\S+)"),
        N_("This must be at most %(limit)s."),
    ),
    (re.compile(r"^(this cell is required|Field required)"), N_("This cell must be filled in.")),
    (re.compile(r"^expected yes or no"), N_("Write yes or no (ja/nee, WAAR/ONWAAR).")),
    (re.compile(r"is not a date \(day-month-year\)"), N_("This is not a date (day-month-year).")),
    (re.compile(r"^unknown complex '(?P<name>.*)'$"), N_("There is no building %(name)s.")),
    (re.compile(r"^unknown corporation '(?P<name>.*)'$"), N_("There is no corporation %(name)s.")),
    (
        re.compile(r"^vacancy '(?P<name>.*)' already exists$"),
        N_("Dwelling %(name)s already exists."),
    ),
    (re.compile(r"^missing column"), N_("This column is missing.")),
    (re.compile(r"^unknown column$"), N_("This column is unknown.")),
    (re.compile(r"^more cells than columns$"), N_("This row has more cells than the header.")),
]


#: The rules' names (``allocator.rules``), translated where a broken rule is shown.
RULE_NAMES = [
    N_("one unit per client, one client per unit"), N_("household fits"), N_("affordable"),
    N_("accessible"), N_("location"), N_("not refused"), N_("target group"),
    N_("municipal quota"), N_("corporation quota"), N_("Magic Mix cap"),
    N_("pinned pairs stay"),
]  # fmt: skip
_OFFER = re.compile(
    r"^Offering (?P<unit>\S+) to (?P<client>\S+) breaks rule (?P<rule>\d+) \((?P<name>[^)]+)\)"
)
_TOGETHER = re.compile(r"break rule (?P<rule>\d+) \((?P<name>[^)]+)\): (?P<detail>.*)$")


def issue_text(t: Texts, message: str) -> str:
    """An input problem in the page's language, when it is one the pages know. A broken rule
    of an offer is named in words (the rule's number and name); the core's detail follows."""
    if found := _OFFER.search(message):
        rule_name = found["name"]
        return t.gettext(
            "Offering %(unit)s to %(client)s breaks rule %(rule)s: %(name)s.",
            unit=found["unit"], client=found["client"], rule=found["rule"],
            name=t.gettext(rule_name),
        )  # fmt: skip
    if found := _TOGETHER.search(message):
        rule_name = found["name"]
        return t.gettext(
            "These offers together break rule %(rule)s: %(name)s (%(detail)s).",
            rule=found["rule"], name=t.gettext(rule_name), detail=found["detail"],
        )  # fmt: skip
    for pattern, text in _ISSUES:
        if found := pattern.search(message):
            return t.gettext(text, **found.groupdict())
    return message
