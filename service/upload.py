"""Reading a corporation's vacancy upload (CSV or XLSX) into contract unit rows.

The same conventions as the core's table files (``allocator.io``): one row per vacancy, the
contract's column names, empty cells mean "not given", lists separated by ``;``, yes/no as
true/false, yes/no, ja/nee or 1/0. Every problem names its row (the spreadsheet line) and field.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

from allocator.errors import InputIssue, InstanceError
from allocator.io import header_issues
from service.schemas import VacancyIn

_TRUE = {"true", "yes", "ja", "1", "y", "j", "waar"}
_FALSE = {"false", "no", "nee", "0", "n", "onwaar"}
_BOOL = {"accessible"}
_LIST = {"allowed_groups"}
_INT = {"rooms", "min_occupants", "max_occupants"}
TABLE = "vacancies"


def _cell(field: str, text: str) -> Any:
    if field in _BOOL:
        word = text.lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"expected yes or no (true/false, ja/nee, 1/0), got {text!r}")
    if field in _LIST:
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"malformed list {text!r}") from None
            if not isinstance(items, list):
                raise ValueError(f"expected a list, got {text!r}")
            return [str(x).strip() for x in items]
        return [item.strip() for item in text.split(";") if item.strip()]
    if field in _INT and text.endswith(".0"):
        return text[:-2]  # Excel may store 3 as 3.0
    return text


def _rows_csv(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InstanceError([InputIssue(TABLE, None, None, "the file is not UTF-8 text")]) from None
    if not text.strip():
        raise InstanceError([InputIssue(TABLE, None, None, "the file is empty")])
    first = text.splitlines()[0]
    # Dutch Excel saves "CSV" with semicolons
    delimiter = ";" if ";" in first and "," not in first else ","
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        lines = list(reader)
    except csv.Error as exc:
        raise InstanceError(
            [InputIssue(TABLE, None, None, f"cannot read the CSV: {exc}")]
        ) from None
    header = [h.strip() for h in lines[0]]
    rows = []
    for number, values in enumerate(lines[1:], start=2):
        cells = {h: v.strip() for h, v in zip(header, values, strict=False) if v.strip()}
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            cells["(extra cells)"] = "x"
        if cells:
            rows.append((number, cells))
    return header, rows


def _rows_xlsx(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InstanceError(
            [InputIssue(TABLE, None, None, f"cannot read the workbook: {type(exc).__name__}")]
        ) from None
    names = {name.strip().lower(): name for name in workbook.sheetnames}
    sheet = workbook[names.get("vacancies") or names.get("units") or workbook.sheetnames[0]]
    lines = [
        ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    workbook.close()
    if not lines:
        raise InstanceError([InputIssue(TABLE, None, None, "the sheet is empty")])
    header = [h.strip() for h in lines[0]]
    rows = []
    for number, values in enumerate(lines[1:], start=2):
        cells = {h: v.strip() for h, v in zip(header, values, strict=False) if h and v.strip()}
        if cells:
            rows.append((number, cells))
    return header, rows


def read_vacancies(content: bytes, filename: str, max_rows: int) -> list[VacancyIn]:
    is_xlsx = filename.lower().endswith(".xlsx") or content[:2] == b"PK"
    header, rows = (_rows_xlsx if is_xlsx else _rows_csv)(content)
    issues = header_issues(TABLE, VacancyIn, header)
    if issues:
        raise InstanceError(issues)
    if len(rows) > max_rows:
        raise InstanceError(
            [InputIssue(TABLE, None, None, f"{len(rows)} rows; at most {max_rows} per upload")]
        )
    if not rows:
        raise InstanceError([InputIssue(TABLE, None, None, "the file has no vacancy rows")])
    result = []
    for number, cells in rows:
        label = f"{cells['id']} (line {number})" if cells.get("id") else f"line {number}"
        if "(extra cells)" in cells:
            issues.append(InputIssue(TABLE, label, None, "more cells than columns"))
            continue
        data: dict[str, Any] = {}
        for field, text in cells.items():
            try:
                data[field] = _cell(field, text)
            except ValueError as exc:
                issues.append(InputIssue(TABLE, label, field, str(exc)))
        try:
            result.append(VacancyIn.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or None
                message = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "missing":
                    message = "this cell is required"
                if not (
                    field
                    and field in data
                    and any(i.row == label and i.field == field for i in issues)
                ):
                    issues.append(InputIssue(TABLE, label, field, message))
    if issues:
        raise InstanceError(issues)
    return result
