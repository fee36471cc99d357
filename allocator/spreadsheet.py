"""Reading spreadsheet files: a CSV or XLSX file into tables of text cells, and each cell into
a value. One reader for the core's table files (``allocator.io``) and the service's uploads.

Both the forms an English tool writes and the forms a Dutch Excel writes are read:

| what | English | Dutch (Excel "CSV (gescheiden door lijstscheidingsteken)") |
| --- | --- | --- |
| between fields | ``,`` | ``;`` (told from the header line) |
| start of file | — | a byte-order mark |
| numbers | ``566.58``, ``1,234.5`` | ``566,58``, ``1.234,5``, ``€ 566,58`` |
| dates | ``2026-11-26`` | ``26-11-2026``, ``26/11/2026``, ``26.11.2026`` (day first) |
| yes / no | true/false, yes/no, y/n, 1/0 | WAAR/ONWAAR, ja/nee, j/n |
| columns | the contract's names (``rent``) | Dutch names (``huur``), see ``DUTCH_HEADERS`` |
| maps (rules 12-15) | ``BW=0.25;jeugd=0.25`` or a JSON object | ``BW=0,25;jeugd=0,25`` |

A number with a comma reads the comma as the decimal sign (dots before it group thousands);
a number with only dots reads a single dot as the decimal point, so ``1.234`` is one and a bit,
while ``1.234.567`` groups thousands. Headers are compared without case, accents, spaces,
dots or hyphens: ``Min. bewoners`` is ``min_bewoners``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import types
import unicodedata
import zipfile
from collections.abc import Iterable
from typing import Any, Literal, Union, get_args, get_origin

Kind = Literal["str", "int", "float", "bool", "date", "list", "map", "places"]

# A table as read: its column names and its rows as (spreadsheet line, {column: text}); the
# header is line 1. Blank rows are left out; empty cells are left out of their row.
RawTable = tuple[list[str], list[tuple[int, dict[str, str]]]]

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "ja", "j", "waar"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "nee", "onwaar"})

#: The Dutch column name of every field, per table: the first name is the one the Dutch
#: templates use, any further ones are also read. English field names are always read.
DUTCH_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "municipalities": {
        "id": ("code",),
        "name": ("naam",),
        "quota": ("contingent",),
        "population": ("inwoners", "inwonertal"),
    },
    "corporations": {
        "id": ("code",),
        "name": ("naam",),
        "quota": ("contingent",),
    },
    "complexes": {
        "id": ("code",),
        "municipality_id": ("gemeente",),
        "units_total": ("woningen_totaal", "aantal_woningen"),
        "vulnerable_residents": ("kwetsbare_bewoners",),
        "max_vulnerable_share": ("max_aandeel_kwetsbaar",),
        "name": ("naam",),
        "group_max_share": ("max_aandeel_per_groep",),
        "group_residents": ("bewoners_per_groep",),
        "max_vulnerable_per_staircase": ("max_kwetsbaar_per_portiek",),
        "staircase_vulnerable_residents": ("kwetsbare_bewoners_per_portiek",),
        "neighbourhood_id": ("wijk",),
    },
    "units": {
        "id": ("code", "woning"),
        "complex_id": ("complex",),
        "corporation_id": ("corporatie",),
        "rooms": ("kamers", "aantal_kamers"),
        "rent": ("huur", "huurprijs"),
        "accessible": ("rolstoeltoegankelijk", "toegankelijk"),
        "min_occupants": ("min_bewoners",),
        "max_occupants": ("max_bewoners",),
        "allowed_groups": ("doelgroepen",),
        "staircase_id": ("portiek",),
    },
    "clients": {
        "id": ("code", "pseudoniem"),
        "household_size": ("huishoudgrootte", "personen"),
        "max_rent": ("max_huur",),
        "needs_accessible": ("rolstoeltoegankelijk_nodig",),
        "preferred_municipalities": ("voorkeursgemeenten",),
        "excluded_municipalities": ("uitgesloten_gemeenten",),
        "target_group": ("doelgroep",),
        "ready_since": ("uitstroomklaar_sinds",),
        "refused_units": ("geweigerde_woningen",),
        "support_provider_id": ("begeleider", "zorgaanbieder"),
    },
    "policy": {
        "max_vulnerable_share": ("max_aandeel_kwetsbaar",),
        "reference_date": ("peildatum",),
        "objective": ("doelstelling",),
    },
    "pinned": {
        "client_id": ("cliënt",),
        "unit_id": ("woning",),
    },
    "neighbourhoods": {
        "id": ("code",),
        "municipality_id": ("gemeente",),
        "quota": ("contingent",),
        "name": ("naam",),
    },
    "support_providers": {
        "id": ("code",),
        "name": ("naam",),
        "capacity": ("plaatsen", "capaciteit"),
    },
    "acceptance": {
        "client_id": ("cliënt",),
        "unit_id": ("woning",),
        "probability": ("kans", "acceptatiekans"),
    },
}
#: The service's vacancy uploads are the contract's units.
DUTCH_HEADERS["vacancies"] = DUTCH_HEADERS["units"]


# ----------------------------------------------------------------------------------------------
# Headers


def normalise_header(name: str) -> str:
    """``Min. Bewoners`` → ``min_bewoners``; ``Cliënt`` → ``client``."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    plain = re.sub(r"[\s.\-/]+", "_", plain.strip().lower())
    return re.sub(r"_+", "_", plain).strip("_")


def header_map(table: str, fields: list[str]) -> dict[str, str]:
    """Normalised column name → field, for the fields given: English and Dutch names."""
    names = {normalise_header(f): f for f in fields}
    for field, dutch in DUTCH_HEADERS.get(table, {}).items():
        if field in fields:
            for name in dutch:
                names.setdefault(normalise_header(name), field)
    return names


def dutch_header(table: str, field: str) -> str:
    """The column name a Dutch template uses for ``field`` (the field's own name if none)."""
    return DUTCH_HEADERS.get(table, {}).get(field, (field,))[0]


def canonical_columns(
    table: str, fields: list[str], columns: list[str]
) -> tuple[list[str], dict[str, str], list[str]]:
    """The file's columns as field names (a column no name matches is kept as written), the
    file's own name of each field (to name it back in messages), and the fields named twice."""
    names = header_map(table, fields)
    result, written, twice = [], {}, []
    for column in columns:
        field = names.get(normalise_header(column), column) if column else column
        if field in written and field:
            twice.append(field)
        written.setdefault(field, column)
        result.append(field)
    return result, written, twice


# ----------------------------------------------------------------------------------------------
# Files


class TooLarge(ValueError):
    """A file beyond a size limit, found while it was read (never after reading it whole)."""


class UnpacksTooLarge(TooLarge):
    """A workbook (a zip) that would unpack to more than the limit: refused before unpacking."""


def read_csv(
    content: bytes, max_rows: int | None = None, max_columns: int | None = None
) -> RawTable:
    """A CSV file's bytes: UTF-8 with or without a byte-order mark, ``,`` or ``;`` between
    fields. Raises ``ValueError`` (a sentence) when it cannot be read, ``TooLarge`` at the first
    row past ``max_rows`` or line wider than ``max_columns``."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")  # older Excel versions save "ANSI"
        except UnicodeDecodeError:
            raise ValueError("the file is not UTF-8 text") from None
    if not text.strip():
        raise ValueError("the file is empty (not even a header line)")
    first = text.lstrip("\r\n").splitlines()[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    try:
        lines = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        return _table(lines, max_rows, max_columns)
    except csv.Error as exc:
        raise ValueError(f"cannot read the CSV: {exc}") from None


def read_workbook(
    source: Any,
    max_rows: int | None = None,
    max_columns: int | None = None,
    max_unpacked_bytes: int | None = None,
    sheets: tuple[str, ...] | None = None,
) -> dict[str, RawTable]:
    """The sheets of an ``.xlsx`` workbook (a path or the file's bytes), by sheet name: every
    sheet, or only the first of ``sheets`` (names without case) that it has, else its first.
    Raises ``ValueError`` (a sentence) when it cannot be read; ``TooLarge`` before anything is
    unpacked when it would unpack to more than ``max_unpacked_bytes`` (a zip bomb), and while
    reading at the first row or column past the limits (the size a sheet claims is not trusted:
    rows stream one by one and are counted)."""
    from openpyxl import load_workbook

    if max_unpacked_bytes is not None:
        _check_unpacked_size(source, max_unpacked_bytes)
    try:
        book = load_workbook(
            io.BytesIO(source) if isinstance(source, bytes) else source,
            read_only=True,
            data_only=True,
        )
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValueError(f"cannot read the workbook: {type(exc).__name__}: {exc}") from None
    try:
        chosen = book.worksheets
        if sheets is not None and book.worksheets:
            names = {str(ws.title).strip().lower(): ws for ws in book.worksheets}
            chosen = [next((names[n] for n in sheets if n in names), book.worksheets[0])]
        out = {}
        for sheet in chosen:
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()
            lines = ([cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True))
            out[str(sheet.title)] = _table(lines, max_rows, max_columns)
        return out
    finally:
        book.close()


def _check_unpacked_size(source: Any, limit: int) -> None:
    """Refuse a zip bomb before anything is unpacked. (A member never unpacks to more than the
    size its header declares: Python's zipfile stops there.)"""
    try:
        members = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        infos = members.infolist()
    except zipfile.BadZipFile:
        raise ValueError("the file is not a workbook") from None
    unpacked = sum(m.file_size for m in infos)
    if unpacked > limit or len(infos) > 10_000:
        raise UnpacksTooLarge(
            f"the workbook unpacked is {unpacked:,} bytes in {len(infos):,} parts; at most "
            f"{limit:,} bytes are read"
        )


def _table(
    lines: Iterable[list[str]], max_rows: int | None = None, max_columns: int | None = None
) -> RawTable:
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(lines, start=1):
        while values and not values[-1].strip():
            values = values[:-1]  # a spreadsheet pads rows with empty cells
        if max_columns is not None and len(values) > max_columns:
            raise TooLarge(f"line {number} has more than {max_columns} columns")
        if header is None:
            if any(v.strip() for v in values):
                header = [h.strip() for h in values]  # blank lines above the header are skipped
            continue
        cells = {h: v.strip() for h, v in zip(header, values, strict=False) if h and v.strip()}
        if any(v.strip() for v in values[len(header) :]):
            cells[EXTRA_CELLS] = "x"
        if cells:
            if max_rows is not None and len(rows) == max_rows:
                raise TooLarge(f"more than {max_rows} rows; at most {max_rows} per file")
            rows.append((number, cells))
    return (header or []), rows


#: The key a row gets when it has more cells than the header has columns.
EXTRA_CELLS = "(extra cells)"


def cell_text(value: Any) -> str:
    """A cell's value as the text a person sees: numbers, dates and booleans from a workbook
    become text here and are read back by ``parse_cell`` like any other cell."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ----------------------------------------------------------------------------------------------
# Cells


_WHOLE = re.compile(r"^[+-]?\d+([.,]0*)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d*$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")
_DOT_GROUPS = re.compile(r"^[+-]?\d{1,3}(\.\d{3}){2,}$")
_COMMA_GROUPS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})([ T]00:00(:00(\.0+)?)?)?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


def parse_cell(kind: Kind, text: str) -> Any:
    """One cell's text as the value for a field of ``kind``. Numbers and dates are returned as
    the contract's text (``566.58``, ``2026-11-26``) for the model to validate; yes/no and list
    cells as values. Raises ``ValueError`` with a sentence a person can act on."""
    if kind == "bool":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"expected yes or no (true/false, ja/nee, WAAR/ONWAAR, 1/0), got {text!r}")
    if kind == "list":
        return _list(text)
    if kind == "map":  # shares and counts per group or staircase
        return {key: _number(value) for key, value in _map(text).items()}
    if kind == "places":  # a support provider's capacity: municipality=places
        return [
            {"municipality_id": key, "places": _whole(value)} for key, value in _map(text).items()
        ]
    if kind == "int":
        return _whole(text)
    if kind == "float":
        return _number(text)
    if kind == "date":
        return _date(text)
    return text


def _list(text: str) -> list[str]:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"malformed JSON list {text!r}: {exc.msg}") from None
        if not isinstance(items, list) or any(isinstance(x, list | dict) for x in items):
            raise ValueError(f"expected a list of values, got {text!r}")
        return [str(x).strip() for x in items]
    return [item.strip() for item in text.split(";") if item.strip()]


def _map(text: str) -> dict[str, str]:
    """A map cell: ``key=value`` pairs separated by ``;`` (``BW=0.25;jeugd=0.25``), or a JSON
    object. Values stay text for the number readers and the model."""
    if text.startswith("{"):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"malformed JSON object {text!r}: {exc.msg}") from None
        if not isinstance(items, dict):
            raise ValueError(f"expected key=value pairs, got {text!r}")
        return {str(k).strip(): str(v).strip() for k, v in items.items()}
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"expected key=value pairs separated by ';', got {item!r}")
        if key.strip() in out:
            raise ValueError(f"key {key.strip()!r} given twice")
        out[key.strip()] = value.strip()
    return out


def _whole(text: str) -> str:
    plain = text.replace(" ", "").replace("\u00a0", "")
    if _THOUSANDS.match(plain):
        return plain.replace(".", "")  # 1.200 in a Dutch sheet
    if _WHOLE.match(plain):
        return re.split(r"[.,]", plain)[0]  # a spreadsheet may store 12 as 12.0 (or 12,0)
    return text  # the model says what is wrong with it


def _number(text: str) -> str:
    plain = re.sub(r"[\s\u00a0€]", "", text)
    if _COMMA_DECIMAL.match(plain):
        return plain.replace(".", "").replace(",", ".")
    if _DOT_GROUPS.match(plain):
        return plain.replace(".", "")
    if _COMMA_GROUPS.match(plain) and "." in plain:
        return plain.replace(",", "")
    return plain if plain else text


def _date(text: str) -> str:
    if m := _ISO_DATE.match(text):
        return m.group(1)  # a date cell read as text may carry a midnight time
    if m := _DAY_FIRST.match(text):
        day, month, year = (int(g) for g in m.groups())
        try:
            return dt.date(year, month, day).isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not a date (day-month-year)") from None
    return text


def kind_of(annotation: Any) -> Kind:
    """A model field's annotation as the kind of cell that holds it."""
    if get_origin(annotation) in (Union, types.UnionType):
        given = [a for a in get_args(annotation) if a is not type(None)]
        if len(given) > 1:
            return "str"  # text or something else (a scenario as a mapping or as YAML text)
        annotation = given[0]
    if get_origin(annotation) is dict:
        return "map"
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (str,)
        # a list of rows (a support provider's capacity) is written as a map
        return "places" if isinstance(item, type) and hasattr(item, "model_fields") else "list"
    for kind, typ in (("bool", bool), ("int", int), ("float", float), ("date", dt.date)):
        if annotation is typ:
            return kind  # type: ignore[return-value]
    return "str"
