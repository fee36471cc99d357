"""The eleven hard rules of the allocation contract, one module each.

``ELIGIBILITY`` (rules 2-7) decide which client–unit pairs exist at all; ``CAPACITY`` (rules 1,
8-11) constrain the chosen pairs together. ``ALL`` is every rule in the contract's order.
"""

from __future__ import annotations

from allocator.rules import (
    accessible,
    affordable,
    corporation_quota,
    household_fits,
    location,
    magic_mix,
    municipal_quota,
    not_refused,
    one_to_one,
    pinned,
    target_group,
)
from allocator.rules.base import CapacityRule, EligibilityRule, Pair, Violation

ELIGIBILITY: tuple[EligibilityRule, ...] = (
    household_fits.RULE,
    affordable.RULE,
    accessible.RULE,
    location.RULE,
    not_refused.RULE,
    target_group.RULE,
)
CAPACITY: tuple[CapacityRule, ...] = (
    one_to_one.RULE,
    municipal_quota.RULE,
    corporation_quota.RULE,
    magic_mix.RULE,
    pinned.RULE,
)
#: Rules 8-10: capacity rules whose groups are named rows (for explanations and summaries).
GROUP_LIMITS: tuple[CapacityRule, ...] = tuple(r for r in CAPACITY if r.groups is not None)
ALL = tuple(sorted((*ELIGIBILITY, *CAPACITY), key=lambda r: r.number))

__all__ = [
    "ALL",
    "CAPACITY",
    "ELIGIBILITY",
    "GROUP_LIMITS",
    "CapacityRule",
    "EligibilityRule",
    "Pair",
    "Violation",
]
