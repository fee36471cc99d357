"""Reading a corporation's vacancy upload (CSV or XLSX) into contract unit rows.

The same reader as the core's table files (``allocator.io.table_rows`` on
``allocator.spreadsheet``): one row per vacancy, the contract's column names or their Dutch
names (``huur``, ``kamers``...), empty cells mean "not given", lists separated by ``;``, and
what a Dutch Excel writes (``;`` between fields, ``566,58``, ``WAAR``/``ONWAAR``, a byte-order
mark). Every problem names its row (the spreadsheet line) and the file's own column name.
"""

from __future__ import annotations

from pydantic import ValidationError

from allocator.errors import InputIssue, InstanceError
from allocator.io import name_columns, table_rows
from allocator.spreadsheet import RawTable, UnpacksTooLarge, read_csv, read_workbook
from service.problems import ServiceProblem
from service.schemas import VacancyIn

TABLE = "vacancies"


#: The most columns a vacancy table may have (the contract has 10); more is not a vacancy table.
MAX_COLUMNS = 100
#: The most a workbook may unpack to: an XLSX is a zip, and a small zip can unpack to gigabytes.
MAX_UNPACKED_BYTES = 50_000_000
SHEETS = ("vacancies", "units", "woningen", "vacatures")


#: The most rows one upload may have (the service's batch limit).
MAX_ROWS = 5000


def read_table(content: bytes, filename: str, max_rows: int = MAX_ROWS) -> RawTable:
    """The upload's one table: a CSV file, or a workbook's ``vacancies`` (or ``units``, or
    else its first) sheet. Rows and columns are counted while they are read, and a workbook
    that would unpack to more than MAX_UNPACKED_BYTES is refused before it is unpacked."""
    is_xlsx = filename.lower().endswith(".xlsx") or content[:2] == b"PK"
    try:
        if not is_xlsx:
            return read_csv(content, max_rows, MAX_COLUMNS)
        sheets = read_workbook(content, max_rows, MAX_COLUMNS, MAX_UNPACKED_BYTES, SHEETS)
    except UnpacksTooLarge as exc:
        raise ServiceProblem(
            413,
            f"{str(exc).capitalize()}. Save the vacancies alone as .xlsx or .csv.",
            kind="too-large",
        ) from None
    except ValueError as exc:  # TooLarge included: rows or columns past the limits
        raise InstanceError([InputIssue(TABLE, None, None, str(exc))]) from None
    if not sheets:
        raise InstanceError([InputIssue(TABLE, None, None, "the workbook has no sheet")])
    return next(iter(sheets.values()))


def columns_of(content: bytes, filename: str) -> dict[str, str]:
    """The file's own name of each field (to name problems by the file's columns)."""
    from allocator.spreadsheet import canonical_columns

    header = read_table(content, filename)[0]
    return canonical_columns(TABLE, list(VacancyIn.model_fields), header)[1]


def read_vacancy_rows(
    content: bytes, filename: str, max_rows: int
) -> tuple[list[tuple[str, VacancyIn]], list[InputIssue]]:
    """The rows that could be read (with their labels, ``id (line n)``) and the problems of the
    others. Problems with the file as a whole (its header, its size) raise at once."""
    raw = read_table(content, filename, max_rows)
    if not raw[0]:
        raise InstanceError([InputIssue(TABLE, None, None, "the file is empty")])
    rows, issues, written = table_rows(TABLE, VacancyIn, raw)
    if rows is None:
        raise InstanceError(name_columns(issues, {TABLE: written}))
    if not raw[1]:
        raise InstanceError([InputIssue(TABLE, None, None, "the file has no vacancy rows")])
    result = []
    for _, label, data in rows:
        try:
            result.append((label, VacancyIn.model_validate(data)))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or None
                message = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "missing":
                    message = "this cell is required"
                # a cell the reader refused is missing from its row: say why once
                if not any(i.row == label and i.field == field for i in issues):
                    issues.append(InputIssue(TABLE, label, field, message))
    return result, issues


def read_vacancies(content: bytes, filename: str, max_rows: int) -> list[VacancyIn]:
    """Every row of the upload, or an ``InstanceError`` naming every problem."""
    rows, issues = read_vacancy_rows(content, filename, max_rows)
    if issues:
        raise InstanceError(name_columns(issues, {TABLE: columns_of(content, filename)}))
    return [row for _, row in rows]
