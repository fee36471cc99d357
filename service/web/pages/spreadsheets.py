"""Spreadsheet templates per table, in Dutch and in English, as CSV or XLSX.

A Dutch template has Dutch column names (``allocator.spreadsheet.DUTCH_HEADERS``) and, as CSV,
what a Dutch Excel writes (``;`` between fields, a byte-order mark); an English one has the
contract's names. Both read back with the same reader as every upload and table file. An XLSX
template has a second sheet that explains every column.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import Depends, Request
from openpyxl import Workbook
from pydantic import BaseModel
from starlette.responses import Response

from allocator.io import ROW_MODELS
from allocator.models import Policy
from allocator.spreadsheet import dutch_header, kind_of
from service.problems import not_found
from service.web import session as web
from service.web.i18n import LOCALES, Texts
from service.web.pages import router
from service.web.render import page
from service.web.render import texts as texts_of

pages = router()
Caller = Annotated[Any, Depends(web.page_caller)]

#: The tables a template is offered for; ``vacancies`` is the corporations' upload (= units).
TABLES: dict[str, type[BaseModel]] = {
    "vacancies": ROW_MODELS["units"],
    **ROW_MODELS,
    "policy": Policy,
}


def columns(table: str, lang: str) -> list[str]:
    fields = list(TABLES[table].model_fields)
    return [dutch_header(table, f) if lang == "nl" else f for f in fields]


def template_csv(table: str, lang: str) -> bytes:
    names = columns(table, lang)
    if lang == "nl":
        return ("\ufeff" + ";".join(names) + "\r\n").encode("utf-8")
    return (",".join(names) + "\n").encode("utf-8")


def _kind_text(t: Texts, kind: str) -> str:
    return {
        "int": t.gettext("whole number, e.g. 3"),
        "float": t.gettext("number, e.g. 650,43"),
        "bool": t.gettext("yes or no (ja/nee, WAAR/ONWAAR)"),
        "date": t.gettext("date, e.g. 26-11-2026"),
        "list": t.gettext("list separated by ; e.g. hoorn;enkhuizen"),
    }.get(kind, t.gettext("text"))


def template_xlsx(table: str, lang: str) -> bytes:
    t = Texts(lang)
    model = TABLES[table]
    book = Workbook()
    sheet = book.active
    sheet.title = table
    sheet.append(columns(table, lang))
    notes = book.create_sheet(t.gettext("explanation"))
    notes.append([t.gettext("column"), t.gettext("required"), t.gettext("what to write")])
    for name, field in model.model_fields.items():
        column = dutch_header(table, name) if lang == "nl" else name
        required = t.gettext("yes") if field.is_required() else t.gettext("no")
        notes.append([column, required, _kind_text(t, kind_of(field.annotation))])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pages.get("/sjablonen")
def template_list(request: Request, caller: Caller):
    tx = texts_of(request)
    return page(
        request,
        "spreadsheets.html",
        title=tx.gettext("Spreadsheet templates"),
        tables=list(TABLES),
        languages=LOCALES,
    )


@pages.get("/sjablonen/{table}.{lang}.{kind}")
def template_file(request: Request, table: str, lang: str, kind: str, caller: Caller):
    if table not in TABLES or lang not in LOCALES or kind not in ("csv", "xlsx"):
        raise not_found("template", f"{table}.{lang}.{kind}")
    name = f"{table}.{lang}.{kind}"
    if kind == "csv":
        content, media = template_csv(table, lang), "text/csv; charset=utf-8"
    else:
        content = template_xlsx(table, lang)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
