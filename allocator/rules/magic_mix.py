"""Rule 10 — Magic Mix: for every complex,
``vulnerable_residents + placements <= floor(share × units_total)``, with ``share`` the complex's
``max_vulnerable_share`` or else the policy's. Every uitstromer counts as vulnerable, so a complex
already at or over its cap takes nobody.

CP-SAT: for each complex, sum of x over pairs of its units <= cap - vulnerable_residents (at
least 0).
Check: count the proposal's placements per complex against the same room.
"""

from __future__ import annotations

from allocator.models import Complex, Instance, mix_cap
from allocator.rules.base import GroupLimit, group_rule, unit_capacities

NUMBER, NAME = 10, "Magic Mix cap"


def cap(instance: Instance, complex_: Complex) -> int:
    return mix_cap(instance.mix_share(complex_), complex_.units_total)


def room(instance: Instance, complex_: Complex) -> int:
    """Placements the complex can still take in this run."""
    return max(0, cap(instance, complex_) - complex_.vulnerable_residents)


def complex_name(instance: Instance, complex_id: str) -> str:
    """A building as coordinators know it: its name, else its id."""
    return instance.complex(complex_id).name or complex_id


def _full_text(instance: Instance, key: str, used: int) -> str:
    cx = instance.complex(key)
    return (
        f"the Magic Mix cap of {complex_name(instance, key)} is reached: "
        f"{cx.vulnerable_residents + used} of {cap(instance, cx)} vulnerable households"
        + (f" ({cx.vulnerable_residents} before this run)" if used else " before this run")
    )


GROUPS = GroupLimit(
    group_of=lambda inst, client, unit: unit.complex_id,
    limit=lambda inst, key: room(inst, inst.complex(key)),
    noun="complex",
    code="mix_cap",
    title=lambda inst, key: f"the Magic Mix cap of {complex_name(inst, key)}",
    full_text=_full_text,
)


RULE = group_rule(
    NUMBER,
    NAME,
    GROUPS,
    lambda cols: unit_capacities(
        cols.unit_complex,
        [room(cols.instance, c) for c in cols.instance.complexes],
        list(cols.complex_ids),
    ),
)
