"""Vacancies (the corporations' and the coordinator's) and the corporation's offers.

A corporation uploads a CSV or XLSX file (English or Dutch columns, what a Dutch Excel writes),
enters a vacancy by hand or withdraws one, and sees the offers on its own units with only the
fields DOMAIN.md allows (the API's ``CorporationOfferOut``).
"""

from __future__ import annotations

import io
import re
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile

from allocator.errors import InstanceError
from service.deps import RowId, SessionDep, SettingsDep
from service.problems import ServiceProblem
from service.routers import offers, region, vacancies
from service.schemas import VacancyIn, WithdrawIn
from service.upload import read_table
from service.web import session as web
from service.web.core import call
from service.web.explain import issue_text
from service.web.forms import flag, parse, read_form, text, texts
from service.web.pages import router
from service.web.render import page, redirect
from service.web.render import texts as texts_of

pages = router()
Caller = Annotated[Any, Depends(web.page_caller)]
Form = Annotated[FormData, Depends(read_form)]
Csrf = [Depends(web.check_csrf)]
_LINE = re.compile(r"line (\d+)")


def vacancies_page(request, session, caller, status_code=200, **values):
    tx = texts_of(request)
    rows = call(vacancies.list_vacancies, caller, session=session)
    defaults = {
        "vacancies": rows,
        "complexes": call(region.list_complexes, caller, session=session),
        "corporations": call(region.list_corporations, caller, session=session),
        "values": {"min_occupants": 1, "max_occupants": 2, "rooms": 2},
        "errors": {},
        "upload": None,
        "problem": None,
    }
    return page(
        request,
        "vacancies.html",
        status_code,
        title=tx.gettext("Vacancies"),
        **(defaults | values),
    )


@pages.get("/woningen")
def vacancy_list(request: Request, session: SessionDep, caller: Caller):
    return vacancies_page(request, session, caller)


def upload_report(raw, exc: InstanceError, t) -> dict[str, Any]:
    """The file's own rows with each problem next to its line and column."""
    header, rows = raw
    by_cell: dict[tuple[int, str | None], list[str]] = {}
    general = []
    for issue in exc.issues:
        match = _LINE.search(issue.row or "")
        if match is None:
            where = f"{issue.field}: " if issue.field else ""
            general.append(where + issue_text(t, issue.message))
            continue
        message = issue_text(t, issue.message)
        by_cell.setdefault((int(match.group(1)), issue.field), []).append(message)
    bad_lines = {line for line, _ in by_cell}
    lines = [
        {
            "line": line,
            "cells": [cells.get(h, "") for h in header],
            "bad": {h for h in header if (line, h) in by_cell},
            "problems": [(field, m) for (n, field), ms in by_cell.items() if n == line for m in ms],
        }
        for line, cells in rows
    ]
    lines.sort(key=lambda r: (r["line"] not in bad_lines, r["line"]))
    return {"header": header, "lines": lines, "general": general, "count": len(exc.issues)}


@pages.post("/woningen/upload", dependencies=Csrf)
def vacancy_upload(
    request: Request, session: SessionDep, caller: Caller, settings: SettingsDep, form: Form
):
    tx = texts_of(request)
    sent = form.get("file")
    if not isinstance(sent, UploadFile) or not sent.filename:
        problem = ServiceProblem(422, tx.gettext("Choose a file to upload."))
        return vacancies_page(request, session, caller, 422, problem=problem)
    content = sent.file.read(settings.max_upload_bytes + 1)
    copy = UploadFile(io.BytesIO(content), filename=sent.filename)
    try:
        done = call(
            vacancies.upload_vacancies, caller, file=copy, session=session, settings=settings
        )
    except InstanceError as exc:
        session.rollback()
        try:
            report = upload_report(read_table(content, sent.filename), exc, tx)
        except InstanceError:
            general = [f"{i.field or ''} {issue_text(tx, i.message)}".strip() for i in exc.issues]
            report = {"header": [], "lines": [], "general": general}
            report["count"] = len(exc.issues)
        report["filename"] = sent.filename
        return vacancies_page(request, session, caller, 422, upload=report)
    except ServiceProblem as exc:
        session.rollback()
        if exc.status in (401, 403):
            raise
        return vacancies_page(request, session, caller, exc.status, problem=exc)
    message = tx.ngettext(
        "%(num)d vacancy was added.", "%(num)d vacancies were added.", done.created
    )
    return redirect(request, "/woningen", message)


@pages.post("/woningen/nieuw", dependencies=Csrf)
def vacancy_enter(request: Request, session: SessionDep, caller: Caller, form: Form):
    tx = texts_of(request)
    corporation = caller.corporation_id if caller.role == "corporation" else None
    data = {
        "id": text(form, "id"),
        "complex_id": text(form, "complex_id"),
        "corporation_id": corporation or text(form, "corporation_id"),
        "rooms": text(form, "rooms"),
        "rent": text(form, "rent"),
        "accessible": flag(form, "accessible"),
        "min_occupants": text(form, "min_occupants"),
        "max_occupants": text(form, "max_occupants"),
        "allowed_groups": texts(form, "allowed_groups") or None,
    }
    body, errors = parse(VacancyIn, data, tx)
    if body is None:
        return vacancies_page(request, session, caller, 422, values=data, errors=errors)
    try:
        call(vacancies.submit_vacancies, caller, body=[body], session=session)
    except InstanceError as exc:
        session.rollback()
        errors = {i.field or "form": issue_text(tx, i.message) for i in exc.issues}
        return vacancies_page(request, session, caller, 422, values=data, errors=errors)
    return redirect(request, "/woningen", tx.gettext("Vacancy %(id)s was added.", id=body.id))


@pages.post("/woningen/{vacancy_id}/intrekken", dependencies=Csrf)
def vacancy_withdraw(
    request: Request, vacancy_id: str, session: SessionDep, caller: Caller, form: Form
):
    tx = texts_of(request)
    body, _ = parse(WithdrawIn, {"reason": text(form, "reason")}, tx)
    if body is None:
        raise ServiceProblem(422, tx.gettext("Give a reason for withdrawing."))
    # unit ids are each corporation's own: the form names the unit's corporation
    call(
        vacancies.withdraw_vacancy,
        caller,
        vacancy_id=vacancy_id,
        body=body,
        session=session,
        corporation_id=text(form, "corporation_id") or None,
    )
    return redirect(request, "/woningen", tx.gettext("The vacancy is withdrawn."))


# --- the corporation's offers -------------------------------------------------------------


@pages.get("/corporatie")
def corporation_offers(request: Request, session: SessionDep, caller: Caller):
    tx = texts_of(request)
    found = call(
        offers.list_corporation_offers, caller, session=session, settings=request.app.state.settings
    )
    return page(
        request,
        "corporation_offers.html",
        title=tx.gettext("Offers on our units"),
        offers=sorted(found, key=lambda o: o.id, reverse=True),
    )


@pages.post("/corporatie/aanbiedingen/{offer_id}/verhuurd", dependencies=Csrf)
def corporation_let(request: Request, offer_id: RowId, session: SessionDep, caller: Caller):
    call(offers.corporation_lets, caller, offer_id=offer_id, session=session)
    tx = texts_of(request)
    return redirect(request, "/corporatie", tx.gettext("The lease is recorded as signed."))
