"""Reading a corporation's vacancy upload (CSV or XLSX) into contract unit rows.

The same conventions as the core's table files (``allocator.io``): one row per vacancy, the
contract's column names, empty cells mean "not given", lists separated by ``;``, yes/no as
true/false, yes/no, ja/nee or 1/0. Every problem names its row (the spreadsheet line) and field.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from allocator.errors import InputIssue, InstanceError
from allocator.io import header_issues
from service.problems import ServiceProblem
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


#: The most columns a vacancy table may have (the contract has 9); more is not a vacancy table.
MAX_COLUMNS = 100
#: The most a workbook may unpack to: an XLSX is a zip, and a small zip can unpack to gigabytes.
MAX_UNPACKED_BYTES = 50_000_000

Rows = tuple[list[str], list[tuple[int, dict[str, str]]]]


def _too_many_rows(max_rows: int) -> InstanceError:
    return InstanceError(
        [InputIssue(TABLE, None, None, f"more than {max_rows} rows; at most {max_rows} per upload")]
    )


def _collect(lines: Iterator[list[str]], max_rows: int) -> Rows:
    """Header and non-empty rows, counted while they are read: reading stops at the first row
    past the limit and at the first line with more than MAX_COLUMNS cells."""
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(lines, start=1):
        while values and not values[-1]:
            values = values[:-1]  # a spreadsheet pads rows with empty cells
        if len(values) > MAX_COLUMNS:
            raise InstanceError(
                [InputIssue(TABLE, f"line {number}", None, f"more than {MAX_COLUMNS} columns")]
            )
        if header is None:
            header = [h.strip() for h in values]
            continue
        cells = {h: v.strip() for h, v in zip(header, values, strict=False) if h and v.strip()}
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            cells["(extra cells)"] = "x"
        if cells:
            if len(rows) == max_rows:
                raise _too_many_rows(max_rows)
            rows.append((number, cells))
    if header is None:
        raise InstanceError([InputIssue(TABLE, None, None, "the file is empty")])
    return header, rows


def _rows_csv(content: bytes, max_rows: int) -> Rows:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InstanceError([InputIssue(TABLE, None, None, "the file is not UTF-8 text")]) from None
    if not text.strip():
        raise InstanceError([InputIssue(TABLE, None, None, "the file is empty")])
    first = text.split("\n", 1)[0]
    # Dutch Excel saves "CSV" with semicolons
    delimiter = ";" if ";" in first and "," not in first else ","
    try:
        return _collect(csv.reader(io.StringIO(text), delimiter=delimiter), max_rows)
    except csv.Error as exc:
        raise InstanceError(
            [InputIssue(TABLE, None, None, f"cannot read the CSV: {exc}")]
        ) from None


def _check_unpacked_size(content: bytes) -> None:
    """Refuse a zip bomb before anything is unpacked. (A member never unpacks to more than the
    size its header declares: Python's zipfile stops there.)"""
    try:
        members = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except zipfile.BadZipFile:
        raise InstanceError([InputIssue(TABLE, None, None, "the file is not a workbook")]) from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES or len(members) > 10_000:
        raise ServiceProblem(
            413,
            f"The workbook unpacked is {unpacked:,} bytes in {len(members):,} parts; at most "
            f"{MAX_UNPACKED_BYTES:,} bytes are read. Save the vacancies alone as .xlsx or .csv.",
            kind="too-large",
        )


def _rows_xlsx(content: bytes, max_rows: int) -> Rows:
    from openpyxl import load_workbook

    _check_unpacked_size(content)
    try:
        # read-only: rows stream from the zip one by one, never the whole sheet at once
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InstanceError(
            [InputIssue(TABLE, None, None, f"cannot read the workbook: {type(exc).__name__}")]
        ) from None
    try:
        names = {name.strip().lower(): name for name in workbook.sheetnames}
        sheet = workbook[names.get("vacancies") or names.get("units") or workbook.sheetnames[0]]
        sheet.reset_dimensions()  # the size the sheet claims is not trusted: rows are counted
        lines = (
            ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
        )
        return _collect(lines, max_rows)
    finally:
        workbook.close()


def read_vacancies(content: bytes, filename: str, max_rows: int) -> list[VacancyIn]:
    is_xlsx = filename.lower().endswith(".xlsx") or content[:2] == b"PK"
    header, rows = (_rows_xlsx if is_xlsx else _rows_csv)(content, max_rows)
    issues = header_issues(TABLE, VacancyIn, header)
    if issues:
        raise InstanceError(issues)
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
