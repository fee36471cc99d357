"""Fairness of an allocation: justified envy, the spread of waiting, who waits longest.

Justified envy is this domain's stability check: a client ``a`` who is left unplaced, who waited
longer than client ``b``, and who is eligible (rules 2-7, refusals included) for the unit ``b``
was given, where giving that unit to ``a`` instead of ``b`` keeps every cap. The same unit means
the same municipality's quota, corporation's quota, building's Magic Mix cap, staircase and
neighbourhood (rules 8-10, 13, 14); a cap on a group of clients (a group's share of a building,
rule 12; a support provider's places, rule 15) may tell ``a`` and ``b`` apart, so the pair counts
only when ``a``'s group has room left. A pinned pair (an accepted offer) is never envied. The
optimiser may create envy only to place more people (objective level 1 before level 2); first
come, first served creates none; a practice that registers clients in one municipality creates
it across municipalities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator import rules
from allocator.columns import Columns, build_columns
from allocator.eligibility import EligiblePairs, eligible_pairs
from allocator.models import Instance, ProposalFairness

_MAX_LISTED = 10


@dataclass(frozen=True)
class Envy:
    client_id: str  # unplaced, waited longer
    unit_id: str
    holder_id: str  # got the unit, waited less
    days_longer: int


def justified_envy_pairs(
    cols: Columns, pairs: EligiblePairs, assignments: list[tuple[str, str]]
) -> list[Envy]:
    """Every justified-envy pair of an allocation, longest extra wait first."""
    client_ix, unit_ix = cols.client_index(), cols.unit_index()
    holder = np.full(cols.n_units, -1, dtype=np.int64)
    placed = np.zeros(cols.n_clients, dtype=bool)
    for c, u in assignments:
        holder[unit_ix[u]] = client_ix[c]
        placed[client_ix[c]] = True
    pinned = {(unit_ix[p.unit_id]) for p in cols.instance.pinned if p.unit_id in unit_ix}
    held_by = holder[pairs.unit]
    wait = cols.waiting_days
    mask = (held_by >= 0) & ~placed[pairs.client]
    mask &= wait[pairs.client] > np.where(held_by >= 0, wait[np.maximum(held_by, 0)], 0)
    if pinned:
        mask &= ~np.isin(pairs.unit, list(pinned))
    a, u = pairs.client[mask], pairs.unit[mask]
    b = holder[u]
    room = _swap_keeps_client_caps(cols, holder, a, u, b)
    a, u, b = a[room], u[room], b[room]
    out = [
        Envy(cols.client_ids[i], cols.unit_ids[j], cols.client_ids[k], int(wait[i] - wait[k]))
        for i, j, k in zip(a.tolist(), u.tolist(), b.tolist(), strict=True)
    ]
    out.sort(key=lambda e: (-e.days_longer, e.client_id, e.unit_id))
    return out


def _swap_keeps_client_caps(
    cols: Columns, holder: np.ndarray, a: np.ndarray, u: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Per candidate (a takes u from b): whether every cap on a group of clients still holds."""
    keep = np.ones(len(a), dtype=bool)
    held = np.flatnonzero(holder >= 0)
    for rule in rules.group_limits():
        caps = rule.capacities(cols)
        if caps.client_group is None or not np.any(caps.limit >= 0):
            continue
        used = np.bincount(caps.of(holder[held], held), minlength=len(caps.limit))
        mine, theirs = caps.of(a, u), caps.of(b, u)
        limit = caps.limit[mine]
        keep &= (mine == theirs) | (limit < 0) | (used[mine] < limit)
    return keep


def justified_envy(instance: Instance, assignments: list[tuple[str, str]]) -> list[Envy]:
    cols = build_columns(instance)
    return justified_envy_pairs(cols, eligible_pairs(cols), assignments)


def proposal_fairness(
    cols: Columns, pairs: EligiblePairs, assignments: list[tuple[str, str]]
) -> ProposalFairness:
    """The fairness block of a proposal: justified envy, the spread of waiting days of the
    placed across municipalities and target groups, and the longest-waiting unplaced clients."""
    envy = justified_envy_pairs(cols, pairs, assignments)
    inst = cols.instance
    wait = {cid: int(w) for cid, w in zip(cols.client_ids, cols.waiting_days, strict=True)}
    placed = {c for c, _ in assignments}
    by_muni: dict[str, list[int]] = {}
    by_group: dict[str, list[int]] = {}
    for c, u in assignments:
        by_muni.setdefault(inst.unit_municipality_id(inst.unit(u)), []).append(wait[c])
        by_group.setdefault(inst.client(c).target_group, []).append(wait[c])
    waiting = sorted((c for c in cols.client_ids if c not in placed), key=lambda c: -wait[c])
    return ProposalFairness(
        justified_envy=len(envy),
        envy_examples=[
            f"{e.client_id} waited {e.days_longer} days longer than {e.holder_id}, who gets "
            f"{e.unit_id}, and is eligible for it"
            for e in envy[:_MAX_LISTED]
        ],
        median_wait_placed_by_municipality={
            m: float(np.median(v)) for m, v in sorted(by_muni.items())
        },
        median_wait_placed_by_target_group={
            g: float(np.median(v)) for g, v in sorted(by_group.items())
        },
        longest_waiting_unplaced=[
            {"client_id": c, "waiting_days": wait[c]} for c in waiting[:_MAX_LISTED]
        ],
    )
