"""Reading a page's form into the API's own input model, and its errors back onto the fields."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from allocator.spreadsheet import kind_of, parse_cell
from service.web.i18n import Texts

M = TypeVar("M", bound=BaseModel)


async def read_form(request: Request) -> FormData:
    return await request.form()


def text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def texts(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def flag(form: FormData, name: str) -> bool:
    return form.get(name) in ("true", "on", "1")


def parse(model: type[M], data: dict[str, Any], t: Texts) -> tuple[M | None, dict[str, str]]:
    """The model, or the errors by field in the page's language. Text typed in a form is read by
    the same cell reader as a spreadsheet (``650,43``, ``26-11-2026``, ``ja``)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    fields = model.model_fields
    for name, value in data.items():
        if value is None:
            continue
        if isinstance(value, str) and name in fields:
            try:
                value = parse_cell(kind_of(fields[name].annotation), value)
            except ValueError:
                errors[name] = t.gettext("This is not a valid value.")
                continue
        values[name] = value
    try:
        result = model.model_validate(values)
    except ValidationError as exc:
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "form"
            errors.setdefault(name, _message(e, t))
        return None, errors
    return (None, errors) if errors else (result, {})


def _message(error: dict[str, Any], t: Texts) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return t.gettext("Fill this in.")
    if kind in ("int_parsing", "int_from_float"):
        return t.gettext("Enter a whole number.")
    if kind == "float_parsing":
        return t.gettext("Enter a number, for example 650,43.")
    if kind in ("date_from_datetime_parsing", "date_parsing"):
        return t.gettext("Enter a date, for example 26-11-2026.")
    if kind == "greater_than_equal":
        return t.gettext("Enter at least %(limit)s.", limit=ctx.get("ge"))
    if kind == "less_than_equal":
        return t.gettext("Enter at most %(limit)s.", limit=ctx.get("le"))
    if kind in ("string_too_short",):
        return t.gettext("Fill this in.")
    if kind == "string_too_long":
        return t.gettext("This is too long.")
    return str(error["msg"]).removeprefix("Value error, ")
