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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from allocator import rules
from allocator.columns import Columns
from allocator.eligibility import removed_by_rule
from allocator.models import (
    Assignment,
    ComplexSummary,
    CorporationSummary,
    Instance,
    MunicipalitySummary,
    ObjectiveValues,
    Proposal,
    Summaries,
    Unplaced,
    UnplacedReason,
)
from allocator.rules import corporation_quota, magic_mix, municipal_quota
from allocator.solver import Infeasible, Progress, Solution, SolverSettings, solve
from allocator.variables import AllocationVars

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
    taken_by = {u: c for c, u in solution.assignments}
    pinned = {(p.client_id, p.unit_id) for p in instance.pinned}
    placed = {c for c, _ in solution.assignments}
    used = _usage(instance, solution.assignments)

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

    units_of_client = _units_by_client(solution)
    unplaced = []
    for i, client in enumerate(instance.clients):
        if client.id in placed:
            continue
        unplaced.append(
            _unplaced(instance, cols, i, units_of_client.get(i, []), taken_by, pinned, used)
        )
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
    )


def _units_by_client(solution: Solution) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for c, u in zip(solution.pairs.client.tolist(), solution.pairs.unit.tolist(), strict=True):
        out[c].append(u)
    return out


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


def _unplaced(
    instance: Instance,
    cols: Columns,
    client_index: int,
    eligible_units: list[int],
    taken_by: dict[str, str],
    pinned: set[tuple[str, str]],
    used: dict[int, Counter],
) -> Unplaced:
    client = instance.clients[client_index]
    waited = instance.waiting_days(client)
    if not eligible_units:
        removed = {label: n for label, n in removed_by_rule(cols, client_index).items() if n}
        total = cols.n_units
        detail = "; ".join(f"{label}: {n} of {total}" for label, n in removed.items())
        return Unplaced(
            client_id=client.id,
            waiting_days=waited,
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

    blocked: dict[str, list[str]] = defaultdict(list)
    for u in eligible_units:
        unit = instance.unit(cols.unit_ids[u])
        holder = taken_by.get(unit.id)
        if holder is not None:
            if (holder, unit.id) in pinned:
                blocked["taken_by_pinned"].append(unit.id)
            elif instance.waiting_days(instance.client(holder)) >= waited:
                blocked["taken_by_longer_waiting"].append(unit.id)
            else:
                blocked["taken_to_place_more"].append(unit.id)
            continue
        full = False
        for rule in rules.GROUP_LIMITS:
            key = rule.groups.group_of(instance, unit)
            limit = rule.groups.limit(instance, key) if key is not None else None
            if limit is not None and used[rule.number][key] >= limit:
                blocked[f"{_LIMIT_CODES[rule.number]}:{key}"].append(unit.id)
                full = True
        if not full:
            blocked["not_chosen"].append(unit.id)

    return Unplaced(
        client_id=client.id,
        waiting_days=waited,
        eligible_units=len(eligible_units),
        reasons=_reasons(instance, blocked, used),
    )


def _reasons(instance: Instance, blocked: dict[str, list[str]], used) -> list[UnplacedReason]:
    texts = {
        "taken_by_pinned": "{n} eligible unit(s) hold an accepted offer (pinned)",
        "taken_by_longer_waiting": "{n} eligible unit(s) went to clients who waited at least as "
        "long",
        "taken_to_place_more": "{n} eligible unit(s) went to clients who waited less but had fewer "
        "options, so that more people could be housed",
        "not_chosen": "{n} eligible unit(s) had room but were not chosen by the objective levels "
        "in use (or the search stopped at its time limit)",
    }
    limits: dict[str, tuple[str, list[str], list[str]]] = {}
    reasons = []
    for key, units in blocked.items():
        if key in texts:
            reasons.append(
                UnplacedReason(
                    code=key,
                    message=texts[key].format(n=len(units)) + ".",
                    count=len(units),
                    names=units[:_MAX_NAMES],
                )
            )
            continue
        code, group = key.split(":", 1)
        _, names, all_units = limits.setdefault(code, (code, [], []))
        names.append(group)
        all_units.extend(units)
    for code, (_, names, units) in limits.items():
        reasons.append(
            UnplacedReason(
                code=code,
                message=_limit_text(instance, code, names, len(set(units))),
                count=len(set(units)),
                names=names,
            )
        )
    order = [
        "taken_by_longer_waiting",
        "taken_to_place_more",
        "taken_by_pinned",
        "municipality_quota",
        "corporation_quota",
        "mix_cap",
        "not_chosen",
    ]
    reasons.sort(key=lambda r: (order.index(r.code), -r.count))
    return reasons


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


def forced_in(
    client_index: int, unit_index: int | None = None
) -> Callable[[Columns, AllocationVars], None]:
    """A ``constrain`` hook for ``solve``: the client must be placed (in that unit, if given)."""

    def constrain(cols: Columns, variables: AllocationVars) -> None:
        mine = np.flatnonzero(variables.client == client_index)
        if unit_index is not None:
            mine = mine[variables.unit[mine] == unit_index]
        if len(mine) == 0:
            raise Infeasible("the client has no eligible unit")
        variables.model.add(cp_model.LinearExpr.sum([variables.x[p] for p in mine]) == 1)

    return constrain


def forced_cost(
    instance: Instance,
    client_id: str,
    base: Solution,
    settings: SolverSettings | None = None,
) -> ForcedCost:
    """What placing ``client_id`` would cost the rest of the proposal (a re-solve)."""
    index = base.columns.client_index()[client_id]
    try:
        forced = solve(instance, settings, constrain=forced_in(index))
    except Infeasible as exc:
        return ForcedCost(
            client_id,
            False,
            base.objective,
            None,
            None,
            True,
            f"Cannot be placed without breaking a rule: {exc}.",
        )
    unit_id = dict(forced.assignments).get(client_id)
    cost = ForcedCost(
        client_id,
        True,
        base.objective,
        forced.objective,
        unit_id,
        forced.proven and base.proven,
        "",
    )
    d = cost.delta()
    parts = [f"{level} {d[level]:+d}" for level in instance.policy.objective if d[level]]
    message = (
        f"Placing {client_id} (best in unit {unit_id}) changes the proposal by: "
        + (", ".join(parts) if parts else "nothing on any level")
        + "."
    )
    return ForcedCost(**{**cost.__dict__, "message": message})
