"""The coordinator's choice: the k best units for one client and what each costs the others.

Each candidate unit is pinned to the client and the whole region re-solved; the change in every
objective level against the unconstrained proposal is the price of that choice. Units that are
interchangeable for every client (same complex, corporation, rent, size, access, reservation and
refusals) give the same price, so one representative of each such class is solved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from allocator.models import Instance, ObjectiveValues, PinnedPair, Unit
from allocator.solver import Progress, Solution, SolverSettings, solve
from allocator.validator import pinned_issues


@dataclass(frozen=True)
class Alternative:
    unit_id: str
    municipality_id: str
    preference_rank: int
    objective: ObjectiveValues | None
    delta: dict[str, int]
    proven: bool
    same_as: list[str] = field(default_factory=list)
    blocked_by: str | None = None


def _unit_class(instance: Instance, unit: Unit, refusers: dict[str, frozenset[str]]) -> tuple:
    return (
        unit.complex_id,
        unit.corporation_id,
        unit.rooms,
        unit.rent,
        unit.accessible,
        unit.min_occupants,
        unit.max_occupants,
        tuple(sorted(unit.allowed_groups or ())),
        refusers.get(unit.id, frozenset()),
    )


def alternatives(
    instance: Instance,
    client_id: str,
    k: int = 3,
    settings: SolverSettings | None = None,
    base: Solution | None = None,
    progress: Progress | None = None,
) -> tuple[Solution, list[Alternative]]:
    """The base solution and up to ``k`` best units for ``client_id``, best first."""
    base = base or solve(instance, settings)
    cols = base.columns
    me = cols.client_index()[client_id]
    mine = [int(u) for c, u in zip(base.pairs.client, base.pairs.unit, strict=True) if c == me]
    pinned_units = {p.unit_id: p.client_id for p in instance.pinned}
    others_pinned = [p for p in instance.pinned if p.client_id != client_id]

    refusers: dict[str, set[str]] = defaultdict(set)
    for c in instance.clients:
        for r in c.refused_units:
            refusers[r].add(c.id)
    frozen = {u: frozenset(s) for u, s in refusers.items()}
    classes: dict[tuple, list[str]] = {}
    for u in mine:
        unit = instance.unit(cols.unit_ids[u])
        if pinned_units.get(unit.id, client_id) != client_id:
            continue  # holds someone else's accepted offer
        classes.setdefault(_unit_class(instance, unit, frozen), []).append(unit.id)

    found = []
    levels = instance.policy.objective
    for i, units in enumerate(classes.values()):
        if progress:
            progress(f"candidate {i + 1}/{len(classes)}")
        unit = instance.unit(units[0])
        muni = instance.unit_municipality_id(unit)
        rank = instance.preference_rank(instance.client(client_id), muni)
        trial = instance.with_changes(
            pinned=[*others_pinned, PinnedPair(client_id=client_id, unit_id=unit.id)]
        )
        issues = pinned_issues(trial)
        if issues:
            found.append(
                Alternative(
                    unit.id,
                    muni,
                    rank,
                    None,
                    {},
                    True,
                    units[1:],
                    blocked_by="; ".join(i.message for i in issues),
                )
            )
            continue
        result = solve(trial, settings)
        delta = {
            level: getattr(result.objective, level) - getattr(base.objective, level)
            for level in ("placed", "waiting_days", "rank_sum")
        }
        found.append(
            Alternative(unit.id, muni, rank, result.objective, delta, result.proven, units[1:])
        )

    def key(a: Alternative):
        if a.objective is None:
            return (1, (), a.unit_id)
        return (0, tuple(-v for v in a.objective.as_tuple(levels)), a.unit_id)

    found.sort(key=key)
    return base, found[:k]
