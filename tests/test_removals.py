"""The units each eligibility rule removes for a client (``removed_by_rule`` /
``removed_with_others``), computed for many clients at once by broadcasting the rules' masks,
against a count made pair by pair with the rules' plain (solver-free) views."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from allocator import eligibility, rules
from allocator.columns import build_columns
from allocator.generator import generate
from allocator.rules.base import EligibilityRule


def plain_removals(inst, client_id):
    c = inst.client(client_id)
    alone, shared = Counter(), Counter()
    for u in inst.units:
        failing = [r.label for r in rules.eligibility() if not r.allows(inst, c, u)]
        for label in failing:
            (alone if len(failing) == 1 else shared)[label] += 1
    return dict(alone), dict(shared)


@pytest.mark.parametrize(("seed", "rules_12_15"), [(0, False), (1, False), (2, True)])
def test_many_clients_at_once_match_the_plain_count(seed, rules_12_15, monkeypatch):
    # 90 units: rows that are not a whole number of 8-unit words (see _count_per_row); with rules
    # 12-15, clients with a support provider that works in some municipalities only
    inst = generate(40, 90, 5, seed, national_corporations=1, rules_12_15=rules_12_15)
    assert not rules_12_15 or any(c.support_provider_id for c in inst.clients)
    cols = build_columns(inst)
    # blocks of 3 clients (a last block of 1): block edges are where an off-by-one would hide
    monkeypatch.setattr(eligibility, "_BLOCK_PAIRS", 3 * cols.n_units)
    got = eligibility.removals_of(cols, np.arange(cols.n_clients))
    assert len(got) == cols.n_clients
    for i, c in enumerate(inst.clients):
        assert got[i] == plain_removals(inst, c.id), c.id
    assert any(alone or shared for alone, shared in got)  # the rules do remove units here


def test_every_rule_mask_broadcasts_like_its_pairs():
    """Each registered mask, asked for a block of clients as a column and all units as a row,
    answers what it answers pair by pair (refusals included)."""
    inst = generate(30, 60, 8, 3, rules_12_15=True)
    cols = build_columns(inst)
    assert len(cols.refused_codes)
    ci, ui = np.arange(cols.n_clients), np.arange(cols.n_units)
    for rule in rules.eligibility():
        table = np.broadcast_to(rule.mask(cols, ci[:, None], ui[None, :]), (len(ci), len(ui)))
        flat = rule.mask(cols, np.repeat(ci, len(ui)), np.tile(ui, len(ci)))
        assert np.array_equal(table, flat.reshape(len(ci), len(ui))), rule.name
        # every mask removes something here (support providers working in some municipalities
        # only among them), so equal tables are not equal because they are all True
        assert not table.all(), rule.name


def test_a_mask_that_does_not_broadcast_is_asked_pair_by_pair():
    inst = generate(12, 30, 3, 5)
    cols = build_columns(inst)
    flat_only = EligibilityRule(
        number=92,
        name="even units only",
        label="odd unit",
        # np.array(list(...)) flattens any shape: a mask that only understands pairs
        mask=lambda cols, ci, ui: np.array([int(u) % 2 == 0 for u in np.ravel(ui)]),
        allows=lambda inst, c, u: inst.units.index(u) % 2 == 0,
        why=lambda inst, c, u: "odd",
    )
    with rules.registered(flat_only):
        got = eligibility.removals_of(cols, np.arange(cols.n_clients))
        for i, c in enumerate(inst.clients):
            assert got[i] == plain_removals(inst, c.id), c.id
        assert any("odd unit" in alone or "odd unit" in shared for alone, shared in got)
