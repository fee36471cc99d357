"""A columnar (numpy) view of an instance, so rules can test whole columns of pairs at once.

Every table becomes integer-indexed arrays; client × municipality facts (preference rank,
exclusion) become small dense matrices: with K municipalities that is N × K, never N × M.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allocator.models import Instance


@dataclass(frozen=True)
class Columns:
    instance: Instance
    client_ids: list[str]
    unit_ids: list[str]
    municipality_ids: list[str]
    corporation_ids: list[str]
    complex_ids: list[str]
    groups: list[str]
    # clients (length N)
    household: np.ndarray
    max_rent: np.ndarray  # +inf where unset
    needs_accessible: np.ndarray
    group: np.ndarray  # index into `groups`
    waiting_days: np.ndarray
    has_preferences: np.ndarray
    # client × municipality (N × K)
    preference_rank: np.ndarray  # 1-based rank, 0 where not listed
    excluded: np.ndarray
    # units (length M)
    unit_complex: np.ndarray
    unit_municipality: np.ndarray
    unit_corporation: np.ndarray
    rent: np.ndarray
    accessible: np.ndarray
    min_occupants: np.ndarray
    max_occupants: np.ndarray
    unit_groups: np.ndarray  # M × G: True where the unit admits that group
    # refusals as sorted pair codes client * M + unit
    refused_codes: np.ndarray
    #: Arrays a rule derives from the instance once per run (see ``cached``).
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def cached(self, key: str, build: Callable[[Columns], Any]) -> Any:
        """``build(self)``, computed once: rules keep their own columns here."""
        if key not in self.derived:
            self.derived[key] = build(self)
        return self.derived[key]

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    def client_index(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.client_ids)}

    def unit_index(self) -> dict[str, int]:
        return {uid: i for i, uid in enumerate(self.unit_ids)}

    def rank_of(self, ci: np.ndarray, ui: np.ndarray) -> np.ndarray:
        """Preference rank of each pair's municipality (1 for a client without preferences)."""
        rank = self.preference_rank[ci, self.unit_municipality[ui]].astype(np.int64)
        return np.where(self.has_preferences[ci], rank, 1)


def pick(table: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``table[rows, columns]`` with numpy broadcasting, for the rules' masks.

    A block of clients × units (``rows`` a column, ``columns`` a row, as the explanations ask
    for every unit at once) is read whole rows first and then one ``take`` per row: 4× faster
    than numpy's general fancy indexing of two broadcast index arrays, which at national scale
    costs seconds."""
    rows, columns = np.asarray(rows), np.asarray(columns)
    if rows.ndim == 2 and columns.ndim == 2 and rows.shape[1] == 1 and columns.shape[0] == 1:
        return table[rows[:, 0]].take(columns[0], axis=1)
    return table[rows, columns]


def build_columns(instance: Instance) -> Columns:
    muni_ids = [m.id for m in instance.municipalities]
    corp_ids = [c.id for c in instance.corporations]
    complex_ids = [c.id for c in instance.complexes]
    muni_ix = {m: i for i, m in enumerate(muni_ids)}
    corp_ix = {c: i for i, c in enumerate(corp_ids)}
    complex_ix = {c: i for i, c in enumerate(complex_ids)}
    clients, units = instance.clients, instance.units
    n, m, k = len(clients), len(units), len(muni_ids)

    groups = sorted(
        {c.target_group for c in clients} | {g for u in units for g in (u.allowed_groups or [])}
    )
    group_ix = {g: i for i, g in enumerate(groups)}
    reference = instance.reference_date()

    preference_rank = np.zeros((n, k), dtype=np.int16)
    excluded = np.zeros((n, k), dtype=bool)
    for i, c in enumerate(clients):
        for r, mid in enumerate(c.preferred_municipalities, start=1):
            preference_rank[i, muni_ix[mid]] = r
        for mid in c.excluded_municipalities:
            excluded[i, muni_ix[mid]] = True

    complex_muni = np.array(
        [muni_ix[c.municipality_id] for c in instance.complexes], dtype=np.int64
    ).reshape(-1)
    unit_complex = np.array([complex_ix[u.complex_id] for u in units], dtype=np.int64)
    unit_groups = np.ones((m, len(groups)), dtype=bool)
    for j, u in enumerate(units):
        if u.allowed_groups:
            unit_groups[j, :] = False
            unit_groups[j, [group_ix[g] for g in u.allowed_groups]] = True

    unit_ix = {u.id: j for j, u in enumerate(units)}
    refused = [
        i * m + unit_ix[r] for i, c in enumerate(clients) for r in c.refused_units if r in unit_ix
    ]

    return Columns(
        instance=instance,
        client_ids=[c.id for c in clients],
        unit_ids=[u.id for u in units],
        municipality_ids=muni_ids,
        corporation_ids=corp_ids,
        complex_ids=complex_ids,
        groups=groups,
        household=np.array([c.household_size for c in clients], dtype=np.int64),
        max_rent=np.array(
            [np.inf if c.max_rent is None else c.max_rent for c in clients], dtype=float
        ),
        needs_accessible=np.array([c.needs_accessible for c in clients], dtype=bool),
        group=np.array([group_ix[c.target_group] for c in clients], dtype=np.int64),
        waiting_days=np.array(
            [max(0, (reference - c.ready_since).days) for c in clients], dtype=np.int64
        ),
        has_preferences=np.array([bool(c.preferred_municipalities) for c in clients], dtype=bool),
        preference_rank=preference_rank,
        excluded=excluded,
        unit_complex=unit_complex,
        unit_municipality=complex_muni[unit_complex] if m else np.zeros(0, dtype=np.int64),
        unit_corporation=np.array([corp_ix[u.corporation_id] for u in units], dtype=np.int64),
        rent=np.array([u.rent for u in units], dtype=float),
        accessible=np.array([u.accessible for u in units], dtype=bool),
        min_occupants=np.array([u.min_occupants for u in units], dtype=np.int64),
        max_occupants=np.array([u.max_occupants for u in units], dtype=np.int64),
        unit_groups=unit_groups,
        refused_codes=np.unique(np.array(refused, dtype=np.int64)),
    )
