"""Turns a solution into the contract's proposal: a reason for every line, and summaries.

A placed client's line says where, at which preference rank, after how long, out of how many
eligible units. An unplaced client's line says why: no eligible unit at all (with how many units
each rule removed), or, unit by unit, what stood in the way in the final allocation: the unit went
to someone who waited longer (or whose placement let more people be housed), or a named
municipality quota, corporation quota or complex Magic Mix cap was used up. ``forced_cost``
goes one step further for a single client: it re-solves with that client forced in and reports
what the rest of the proposal would lose.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from allocator import rules
from allocator.alternatives import alternatives, change_in_words
from allocator.columns import Columns, build_columns
from allocator.eligibility import removals_of
from allocator.fairness import proposal_fairness
from allocator.models import (
    Assignment,
    ComplexSummary,
    CorporationSummary,
    Instance,
    LimitRef,
    LimitSummary,
    MunicipalitySummary,
    ObjectiveValues,
    Proposal,
    Summaries,
    Unplaced,
    UnplacedReason,
)
from allocator.rules import corporation_quota, magic_mix, municipal_quota
from allocator.solver import Progress, Solution, SolverSettings, solve

_MAX_NAMES = 10


def propose(
    instance: Instance, settings: SolverSettings | None = None, progress: Progress | None = None
) -> Proposal:
    """Solve and explain: the contract's proposal for ``instance``."""
    return make_proposal(instance, solve(instance, settings, progress=progress))


def make_proposal(instance: Instance, solution: Solution) -> Proposal:
    cols, pairs = solution.columns, solution.pairs
    eligible = pairs.per_client(cols.n_clients)
    pinned = {(p.client_id, p.unit_id) for p in instance.pinned}

    assignments = []
    client_ix = cols.client_index()
    for client_id, unit_id in solution.assignments:
        client, unit = instance.client(client_id), instance.unit(unit_id)
        muni_id = instance.unit_municipality_id(unit)
        rank = instance.preference_rank(client, muni_id)
        n_eligible = int(eligible[client_ix[client_id]])
        assignments.append(
            Assignment(
                client_id=client_id,
                unit_id=unit_id,
                municipality_id=muni_id,
                complex_id=unit.complex_id,
                corporation_id=unit.corporation_id,
                pinned=(client_id, unit_id) in pinned,
                waiting_days=instance.waiting_days(client),
                preference_rank=rank,
                eligible_units=n_eligible,
                explanation=_placed_text(
                    instance, client, muni_id, rank, n_eligible, (client_id, unit_id) in pinned
                ),
            )
        )

    unplaced = _unplaced_all(instance, solution)
    unplaced.sort(key=lambda u: (-u.waiting_days, u.client_id))
    assignments.sort(key=lambda a: a.client_id)

    return Proposal(
        status="optimal" if solution.proven else "feasible",
        proven=solution.proven,
        reference_date=instance.reference_date(),
        objective_levels=list(instance.policy.objective),
        assignments=assignments,
        unplaced=unplaced,
        objective=solution.objective,
        solver=solution.facts,
        summaries=summaries(instance, solution.assignments, solution.columns),
        fairness=proposal_fairness(cols, pairs, solution.assignments),
    )


def _usage(instance: Instance, assignments: list[tuple[str, str]]) -> dict[int, Counter]:
    """Placements per group, for each group limit."""
    used: dict[int, Counter] = {}
    placed = [(instance.client(c), instance.unit(u)) for c, u in assignments]  # looked up once
    for rule in rules.group_limits():
        group_of = rule.groups.group_of
        used[rule.number] = Counter(group_of(instance, client, unit) for client, unit in placed)
    return used


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _placed_text(instance, client, muni_id, rank, n_eligible, is_pinned) -> str:
    name = instance.municipality(muni_id).name
    if client.preferred_municipalities:
        where = f"{name}, {_ordinal(rank)} choice of {len(client.preferred_municipalities)}"
    else:
        where = f"{name} (no preference given)"
    head = "Accepted offer kept (pinned)" if is_pinned else "Placed"
    return (
        f"{head}: {where}; waited {instance.waiting_days(client)} days; "
        f"{n_eligible} eligible unit(s)."
    )


_TEXTS = {
    "taken_by_pinned": "{n} eligible unit(s) hold an accepted offer (pinned)",
    "taken_by_longer_waiting": "{n} eligible unit(s) went to clients who waited at least as long",
    "equally_good": "an equally good proposal could place you instead of {who} "
    "(same waiting time and preference rank; the tie was broken against you)",
    "taken_to_place_more": "{n} eligible unit(s) went to clients who waited less but had fewer "
    "options, so that more people could be housed",
    "not_chosen": "{n} eligible unit(s) had room but were not chosen by the objective levels in "
    "use (or the search stopped at its time limit)",
}
#: The order of the reasons that are not a limit; limits come between them, ranked.
_FIRST = ("cannot_be_placed", "closed_before_run", "taken_by_pinned", "equally_good")
_LAST = ("taken_by_longer_waiting", "taken_to_place_more", "blocked_together", "not_chosen")
_ORDER = {code: k for k, code in enumerate(_FIRST)} | {
    code: 1000 + k for k, code in enumerate(_LAST)
}


@dataclass
class _Limit:
    """One registered group limit in columns, against the final allocation."""

    rule: object
    group: np.ndarray  # group of each unplaced client's eligible pair
    closed: np.ndarray  # per pair: the group had no room before the run
    full: np.ndarray  # per pair: the group is full in the proposal
    used: np.ndarray  # placements of the run per group
    keys: list
    #: A group's sentence and name, worded once: at national scale thousands of unplaced
    #: clients name the same few thousand full groups (tens of thousands of sentences).
    _texts: dict = field(default_factory=dict, repr=False)
    _labels: dict = field(default_factory=dict, repr=False)

    def full_text(self, instance: Instance, g: int, used: int) -> str:
        if (g, used) not in self._texts:
            self._texts[g, used] = self.rule.groups.full_text(instance, self.keys[g], used)
        return self._texts[g, used]

    def label(self, g: int) -> str:
        if g not in self._labels:
            self._labels[g] = self.rule.groups.label(self.keys[g])
        return self._labels[g]


def _limits(cols: Columns, pairs, chosen, client, unit) -> list[_Limit]:
    out = []
    for rule in rules.group_limits():
        c = rule.capacities(cols)
        used = np.bincount(c.of(pairs.client[chosen], pairs.unit[chosen]), minlength=len(c.limit))
        group = c.of(client, unit)
        limited = c.limit[group] >= 0
        out.append(
            _Limit(
                rule,
                group,
                limited & (c.limit[group] == 0),
                limited & (used[group] >= c.limit[group]),
                used,
                c.keys,
            )
        )
    return out


def _unplaced_all(instance: Instance, solution: Solution) -> list[Unplaced]:
    """Why each client is not placed, judged on whole columns of eligible pairs.

    Every eligible unit of an unplaced client falls in exactly one class, so the counts add up to
    the eligible units: closed before the run (a limit without room from the start); held by
    someone (an accepted offer, someone an equally good proposal could swap with this client,
    someone who waited at least as long, someone whose placement housed more people); blocked by
    one full limit alone (raising that limit alone opens the unit); blocked by several full
    limits together (raising one alone opens nothing); or not chosen.
    """
    cols, pairs = solution.columns, solution.pairs
    chosen = solution.chosen
    placed = np.zeros(cols.n_clients, dtype=bool)
    holder = np.full(cols.n_units, -1, dtype=np.int64)
    placed[pairs.client[chosen]] = True
    holder[pairs.unit[chosen]] = pairs.client[chosen]
    pinned_unit = np.zeros(cols.n_units, dtype=bool)
    unit_ix = cols.unit_index()
    for p in instance.pinned:
        pinned_unit[unit_ix[p.unit_id]] = True

    mine = ~placed[pairs.client]
    client, unit = pairs.client[mine], pairs.unit[mine]
    limits = _limits(cols, pairs, chosen, client, unit)
    closed = np.zeros(len(client), dtype=bool)
    n_full = np.zeros(len(client), dtype=np.int64)
    for lim in limits:
        closed |= lim.closed
        n_full += lim.full
    who = holder[unit]
    taken = (who >= 0) & ~closed
    holder_ = np.maximum(who, 0)
    waited = cols.waiting_days
    tie = taken & ~pinned_unit[unit] & _swappable(instance, cols, limits, client, unit, holder_)
    classes = {
        "closed_before_run": closed,
        "taken_by_pinned": taken & pinned_unit[unit],
        "equally_good": tie,
        "taken_by_longer_waiting": taken
        & ~pinned_unit[unit]
        & ~tie
        & (waited[holder_] >= waited[client]),
    }
    classes["taken_to_place_more"] = (
        taken & ~pinned_unit[unit] & ~tie & (waited[holder_] < waited[client])
    )
    open_ = ~closed & ~taken
    classes["blocked_together"] = open_ & (n_full >= 2)
    classes["not_chosen"] = open_ & (n_full == 0)
    alone = open_ & (n_full == 1)

    per_client = {code: _by_client(client[mask], unit[mask]) for code, mask in classes.items()}
    eligible = pairs.per_client(cols.n_clients)
    # ``client`` is sorted (pairs run client by client): each client's pairs are one slice
    starts = np.searchsorted(client, np.arange(cols.n_clients + 1))
    unplaced = np.flatnonzero(~placed)
    removed = dict(zip(unplaced.tolist(), removals_of(cols, unplaced), strict=True))
    closed_groups = [
        _groups_by_client(client, lim.group, classes["closed_before_run"] & lim.closed)
        for lim in limits
    ]
    together = classes["blocked_together"]
    full_groups = [
        _groups_by_client(client, lim.group, (alone | together) & lim.full, alone, together)
        for lim in limits
    ]
    out = []
    for i in unplaced.tolist():
        if eligible[i] == 0:
            out.append(_no_eligible_unit(instance, cols, i, removed[i]))
            continue
        mine_i = slice(starts[i], starts[i + 1])
        closed_why, closed_by = _closed_why(instance, limits, [g.get(i, ()) for g in closed_groups])
        reasons = _class_reasons(cols, per_client, holder, i, closed_why, closed_by)
        reasons += _limit_reasons(
            instance, limits, [g.get(i, ()) for g in full_groups], int(together[mine_i].sum())
        )
        n_closed = len(per_client["closed_before_run"].get(i, []))
        if n_closed and n_closed == eligible[i]:
            first = next(r for r in reasons if r.code == "closed_before_run")
            first.code = "cannot_be_placed"
            first.message = "Cannot be placed in this run: all " + first.message
        reasons.sort(key=lambda r: (_ORDER.get(r.code, 500), -r.count))
        out.append(
            Unplaced(
                client_id=cols.client_ids[i],
                waiting_days=int(waited[i]),
                eligible_units=int(eligible[i]),
                removed_by_rule=removed[i][0],
                removed_with_others=removed[i][1],
                reasons=reasons,
            )
        )
    return out


def _swappable(instance, cols, limits, client, unit, other) -> np.ndarray:
    """Per pair: giving the unit to this client instead of its holder changes no objective level
    in use and keeps every limit (a cap on a group of clients may not have room for this one)."""
    same = np.ones(len(client), dtype=bool)
    for level in instance.policy.objective:
        if level == "waiting_days":
            same &= cols.waiting_days[client] == cols.waiting_days[other]
        elif level == "rank_sum":
            same &= cols.rank_of(client, unit) == cols.rank_of(other, unit)
    for lim in limits:
        c = lim.rule.capacities(cols)
        theirs = c.of(other, unit)
        room = (c.limit[lim.group] < 0) | (lim.used[lim.group] < c.limit[lim.group])
        same &= (lim.group == theirs) | room
    return same


def _by_client(client: np.ndarray, unit: np.ndarray) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for ci, ui in zip(client.tolist(), unit.tolist(), strict=True):
        out[ci].append(ui)
    return out


def _class_reasons(cols, per_client, holder, i, closed_why, closed_by) -> list[UnplacedReason]:
    reasons = []
    for code, by_client in per_client.items():
        units = by_client.get(i, [])
        if not units or code == "blocked_together":
            continue
        names = [cols.unit_ids[u] for u in units[:_MAX_NAMES]]
        if code == "closed_before_run":
            message = (
                f"{len(units)} eligible unit(s) have no room from the start of this run: "
                + "; ".join(sorted(closed_why))
                + "."
            )
        elif code == "equally_good":
            who = ", ".join(
                f"{cols.client_ids[holder[u]]} (unit {cols.unit_ids[u]})"
                for u in units[:_MAX_NAMES]
            )
            message = _TEXTS[code].format(who=who) + "."
            message = message[0].upper() + message[1:]
        else:
            message = _TEXTS[code].format(n=len(units)) + "."
        reasons.append(
            UnplacedReason(
                code=code,
                message=message,
                count=len(units),
                names=names,
                closed_by=closed_by if code == "closed_before_run" else [],
            )
        )
    return reasons


def _groups_by_client(
    client: np.ndarray, group: np.ndarray, mask: np.ndarray, *counted: np.ndarray
) -> dict[int, list[tuple[int, ...]]]:
    """Per client, the groups of its pairs under ``mask`` in ascending order, each with the
    number of its pairs under each of ``counted``: one sort for all clients, where a
    ``np.unique`` per client and limit cost seconds at national scale."""
    at = np.flatnonzero(mask)
    if len(at) == 0:
        return {}
    width = int(group.max()) + 1
    keys, inverse = np.unique(client[at] * width + group[at], return_inverse=True)
    counts = [np.bincount(inverse, weights=c[at], minlength=len(keys)).astype(np.int64)
              for c in counted]  # fmt: skip
    out: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for k, key in enumerate(keys.tolist()):
        out[key // width].append((key % width, *(int(c[k]) for c in counts)))
    return out


def _closed_why(
    instance: Instance, limits: list[_Limit], groups: list
) -> tuple[set[str], list[LimitRef]]:
    """The limits that leave a client's pairs without room before the run (``groups``: per
    limit, the client's groups that are closed), in words and by name (so that a page can say
    them in its own language)."""
    why, by = set(), []
    for lim, closed in zip(limits, groups, strict=True):
        for g, *_ in closed:
            why.add(lim.full_text(instance, g, 0))
            by.append(LimitRef(code=lim.rule.groups.code, group=lim.label(g)))
    return why, by


def _limit_reasons(instance, limits, groups, n_together) -> list[UnplacedReason]:
    """One reason per full limit of this client's units (``groups``: per limit, the client's
    full groups with the units each blocks alone and together with others), ranked by the
    units raising that limit alone would open; limits that decide only together with others
    are said to."""
    reasons = []
    for lim, full in zip(limits, groups, strict=True):
        for g, n_alone, n_with in full:
            text = lim.full_text(instance, g, int(lim.used[g]))
            if n_alone:
                text += f". It alone blocks {n_alone} eligible unit(s): raising it would open them"
                if n_with:
                    text += f"; it blocks {n_with} more only together with other limits"
            else:
                text += (
                    f". Raising it alone opens no unit: it blocks {n_with} eligible unit(s) "
                    "only together with other limits"
                )
            reasons.append(
                UnplacedReason(
                    code=lim.rule.groups.code,
                    message=text[0].upper() + text[1:] + ".",
                    count=n_alone,
                    together=n_with,
                    names=[lim.label(g)],
                )
            )
    if n_together:
        reasons.append(
            UnplacedReason(
                code="blocked_together",
                message=f"{n_together} eligible unit(s) are blocked by several full limits at "
                "once: raising any one of them alone opens none of these.",
                count=n_together,
                names=[],
            )
        )
    reasons.sort(key=lambda r: (-r.count, -r.together))
    return reasons


def _no_eligible_unit(
    instance: Instance, cols: Columns, i: int, removed: tuple[dict[str, int], dict[str, int]]
) -> Unplaced:
    client = instance.clients[i]
    alone, others = removed
    total = cols.n_units
    parts = []
    for label in dict.fromkeys([*alone, *others]):
        parts.append(
            f"{label}: {alone.get(label, 0)} on its own, {others.get(label, 0)} "
            "together with other rules"
        )
    detail = "; ".join(parts)
    return Unplaced(
        client_id=client.id,
        waiting_days=int(cols.waiting_days[i]),
        eligible_units=0,
        removed_by_rule=alone,
        removed_with_others=others,
        reasons=[
            UnplacedReason(
                code="no_eligible_unit",
                message=(
                    f"No eligible unit among the {total}. Units each rule removes: {detail}."
                    if total
                    else "No eligible unit at all (no units in the instance)."
                ),
                count=total,
            )
        ],
    )


def summaries(
    instance: Instance, assignments: list[tuple[str, str]], cols: Columns | None = None
) -> Summaries:
    used = _usage(instance, assignments)
    return Summaries(
        municipalities=[
            MunicipalitySummary(
                municipality_id=m.id,
                name=m.name,
                quota=m.quota,
                used=used[municipal_quota.NUMBER][m.id],
                left=m.quota - used[municipal_quota.NUMBER][m.id],
            )
            for m in instance.municipalities
        ],
        corporations=[
            CorporationSummary(
                corporation_id=c.id,
                name=c.name,
                quota=c.quota,
                used=used[corporation_quota.NUMBER][c.id],
                left=None if c.quota is None else c.quota - used[corporation_quota.NUMBER][c.id],
            )
            for c in instance.corporations
        ],
        complexes=[
            ComplexSummary(
                complex_id=cx.id,
                municipality_id=cx.municipality_id,
                units_total=cx.units_total,
                cap=magic_mix.mix_cap(instance.mix_share(cx), cx.units_total),
                vulnerable_before=cx.vulnerable_residents,
                vulnerable_after=cx.vulnerable_residents + used[magic_mix.NUMBER][cx.id],
            )
            for cx in instance.complexes
        ],
        limits=_limit_summaries(instance, used, cols or build_columns(instance)),
    )


#: Rules 8-10 have summaries of their own above.
_OWN_SUMMARY = (municipal_quota.NUMBER, corporation_quota.NUMBER, magic_mix.NUMBER)


def _limit_summaries(
    instance: Instance, used: dict[int, Counter], cols: Columns
) -> list[LimitSummary]:
    """Every other group limit's groups: room at the start of the run, used, left. Groups a
    rule covers come from the instance (every capped group share, staircase, neighbourhood and
    support place), so an unused group shows too."""
    out = []
    for rule in rules.group_limits():
        if rule.number in _OWN_SUMMARY:
            continue
        c = rule.capacities(cols)
        for g, key in enumerate(c.keys):
            if key is None or c.limit[g] < 0:
                continue
            n = used[rule.number].get(key, 0)
            out.append(
                LimitSummary(
                    rule=rule.number,
                    code=rule.groups.code,
                    group=rule.groups.label(key),
                    title=rule.groups.title(instance, key),
                    room=int(c.limit[g]),
                    used=n,
                    left=int(c.limit[g]) - n,
                )
            )
    return out


# ----------------------------------------------------------------------------------------------
# Forcing one client in


@dataclass(frozen=True)
class ForcedCost:
    client_id: str
    possible: bool
    base: ObjectiveValues
    forced: ObjectiveValues | None
    unit_id: str | None
    proven: bool
    message: str

    def delta(self) -> dict[str, int]:
        if self.forced is None:
            return {}
        return {
            level: getattr(self.forced, level) - getattr(self.base, level)
            for level in ("placed", "waiting_days", "rank_sum")
        }


def forced_cost(
    instance: Instance,
    client_id: str,
    base: Solution,
    settings: SolverSettings | None = None,
) -> ForcedCost:
    """What placing ``client_id`` would cost the rest of the proposal: the best of its units,
    each pinned to it in turn with the whole region re-solved (see ``alternatives``)."""
    _, best = alternatives(instance, client_id, k=1, settings=settings, base=base)
    if not best or best[0].objective is None:
        reason = best[0].blocked_by if best else "the client has no eligible unit"
        return ForcedCost(
            client_id,
            False,
            base.objective,
            None,
            None,
            True,
            f"Cannot be placed without breaking a rule: {reason}.",
        )
    choice = best[0]
    cost = ForcedCost(
        client_id,
        True,
        base.objective,
        choice.objective,
        choice.unit_id,
        choice.proven and base.proven,
        "",
    )
    d = cost.delta()
    message = (
        f"Placing {client_id} (best in unit {choice.unit_id}) changes the proposal: "
        + change_in_words(d, instance.policy.objective)
        + "."
    )
    return ForcedCost(**{**cost.__dict__, "message": message})
