"""The proposal's explanations in the page's language, written from the proposal's structured
fields (rank, waiting days, reason codes, counts, names) rather than from the core's English
sentences. Every reason code the core emits has a sentence here: the codes of ``REASON_CODES``
and each registered group limit's own code (``allocator.rules``); ``Explainer.knows`` says which,
and a test holds it to the registry, so a new rule's code cannot slip through in English."""

from __future__ import annotations

import re
from typing import Any

from allocator import rules
from allocator.alternatives import Alternative
from allocator.expected_acceptance import SCALE as ACCEPTANCE_SCALE
from allocator.models import REASON_CODES, LevelFacts
from allocator.solver import first_gap
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
    N_("support provider does not work in the municipality"),
]

#: Each group limit's group in words, by the limit's reason code. The values name the group's
#: parts as ``Explainer`` resolves them from the run's instance.
LIMIT_TITLES = {
    "municipality_quota": N_("the municipal quota of %(name)s"),
    "corporation_quota": N_("the quota of %(name)s"),
    "mix_cap": N_("the Magic Mix cap of %(name)s"),
    "group_share": N_("the share of target group %(group)s in %(name)s"),
    "staircase": N_("staircase %(staircase)s of %(name)s"),
    "neighbourhood_quota": N_("the neighbourhood quota of %(name)s"),
    "support_places": N_("support by %(provider)s in %(municipality)s"),
}

#: The reasons written by a method of their own, and those that say only how many units.
_OWN = ("no_eligible_unit", "cannot_be_placed", "closed_before_run", "equally_good")
_COUNTED = (
    "taken_by_pinned",
    "taken_by_longer_waiting",
    "taken_to_place_more",
    "not_chosen",
    "blocked_together",
)


#: A broken rule in the core's words (``Violation.__str__``), and a group limit's detail
#: (``allocator.rules.base.group_limit_check``).


def core_codes() -> set[str]:
    """Every reason code the core can put on an unplaced client's line: its fixed codes and the
    code of each registered group limit."""
    return set(REASON_CODES) | {r.groups.code for r in rules.group_limits()}


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


class Explainer:
    """Sentences for one run's proposal, with the names of the instance it solved and the
    numbers of the proposal's summaries."""

    def __init__(self, t: Texts, instance: dict[str, Any], proposal: dict[str, Any] | None = None):
        self.t = t
        self.municipalities = {m["id"]: m for m in instance.get("municipalities", [])}
        self.corporations = {c["id"]: c for c in instance.get("corporations", [])}
        self.complexes = {c["id"]: c for c in instance.get("complexes", [])}
        self.total_units = len(instance.get("units", []))
        self.preferences = {
            c["id"]: len(c.get("preferred_municipalities") or []) for c in instance["clients"]
        }
        proposal = proposal or {}
        self.holder = {a["unit_id"]: a["client_id"] for a in proposal.get("assignments", [])}
        self.groups = self._groups(instance)
        self.fill = self._fill(proposal.get("summaries") or {})

    @staticmethod
    def knows(code: str) -> bool:
        """Whether this reason code has a sentence of its own here."""
        return code in _OWN or code in _COUNTED or code in LIMIT_TITLES

    def municipality(self, id_: str) -> str:
        return self.municipalities.get(id_, {}).get("name", id_)

    def complex_name(self, id_: str) -> str:
        return self.complexes.get(id_, {}).get("name") or id_

    def _groups(self, instance: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
        """Each limit's groups by (code, the core's label of the group), with the parts its
        title names. The labels are made by the rule's own ``label``."""
        label = {r.groups.code: r.groups.label for r in rules.group_limits()}
        out: dict[tuple[str, str], dict[str, str]] = {}

        def add(code: str, key, **parts: str) -> None:
            if code in label:
                out[(code, label[code](key))] = parts

        for m in self.municipalities.values():
            add("municipality_quota", m["id"], name=m.get("name") or m["id"])
        for c in self.corporations.values():
            add("corporation_quota", c["id"], name=c.get("name") or c["id"])
        for cx in self.complexes.values():
            name = self.complex_name(cx["id"])
            add("mix_cap", cx["id"], name=name)
            for group in cx.get("group_max_share") or {}:
                add("group_share", (cx["id"], group), name=name, group=group)
        for u in instance.get("units", []):
            if u.get("staircase_id"):
                name = self.complex_name(u["complex_id"])
                add("staircase", (u["complex_id"], u["staircase_id"]), name=name,
                    staircase=u["staircase_id"])  # fmt: skip
        for nb in instance.get("neighbourhoods") or []:
            add("neighbourhood_quota", nb["id"], name=nb.get("name") or nb["id"])
        for p in instance.get("support_providers") or []:
            for c in p.get("capacity") or []:
                add("support_places", (p["id"], c["municipality_id"]),
                    provider=p.get("name") or p["id"],
                    municipality=self.municipality(c["municipality_id"]))  # fmt: skip
        return out

    def _fill(self, summaries: dict[str, Any]) -> dict[tuple[str, str], str]:
        """How full each limit is after the proposal, in words, from the proposal's summaries."""
        t, out = self.t, {}
        for m in summaries.get("municipalities", []):
            out[("municipality_quota", m["municipality_id"])] = self._placements(m)
        for c in summaries.get("corporations", []):
            if c.get("quota") is not None:
                out[("corporation_quota", c["corporation_id"])] = self._placements(c)
        for cx in summaries.get("complexes", []):
            out[("mix_cap", cx["complex_id"])] = t.gettext(
                "%(used)s of at most %(cap)s vulnerable households",
                used=cx["vulnerable_after"], cap=cx["cap"],
            )  # fmt: skip
        for s in summaries.get("limits", []):
            out[(s["code"], s["group"])] = t.ngettext(
                "%(used)s of %(num)s place taken in this run",
                "%(used)s of %(num)s places taken in this run",
                s["room"],
                used=s["used"],
            )
        return out

    def _placements(self, summary: dict[str, Any]) -> str:
        return self.t.ngettext(
            "%(used)s of %(num)s placement",
            "%(used)s of %(num)s placements",
            summary["quota"],
            used=summary["used"],
        )

    def limit(self, code: str, group: str) -> str:
        """One limit's group in words ("the municipal quota of Hoorn")."""
        parts = self.groups.get((code, group))
        if code in LIMIT_TITLES and parts is not None:
            return self.t.gettext(LIMIT_TITLES[code], **parts)
        rule = next((r for r in rules.group_limits() if r.groups.code == code), None)
        if rule is None:
            return group
        return self.t.gettext(
            "the limit of rule %(rule)s (%(name)s) for %(group)s",
            rule=rule.number, name=self.t.gettext(rule.name), group=group,
        )  # fmt: skip

    def line(self, a: dict[str, Any]) -> str:
        t = self.t
        name = self.municipality(a["municipality_id"])
        listed = self.preferences.get(a["client_id"], 0)
        if listed:
            where = t.gettext("%(name)s, choice %(rank)s of %(listed)s", name=name,
                              rank=a["preference_rank"], listed=listed)  # fmt: skip
        else:
            where = t.gettext("%(name)s (no preference given)", name=name)
        n, days = a["eligible_units"], a["waiting_days"]
        if a.get("pinned"):
            return t.ngettext(
                "Accepted offer kept: %(where)s; waited %(days)s days; %(num)s eligible dwelling.",
                "Accepted offer kept: %(where)s; waited %(days)s days; %(num)s eligible dwellings.",
                n,
                where=where,
                days=days,
            )
        return t.ngettext(
            "Placed in %(where)s; waited %(days)s days; %(num)s eligible dwelling.",
            "Placed in %(where)s; waited %(days)s days; %(num)s eligible dwellings.",
            n,
            where=where,
            days=days,
        )

    def reason(self, r: dict[str, Any], unplaced: dict[str, Any]) -> str:
        """One reason of an unplaced client (``unplaced``: the client's line of the proposal)."""
        t, code, n = self.t, r["code"], r["count"]
        if code == "no_eligible_unit":
            return self._no_eligible_unit(unplaced)
        if code in ("closed_before_run", "cannot_be_placed"):
            return self._closed(code, n, r.get("closed_by") or [])
        if code == "equally_good":
            who = ", ".join(
                t.gettext("%(client)s (dwelling %(unit)s)", client=self.holder[u], unit=u)
                for u in r.get("names") or []
                if u in self.holder
            )
            return t.gettext(
                "An equally good proposal could place this client instead of %(who)s: same "
                "waiting time and preference rank, and the tie went the other way.",
                who=who or "—",
            )
        if code in _COUNTED:
            return self._counted(code, n)
        if any(r.groups.code == code for r in rules.group_limits()):
            return self._limit_reason(r)
        return r.get("message", code)

    def _counted(self, code: str, n: int) -> str:
        # ngettext with its messages written out, so that the extractor finds both forms
        t = self.t
        if code == "taken_by_pinned":
            return t.ngettext(
                "%(num)s eligible dwelling holds an accepted offer.",
                "%(num)s eligible dwellings hold an accepted offer.",
                n,
            )
        if code == "taken_by_longer_waiting":
            return t.ngettext(
                "%(num)s eligible dwelling went to a client who waited at least as long.",
                "%(num)s eligible dwellings went to clients who waited at least as long.",
                n,
            )
        if code == "taken_to_place_more":
            return t.ngettext(
                "%(num)s eligible dwelling went to a client who waited less but had fewer "
                "options, so that more people could be housed.",
                "%(num)s eligible dwellings went to clients who waited less but had fewer "
                "options, so that more people could be housed.",
                n,
            )
        if code == "not_chosen":
            return t.ngettext(
                "%(num)s eligible dwelling had room but was not chosen (or the search stopped "
                "at its time limit).",
                "%(num)s eligible dwellings had room but were not chosen (or the search "
                "stopped at its time limit).",
                n,
            )
        return t.ngettext(
            "%(num)s eligible dwelling is held back by several full limits at once: raising "
            "any one of them alone does not open it.",
            "%(num)s eligible dwellings are held back by several full limits at once: raising "
            "any one of them alone opens none of them.",
            n,
        )

    def _limit_reason(self, r: dict[str, Any]) -> str:
        """A full limit: how full, and what raising it alone would open. A limit that holds
        units back only together with others is said to open nothing alone."""
        t, code = self.t, r["code"]
        alone, together = r["count"], r.get("together", 0)
        names = r.get("names") or []
        what = "; ".join(self.limit(code, g) for g in names) or code
        fills = [self.fill[(code, g)] for g in names if (code, g) in self.fill]
        if fills:
            head = t.gettext("%(limit)s is full (%(fill)s).", limit=what, fill="; ".join(fills))
        else:
            head = t.gettext("%(limit)s is full.", limit=what)
        parts = [_upper_first(head)]
        if alone:
            parts.append(
                t.ngettext(
                    "Raising this limit alone would open %(num)s eligible dwelling.",
                    "Raising this limit alone would open %(num)s eligible dwellings.",
                    alone,
                )
            )
            if together:
                parts.append(
                    t.ngettext(
                        "Together with other full limits it holds back %(num)s more dwelling.",
                        "Together with other full limits it holds back %(num)s more dwellings.",
                        together,
                    )
                )
        else:
            parts.append(
                t.ngettext(
                    "Raising this limit alone opens no dwelling: the %(num)s eligible dwelling "
                    "it holds back is also held back by another full limit.",
                    "Raising this limit alone opens no dwelling: the %(num)s eligible dwellings "
                    "it holds back are also held back by another full limit.",
                    together,
                )
            )
        return " ".join(parts)

    def _closed(self, code: str, n: int, closed_by: list[dict[str, str]]) -> str:
        t = self.t
        if code == "cannot_be_placed":
            head = t.ngettext(
                "Cannot be placed in this run: its %(num)s eligible dwelling has no room from "
                "the start",
                "Cannot be placed in this run: none of its %(num)s eligible dwellings has room "
                "from the start",
                n,
            )
        else:
            head = t.ngettext(
                "%(num)s eligible dwelling has no room from the start of this run",
                "%(num)s eligible dwellings have no room from the start of this run",
                n,
            )
        # a building's name may hold a comma ("Hoorn, complex 2"): limits are set apart by ";"
        limits = "; ".join(self.limit(c["code"], c["group"]) for c in closed_by)
        if not limits:
            return head + "."
        return t.gettext("%(head)s; already full: %(limits)s.", head=head, limits=limits)

    def blocked(self, alternative: Alternative) -> str:
        """Why an alternative cannot be offered: the rules placing the client there would
        break (the core's ``broken_rules``), each full group named as the proposal's reasons
        name it. Without them, the core's English ``blocked_by`` as it is."""
        t = self.t
        parts = []
        for broken in alternative.broken_rules:
            rule = t.gettext(
                "rule %(rule)s (%(name)s)", rule=broken.rule, name=t.gettext(broken.name)
            )
            if broken.limit is not None:
                parts.append(
                    t.ngettext(
                        "%(rule)s: %(limit)s would take %(num)s placement in this run, with "
                        "room for %(most)s",
                        "%(rule)s: %(limit)s would take %(num)s placements in this run, with "
                        "room for %(most)s",
                        broken.placements,
                        rule=rule,
                        limit=self.limit(broken.limit.code, broken.limit.group),
                        most=broken.room,
                    )
                )
            else:
                parts.append(rule)
        if not parts:
            return alternative.blocked_by or ""
        return t.gettext("Placing the client here would break %(rules)s.", rules="; ".join(parts))

    def _no_eligible_unit(self, u: dict[str, Any]) -> str:
        t = self.t
        alone = u.get("removed_by_rule") or {}
        others = u.get("removed_with_others") or {}
        if not self.total_units:
            return t.gettext("No eligible dwelling at all (there are no dwellings in this run).")
        detail = "; ".join(
            t.gettext(
                "%(rule)s: %(alone)s on its own, %(others)s together with other rules",
                rule=t.gettext(label),
                alone=alone.get(label, 0),
                others=others.get(label, 0),
            )  # fmt: skip
            for label in dict.fromkeys([*alone, *others])
        )
        return t.gettext(
            "No eligible dwelling among the %(total)s (dwellings each rule removes: %(detail)s).",
            total=self.total_units, detail=detail,
        )  # fmt: skip


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
    N_("pinned pairs stay"), N_("composition per group"), N_("spreading over staircases"),
    N_("neighbourhood quota"), N_("support"),
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


def gap_sentence(t: Texts, levels: list[dict[str, Any]]) -> str | None:
    """Why a proposal is not proven best, in the page's language: the first objective level
    that could still improve and by how much at most (``allocator.solver.first_gap``, the
    solver's own bound), or that no bound was found. None when the proposal is proven best."""
    found = first_gap([LevelFacts.model_validate(level) for level in levels])
    if found is None:
        return None
    level, gap = found
    if gap is None:
        return t.gettext("Not proven best: the solver found no bound in its time.")
    amount = t.number(gap)
    if level == "placed":
        return t.ngettext(
            "Not proven best: at most %(amount)s more client could be placed.",
            "Not proven best: at most %(amount)s more clients could be placed.",
            gap,
            amount=amount,
        )
    if level == "waiting_days":
        return t.ngettext(
            "Not proven best: the placed clients' waiting times could add up to at most "
            "%(amount)s more day.",
            "Not proven best: the placed clients' waiting times could add up to at most "
            "%(amount)s more days.",
            gap,
            amount=amount,
        )
    if level == "rank_sum":
        return t.gettext(
            "Not proven best: the placed clients' choice numbers could add up to at most "
            "%(amount)s less.",
            amount=amount,
        )
    return t.gettext(
        "Not proven best: the expected number of accepted offers could be at most %(amount)s "
        "higher.",
        amount=t.number(gap / ACCEPTANCE_SCALE),
    )
