"""Re-checks a finished proposal against every rule, without the solver.

Used by ``allocator validate``, by the tests as the independent judge of every optimiser path,
and before solving, to refuse pinned pairs that break a rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from allocator import rules
from allocator.errors import InputIssue, InstanceError
from allocator.models import Instance, ObjectiveValues
from allocator.rules import Pair, Violation


def validate(instance: Instance, pairs: Iterable[Pair]) -> list[Violation]:
    """Every violation of every registered rule (1-15) in the proposal's pairs."""
    pairs = list(pairs)
    found: list[Violation] = []
    known = []
    for client_id, unit_id in pairs:
        missing = [
            f"unknown {noun} {value!r}"
            for noun, table, value in (("client", "clients", client_id), ("unit", "units", unit_id))
            if not instance.has(table, value)
        ]
        if missing:
            found.append(Violation(0, "known ids", "; ".join(missing), client_id, unit_id))
        else:
            known.append((client_id, unit_id))
    for rule in rules.all_rules():
        found.extend(rule.check(instance, known))
    return found


def objective_of(instance: Instance, pairs: Iterable[Pair]) -> ObjectiveValues:
    """The contract's objective values of a set of pairs, computed from the instance alone."""
    placed = waiting = rank_sum = thousandths = 0
    chance = {(e.client_id, e.unit_id): e.probability for e in instance.acceptance}
    for client_id, unit_id in pairs:
        client, unit = instance.client(client_id), instance.unit(unit_id)
        placed += 1
        waiting += instance.waiting_days(client)
        rank_sum += instance.preference_rank(client, instance.unit_municipality_id(unit))
        thousandths += round(1000 * chance.get((client_id, unit_id), 1.0))
    asked = "expected_acceptance" in instance.policy.objective
    return ObjectiveValues(
        placed=placed,
        waiting_days=waiting,
        rank_sum=rank_sum,
        expected_acceptance=thousandths if asked else None,
    )


def pinned_issues(instance: Instance) -> list[InputIssue]:
    """Pinned pairs that break a rule: each is an input error (rule 11)."""
    issues = []
    rows = {(p.client_id, p.unit_id): f"#{i}" for i, p in enumerate(instance.pinned)}
    pairs = list(rows)
    for rule in rules.eligibility():
        for v in rule.check(instance, pairs):
            issues.append(
                InputIssue(
                    "pinned",
                    rows[(v.client_id, v.unit_id)],
                    "unit_id",
                    f"breaks rule {v.rule} ({v.name}): {v.message}",
                )
            )
    for rule in rules.group_limits():
        for v in rule.check(instance, pairs):
            issues.append(
                InputIssue(
                    "pinned",
                    None,
                    None,
                    f"pinned pairs together break rule {v.rule} ({v.name}): {v.message}",
                )
            )
    return issues


def check_pinned(instance: Instance) -> None:
    issues = pinned_issues(instance)
    if issues:
        raise InstanceError(issues)
