"""Vacancies: reported by corporations (JSON or a CSV/XLSX upload), withdrawn when let elsewhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, File, Query, UploadFile
from sqlalchemy import select

from allocator.errors import InputIssue, InstanceError
from allocator.io import name_columns
from service import scope
from service import tables as t
from service.audit import record
from service.db import retrying
from service.deps import Caller, CoordinatorOrCorporation, SessionDep, SettingsDep, own_corporation
from service.offers import withdraw_vacancy as withdraw
from service.pagination import PageDep
from service.problems import ServiceProblem, not_found, responses
from service.schemas import UploadResult, VacancyIn, VacancyOut, VacancyStatus, WithdrawIn
from service.units import resolve
from service.upload import MAX_ROWS, columns_of, read_vacancy_rows

router = APIRouter(prefix="/vacancies", tags=["vacancies"], responses=responses(401, 403, 503))
MAX_BATCH = MAX_ROWS


def _region_issues(session, caller: Caller, rows: list[tuple[str, VacancyIn]], table: str):
    """Every row against the region: an id new to its corporation, a known complex and
    corporation; a corporation reports only its own vacancies (403). Unit ids are each
    corporation's own, so whether another corporation uses an id makes no difference here."""
    issues = []
    seen: set[tuple[str, str]] = set()
    for label, row in rows:
        if caller.role == "corporation" and row.corporation_id != caller.corporation_id:
            raise ServiceProblem(
                403,
                f"Vacancy {row.id!r} names corporation {row.corporation_id!r}; a corporation "
                "reports only its own vacancies.",
                kind="forbidden",
            )
        key = (row.corporation_id, row.id)
        if key in seen or (
            scope.get(session, t.Vacancy, row.id, corporation_id=row.corporation_id) is not None
        ):
            issues.append(InputIssue(table, label, "id", f"vacancy {row.id!r} already exists"))
        seen.add(key)
        if scope.get(session, t.Complex, row.complex_id) is None:
            issues.append(
                InputIssue(table, label, "complex_id", f"unknown complex {row.complex_id!r}")
            )
        if scope.get(session, t.Corporation, row.corporation_id) is None:
            issues.append(
                InputIssue(
                    table, label, "corporation_id", f"unknown corporation {row.corporation_id!r}"
                )
            )
    return issues


def _add_vacancies(session, caller: Caller, rows: list[VacancyIn], table: str) -> list[str]:
    """All or nothing: every row is checked against the region before any is stored."""
    labelled = [(f"#{i}" if table == "body" else row.id, row) for i, row in enumerate(rows)]
    issues = _region_issues(session, caller, labelled, table)
    if issues:
        raise InstanceError(issues)
    for row in rows:
        session.add(t.Vacancy(**row.model_dump(), status="open"))
        record(
            session,
            caller,
            "vacancy.submitted",
            "vacancy",
            row.id,
            rent=row.rent,
            corporation_id=row.corporation_id,
        )
    session.commit()
    return [(row.corporation_id, row.id) for row in rows]


@router.post("", response_model=list[VacancyOut], status_code=201, responses=responses(422))
def submit_vacancies(
    body: Annotated[list[VacancyIn], Body(max_length=MAX_BATCH)],
    session: SessionDep,
    caller: CoordinatorOrCorporation,
):
    """Report vacancies (a JSON list of the contract's unit rows). All or nothing."""
    if len(body) > MAX_BATCH:
        raise ServiceProblem(413, f"At most {MAX_BATCH} vacancies per request.")
    if not body:
        raise ServiceProblem(422, "The list of vacancies is empty.")
    keys = _add_vacancies(session, caller, body, "body")
    return [scope.get(session, t.Vacancy, i, corporation_id=c) for c, i in keys]


@router.post(
    "/upload", response_model=UploadResult, status_code=201, responses=responses(413, 415, 422)
)
def upload_vacancies(
    file: Annotated[UploadFile, File(description="A CSV or XLSX file, one vacancy per row.")],
    session: SessionDep,
    caller: CoordinatorOrCorporation,
    settings: SettingsDep,
):
    """Report vacancies from a CSV or XLSX file; problems name the line and the column."""
    name = file.filename or ""
    if not name.lower().endswith((".csv", ".xlsx", ".txt")):
        raise ServiceProblem(
            415, f"{name or 'The file'} is not a .csv or .xlsx file.", kind="unsupported-file"
        )
    content = file.file.read(settings.max_upload_bytes + 1)
    if len(content) > settings.max_upload_bytes:
        raise ServiceProblem(
            413,
            f"The upload is larger than {settings.max_upload_bytes:,} bytes; split it.",
            kind="too-large",
        )
    rows, issues = read_vacancy_rows(content, name, MAX_BATCH)
    # the rows that could be read are checked against the region too: every problem at once
    issues += _region_issues(session, caller, rows, "vacancies")
    if issues:
        raise InstanceError(name_columns(issues, {"vacancies": columns_of(content, name)}))
    keys = _add_vacancies(session, caller, [row for _, row in rows], "vacancies")
    return UploadResult(created=len(keys), vacancy_ids=[i for _, i in keys])


@router.get("", response_model=list[VacancyOut])
def list_vacancies(
    session: SessionDep,
    caller: CoordinatorOrCorporation,
    page: PageDep,
    status: VacancyStatus | None = None,
):
    """The coordinator sees every vacancy; a corporation only its own."""
    query = select(t.Vacancy).order_by(t.Vacancy.id, t.Vacancy.corporation_id)
    if caller.role == "corporation":
        query = query.where(t.Vacancy.corporation_id == caller.corporation_id)
    if status:
        query = query.where(t.Vacancy.status == status)
    return page.of(session, query)


#: Which corporation's unit: unit ids are each corporation's own.
CorporationOfUnit = Annotated[
    str | None,
    Query(
        max_length=100,
        description="The unit's corporation. A corporation's own is implied; the coordinator "
        "names it when more than one corporation uses the unit id (422 otherwise).",
    ),
]


def vacancy_key(
    session, vacancy_id: str, corporation_id: str | None, caller: Caller
) -> tuple[str, str]:
    """The vacancy a caller addresses. A corporation addresses only its own units, so its own
    corporation is implied and another's id is, to it, an id nobody holds (404)."""
    if caller.role == "corporation":
        if corporation_id not in (None, caller.corporation_id):
            raise not_found("vacancy", vacancy_id)
        return caller.corporation_id, vacancy_id
    key = resolve(session, vacancy_id, corporation_id)
    if key is None:
        raise not_found("vacancy", vacancy_id)
    return key


def _vacancy(session, vacancy_id: str, corporation_id: str | None, caller: Caller) -> t.Vacancy:
    corporation_id, vacancy_id = vacancy_key(session, vacancy_id, corporation_id, caller)
    row = scope.get(session, t.Vacancy, vacancy_id, corporation_id=corporation_id)
    if row is None:
        raise not_found("vacancy", vacancy_id)
    own_corporation(caller, row.corporation_id, "vacancy", vacancy_id)
    return row


@router.get("/{vacancy_id}", response_model=VacancyOut, responses=responses(404, 422))
def read_vacancy(
    vacancy_id: str,
    session: SessionDep,
    caller: CoordinatorOrCorporation,
    corporation_id: CorporationOfUnit = None,
):
    return _vacancy(session, vacancy_id, corporation_id, caller)


@router.post(
    "/{vacancy_id}/withdraw", response_model=VacancyOut, responses=responses(404, 409, 422)
)
@retrying
def withdraw_vacancy(
    vacancy_id: str,
    body: WithdrawIn,
    session: SessionDep,
    caller: CoordinatorOrCorporation,
    corporation_id: CorporationOfUnit = None,
):
    """The unit is no longer available (for example let through the waiting list). An offer
    that was proposed on it is withdrawn; an accepted offer must be withdrawn first."""
    key = vacancy_key(session, vacancy_id, corporation_id, caller)
    row = withdraw(session, caller, key, body.reason)
    session.commit()
    return row
