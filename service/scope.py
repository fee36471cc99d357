"""Region scoping, in one place: a session that knows its caller's region sees and changes only
that region's rows.

``deps.current_principal`` sets ``session.info["region_id"]`` once it knows the caller. From then
on every ORM query of that session (SELECT, UPDATE, DELETE; ``session.get`` too) carries
``region_id = :region`` for every table with a region (``tables.Scoped``), and every new record
gets the region. A row of another region is, to that session, a row that does not exist: 404,
never 403, and no list shows it. Sessions without a region (the workers, the commands, an
installation admin's requests) are not scoped.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from service.tables import InRegion, Scoped

REGION = "region_id"
T = TypeVar("T")


def set_region(session: Session, region_id: int | None) -> None:
    if region_id is None:
        session.info.pop(REGION, None)
    else:
        session.info[REGION] = region_id


def region_of(session: Session) -> int | None:
    return session.info.get(REGION)


def get(session: Session, table: type[T], id_: str | None = None, **key: Any) -> T | None:
    """The record of the session's region with this id (or these key columns). Ids are each
    region's own (``tables.region_key``): an id alone names no record, so a session without a
    region cannot look one up."""
    region_id = session.info.get(REGION)
    if region_id is None:
        raise ValueError(f"a look-up of a {table.__name__} by id needs the session's region")
    if id_ is not None:
        key["id"] = id_
    return session.get(table, {REGION: region_id, **key})


@event.listens_for(Session, "do_orm_execute")
def _only_the_callers_region(state: ORMExecuteState) -> None:
    region_id = state.session.info.get(REGION)
    if region_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # loads of rows already scoped
    state.statement = state.statement.options(
        with_loader_criteria(Scoped, lambda cls: cls.region_id == region_id, include_aliases=True)
    )


@event.listens_for(Session, "before_flush")
def _new_records_in_the_callers_region(session: Session, _context, _instances) -> None:
    region_id = session.info.get(REGION)
    for obj in session.new:
        if isinstance(obj, Scoped) and getattr(obj, REGION, None) is None:
            if region_id is None and isinstance(obj, InRegion):
                raise ValueError(f"a {type(obj).__name__} needs a region")
            obj.region_id = region_id
