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
from allocator.rules import Violation
from allocator.solver import Progress, Solution, SolverSettings, solve
from allocator.validator import validate


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
    #: The rules behind ``blocked_by``, each with its full group limit where it is one
    #: (``Violation.limit``): what a caller words in its own language.
    broken_rules: list[Violation] = field(default_factory=list)
    #: Set when the client holds an accepted offer of another unit: choosing this one withdraws it.
    withdraws: str | None = None

    @property
    def change(self) -> str:
        """The change against the proposal, level by level, in words."""
        return change_in_words(self.delta)


_WORDS = {
    # level: (noun, what "more" means for the proposal)
    "placed": ("client(s) housed", "better"),
    "waiting_days": ("waiting days of the clients housed", "better"),
    "rank_sum": ("preference rank sum (further from first choices)", "worse"),
}


def change_in_words(delta: dict[str, int], levels=("placed", "waiting_days", "rank_sum")) -> str:
    """``{"waiting_days": -1, "rank_sum": -1}`` → "1 fewer waiting days of the clients housed
    (worse); 1 lower preference rank sum ... (better)": a direction for every level."""
    parts = []
    for level in levels:
        d = delta.get(level, 0)
        if not d:
            continue
        noun, more = _WORDS[level]
        less = "worse" if more == "better" else "better"
        if level == "rank_sum":
            amount = f"{abs(d)} {'higher' if d > 0 else 'lower'}"
        else:
            amount = f"{abs(d)} {'more' if d > 0 else 'fewer'}"
        parts.append(f"{amount} {noun} ({more if d > 0 else less})")
    return "; ".join(parts) if parts else "equally good on every level"


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
        unit.staircase_id,  # rule 13: units in different staircases are not interchangeable
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
    own_offer = next((p.unit_id for p in instance.pinned if p.client_id == client_id), None)
    for i, units in enumerate(classes.values()):
        if progress:
            progress(f"candidate {i + 1}/{len(classes)}")
        unit = instance.unit(units[0])
        muni = instance.unit_municipality_id(unit)
        rank = instance.preference_rank(instance.client(client_id), muni)
        # a trial placement: the unit held for this client while the region is re-solved
        trial = instance.with_changes(
            pinned=[*others_pinned, PinnedPair(client_id=client_id, unit_id=unit.id)]
        )
        withdraws = (
            f"choosing this withdraws {client_id}'s accepted offer of unit {own_offer}"
            if own_offer is not None and own_offer not in units
            else None
        )
        broken = [
            v
            for v in validate(instance, [(p.client_id, p.unit_id) for p in trial.pinned])
            if v.rule != 11
        ]
        if broken:
            found.append(
                Alternative(
                    unit.id,
                    muni,
                    rank,
                    None,
                    {},
                    True,
                    units[1:],
                    blocked_by="placing the client here would break "
                    + "; ".join(str(v) for v in broken),
                    broken_rules=broken,
                    withdraws=withdraws,
                )
            )
            continue
        result = solve(trial, settings)
        delta = {
            level: getattr(result.objective, level) - getattr(base.objective, level)
            for level in ("placed", "waiting_days", "rank_sum")
        }
        found.append(
            Alternative(
                unit.id,
                muni,
                rank,
                result.objective,
                delta,
                result.proven,
                units[1:],
                withdraws=withdraws,
            )
        )

    def key(a: Alternative):
        if a.objective is None:
            return (1, (), a.unit_id)
        return (0, tuple(-v for v in a.objective.as_tuple(levels)), a.unit_id)

    found.sort(key=key)
    return base, found[:k]
