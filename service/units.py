"""A vacancy's identity: (corporation, unit id). Unit ids are each corporation's own, so two
corporations of a region may both have a unit "1001".

The optimiser needs one string per unit, unique in its instance: a unit's *reference*. It is the
unit id itself unless another corporation of the region uses that id too; then it is
``corporation/id``. A unit id holds no ``/`` (``schemas.VacancyIn``), so a reference with a ``/``
is always a qualified one and splits back at its last ``/``. Nothing changes while no id is
shared; a reference is what a run's instance and proposal name units by, and what the
coordinator may type where a page asks for a unit.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import tables as t
from service.problems import ProblemIssue, ServiceProblem

SEPARATOR = "/"

#: (corporation_id, unit id)
Key = tuple[str, str]


def shared_ids(session: Session, ids: Iterable[str] | None = None) -> set[str]:
    """The unit ids of the session's region that more than one corporation uses."""
    query = (
        select(t.Vacancy.id)
        .group_by(t.Vacancy.id)
        .having(func.count(t.Vacancy.corporation_id.distinct()) > 1)
    )
    if ids is not None:
        query = query.where(t.Vacancy.id.in_(sorted(set(ids))))
    return set(session.scalars(query))


def reference(corporation_id: str, unit_id: str, shared: set[str]) -> str:
    """The unit's name in an instance: qualified only when its id is shared."""
    if unit_id in shared:
        return f"{corporation_id}{SEPARATOR}{unit_id}"
    return unit_id


def split(ref: str) -> tuple[str | None, str]:
    """(corporation, unit id) of a reference; corporation None for a plain id."""
    if SEPARATOR in ref:
        corporation_id, unit_id = ref.rsplit(SEPARATOR, 1)
        return corporation_id, unit_id
    return None, ref


def corporations_with(session: Session, unit_id: str) -> list[str]:
    return list(
        session.scalars(
            select(t.Vacancy.corporation_id)
            .where(t.Vacancy.id == unit_id)
            .order_by(t.Vacancy.corporation_id)
        )
    )


def resolve(
    session: Session,
    unit_id: str,
    corporation_id: str | None,
    *,
    field: str = "corporation_id",
    location: str | None = None,
) -> Key | None:
    """The vacancy a coordinator names: by its id (or a reference ``corporation/id``) and, when
    the id is shared, its corporation. None when no vacancy has that id (or not at that
    corporation); a 422 naming ``field`` when the id is shared and no corporation is given."""
    named, unit_id = split(unit_id)
    corporation_id = corporation_id or named
    if corporation_id is not None:
        return corporation_id, unit_id
    holders = corporations_with(session, unit_id)
    if not holders:
        return None
    if len(holders) > 1:
        raise ServiceProblem(
            422,
            f"Unit id {unit_id!r} is used by more than one corporation; name the corporation "
            f"({field}).",
            kind="ambiguous-unit",
            errors=[
                ProblemIssue(
                    location=location or field,
                    field=field,
                    message=f"unit {unit_id!r} is held by more than one corporation; say which",
                )
            ],
        )
    return holders[0], unit_id
