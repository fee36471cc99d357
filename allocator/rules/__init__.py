"""The hard rules of the allocation contract, one module each, and the registry of them.

Eligibility rules (2-7, rule 15's municipalities) decide which client–unit pairs exist at all;
capacity rules (1, 8-15) constrain the chosen pairs together. Every engine, the validator and the
explanations read the rules from this registry, so a new rule is one module and one ``register``
call (or the ``registered`` context manager, for a rule that lives only for a while, as in tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from allocator.rules import (
    accessible,
    affordable,
    composition,
    corporation_quota,
    household_fits,
    location,
    magic_mix,
    municipal_quota,
    neighbourhood_quota,
    not_refused,
    one_to_one,
    pinned,
    staircases,
    support,
    target_group,
)
from allocator.rules.base import CapacityRule, EligibilityRule, Pair, Violation

Rule = EligibilityRule | CapacityRule

_REGISTERED: list[Rule] = [
    one_to_one.RULE,
    household_fits.RULE,
    affordable.RULE,
    accessible.RULE,
    location.RULE,
    not_refused.RULE,
    target_group.RULE,
    municipal_quota.RULE,
    corporation_quota.RULE,
    magic_mix.RULE,
    pinned.RULE,
    composition.RULE,
    staircases.RULE,
    neighbourhood_quota.RULE,
    support.MASK,
    support.RULE,
]


def register(rule: Rule) -> None:
    """Add a rule: from now on it is enforced, checked and explained."""
    _REGISTERED.append(rule)


def unregister(rule: Rule) -> None:
    _REGISTERED.remove(rule)


@contextmanager
def registered(rule: Rule) -> Iterator[Rule]:
    register(rule)
    try:
        yield rule
    finally:
        unregister(rule)


def all_rules() -> tuple[Rule, ...]:
    """Every rule in the contract's order."""
    return tuple(sorted(_REGISTERED, key=lambda r: r.number))


def eligibility() -> tuple[EligibilityRule, ...]:
    return tuple(r for r in all_rules() if isinstance(r, EligibilityRule))


def capacity() -> tuple[CapacityRule, ...]:
    return tuple(r for r in all_rules() if isinstance(r, CapacityRule))


def group_limits() -> tuple[CapacityRule, ...]:
    """Capacity rules whose groups are named rows (8-10, 12-15): explained and summarised."""
    return tuple(r for r in capacity() if r.groups is not None)


def __getattr__(name: str):
    # The registry's former constants, read at the moment of use.
    views = {
        "ALL": all_rules,
        "ELIGIBILITY": eligibility,
        "CAPACITY": capacity,
        "GROUP_LIMITS": group_limits,
    }
    if name in views:
        return views[name]()
    raise AttributeError(name)


__all__ = [
    "CapacityRule",
    "EligibilityRule",
    "Pair",
    "Rule",
    "Violation",
    "all_rules",
    "capacity",
    "eligibility",
    "group_limits",
    "register",
    "registered",
    "unregister",
]
