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
from dataclasses import dataclass
from typing import get_args

import numpy as np

from allocator import rules
from allocator.alternatives import alternatives
from allocator.columns import Columns
from allocator.eligibility import removed_by_rule
from allocator.fairness import proposal_fairness
from allocator.models import (
    Assignment,
    ComplexSummary,
    CorporationSummary,
    Instance,
    MunicipalitySummary,
    ObjectiveValues,
    Proposal,
    ReasonCode,
    Summaries,
    Unplaced,
    UnplacedReason,
)
from allocator.rules import corporation_quota, magic_mix, municipal_quota
from allocator.solver import Progress, Solution, SolverSettings, solve

_LIMIT_CODES = {
    municipal_quota.NUMBER: "municipality_quota",
    corporation_quota.NUMBER: "corporation_quota",
    magic_mix.NUMBER: "mix_cap",
}
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
        summaries=summaries(instance, solution.assignments),
        fairness=proposal_fairness(cols, pairs, solution.assignments),
    )


def _usage(instance: Instance, assignments: list[tuple[str, str]]) -> dict[int, Counter]:
    """Placements per group, for each rule with named groups (8-10)."""
    used: dict[int, Counter] = {}
    for rule in rules.GROUP_LIMITS:
        used[rule.number] = Counter(
            rule.groups.group_of(instance, instance.unit(unit_id)) for _, unit_id in assignments
        )
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
    "taken_to_place_more": "{n} eligible unit(s) went to clients who waited less but had fewer "
    "options, so that more people could be housed",
    "not_chosen": "{n} eligible unit(s) had room but were not chosen by the objective levels in "
    "use (or the search stopped at its time limit)",
}
_ORDER = list(get_args(ReasonCode))


def _unplaced_all(instance: Instance, solution: Solution) -> list[Unplaced]:
    """Why each client is not placed, judged on whole columns of eligible pairs.

    For every eligible unit of an unplaced client: if someone holds it, who (an accepted offer,
    someone who waited at least as long, or someone whose placement housed more people);
    otherwise which named limit (municipal quota, corporation quota, Magic Mix cap) is used up.
    """
    cols, pairs = solution.columns, solution.pairs
    placed = np.zeros(cols.n_clients, dtype=bool)
    holder = np.full(cols.n_units, -1, dtype=np.int64)
    placed[pairs.client[solution.chosen]] = True
    holder[pairs.unit[solution.chosen]] = pairs.client[solution.chosen]
    pinned_unit = np.zeros(cols.n_units, dtype=bool)
    unit_ix = cols.unit_index()
    for p in instance.pinned:
        pinned_unit[unit_ix[p.unit_id]] = True

    mine = ~placed[pairs.client]
    client, unit = pairs.client[mine], pairs.unit[mine]
    who = holder[unit]
    taken = who >= 0
    waited = cols.waiting_days
    categories = {
        "taken_by_pinned": taken & pinned_unit[unit],
        "taken_by_longer_waiting": taken
        & ~pinned_unit[unit]
        & (waited[np.maximum(who, 0)] >= waited[client]),
    }
    categories["taken_to_place_more"] = (
        taken & ~categories["taken_by_pinned"] & ~categories["taken_by_longer_waiting"]
    )
    blocked_any = np.zeros(len(client), dtype=bool)
    limits = []  # (code, rule, blocked mask, group of each pair)
    for rule in rules.GROUP_LIMITS:
        group_of_unit, limit = rule.unit_group(cols), rule.group_limit(cols)
        used = np.bincount(group_of_unit[pairs.unit[solution.chosen]], minlength=len(limit))
        full = (limit >= 0) & (used >= limit)
        group = group_of_unit[unit]
        blocked = ~taken & full[group]
        blocked_any |= blocked
        limits.append((_LIMIT_CODES[rule.number], rule, blocked, group))
    categories["not_chosen"] = ~taken & ~blocked_any

    counts = {
        code: np.bincount(client[mask], minlength=cols.n_clients)
        for code, mask in categories.items()
    }
    examples = {code: _first_units(client[mask], unit[mask]) for code, mask in categories.items()}
    limit_counts = {}
    limit_names: dict[str, dict[int, list[int]]] = {}
    for code, _rule, blocked, group in limits:
        limit_counts[code] = np.bincount(client[blocked], minlength=cols.n_clients)
        named = np.unique(np.stack([client[blocked], group[blocked]]), axis=1)
        by_client: dict[int, list[int]] = defaultdict(list)
        for c, g in named.T.tolist():
            by_client[c].append(g)
        limit_names[code] = by_client
    group_ids = {
        "municipality_quota": cols.municipality_ids,
        "corporation_quota": cols.corporation_ids,
        "mix_cap": cols.complex_ids,
    }
    eligible = pairs.per_client(cols.n_clients)

    out = []
    for i in np.flatnonzero(~placed).tolist():
        client_ = instance.clients[i]
        if eligible[i] == 0:
            out.append(_no_eligible_unit(instance, cols, i))
            continue
        reasons = [
            UnplacedReason(
                code=code,
                message=_TEXTS[code].format(n=int(counts[code][i])) + ".",
                count=int(counts[code][i]),
                names=[cols.unit_ids[u] for u in examples[code].get(i, [])],
            )
            for code in categories
            if counts[code][i]
        ]
        for code, _rule, _blocked, _group in limits:
            if limit_counts[code][i]:
                names = [group_ids[code][g] for g in limit_names[code][i]]
                n_units = int(limit_counts[code][i])
                reasons.append(
                    UnplacedReason(
                        code=code,
                        message=_limit_text(instance, code, names, n_units),
                        count=n_units,
                        names=names,
                    )
                )
        reasons.sort(key=lambda r: (_ORDER.index(r.code), -r.count))
        out.append(
            Unplaced(
                client_id=client_.id,
                waiting_days=int(waited[i]),
                eligible_units=int(eligible[i]),
                reasons=reasons,
            )
        )
    return out


def _first_units(client: np.ndarray, unit: np.ndarray) -> dict[int, list[int]]:
    """Up to ``_MAX_NAMES`` example units per client, as unit indices."""
    order = np.argsort(client, kind="stable")
    c = client[order]
    run_start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else np.zeros(0, int)
    rank = np.arange(len(c)) - np.repeat(run_start, np.diff(np.r_[run_start, len(c)]))
    keep = order[rank < _MAX_NAMES]
    out: dict[int, list[int]] = defaultdict(list)
    for ci, ui in zip(client[keep].tolist(), unit[keep].tolist(), strict=True):
        out[ci].append(ui)
    return out


def _no_eligible_unit(instance: Instance, cols: Columns, i: int) -> Unplaced:
    client = instance.clients[i]
    removed = {label: n for label, n in removed_by_rule(cols, i).items() if n}
    total = cols.n_units
    detail = "; ".join(f"{label}: {n} of {total}" for label, n in removed.items())
    return Unplaced(
        client_id=client.id,
        waiting_days=int(cols.waiting_days[i]),
        eligible_units=0,
        removed_by_rule=removed,
        reasons=[
            UnplacedReason(
                code="no_eligible_unit",
                message=f"No eligible unit at all ({detail or 'no units in the instance'}).",
                count=total,
            )
        ],
    )


def _limit_text(instance: Instance, code: str, names: list[str], n_units: int) -> str:
    if code == "municipality_quota":
        what = ", ".join(
            f"{instance.municipality(m).name} (quota {instance.municipality(m).quota})"
            for m in names
        )
        return f"Municipal quota used up in {what}: blocks {n_units} eligible unit(s)."
    if code == "corporation_quota":
        what = ", ".join(
            f"{instance.corporation(c).name} (quota {instance.corporation(c).quota})" for c in names
        )
        return f"Corporation quota used up for {what}: blocks {n_units} eligible unit(s)."
    what = ", ".join(names)
    return f"Magic Mix cap reached in complex {what}: blocks {n_units} eligible unit(s)."


def summaries(instance: Instance, assignments: list[tuple[str, str]]) -> Summaries:
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
    )


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
    parts = [f"{level} {d[level]:+d}" for level in instance.policy.objective if d[level]]
    message = (
        f"Placing {client_id} (best in unit {choice.unit_id}) changes the proposal by: "
        + (", ".join(parts) if parts else "nothing on any level")
        + "."
    )
    return ForcedCost(**{**cost.__dict__, "message": message})
