"""Reading instances and writing instances and proposals: JSON, a folder of CSV files, Excel.

The tables of a CSV folder or a workbook are the contract's tables, one file or sheet each
(``municipalities``, ``corporations``, ``complexes``, ``units``, ``clients``; optional ``policy``
with one row, ``pinned``, ``acceptance`` (a chance in [0, 1] per client and unit, for the
``expected_acceptance`` objective level; written only when given), and for rules 14-15
``neighbourhoods`` and ``support_providers``). In
a cell, empty means "not given" (the contract's default applies), lists are separated by ``;``
(a JSON list is accepted too); what a Dutch Excel writes is read too (``;`` between fields,
``566,58``, ``26-11-2026``, WAAR/ONWAAR, ja/nee, Dutch column names: see
``allocator.spreadsheet``). Map fields (``group_max_share``, ``group_residents``,
``staircase_vulnerable_residents``) are ``key=value`` pairs separated by ``;``
(``BW=0.25;jeugd=0.25``) or a JSON object; a support provider's ``capacity`` is written the same
way, municipality=places (``hoorn=3;enkhuizen=2``). Every problem with the input becomes an
``InstanceError`` whose issues name table, row and field; rows are labelled with their id and
spreadsheet line (``units[u17 (line 5)].rent``), the header being line 1.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from allocator.errors import InputIssue, InstanceError
from allocator.models import (
    TABLES,
    AcceptanceEstimate,
    Client,
    Complex,
    ComplexSummary,
    Corporation,
    CorporationSummary,
    Instance,
    LimitSummary,
    Municipality,
    MunicipalitySummary,
    Neighbourhood,
    PinnedPair,
    Policy,
    Proposal,
    SupportPlaces,
    SupportProvider,
    Unit,
    parse_instance,
)
from allocator.spreadsheet import (
    EXTRA_CELLS,
    Kind,
    RawTable,
    canonical_columns,
    dutch_header,
    kind_of,
    parse_cell,
    read_csv,
    read_workbook,
)

if TYPE_CHECKING:
    # pandas and openpyxl are imported where a table or workbook is written: they take a
    # third of a second to import, which a JSON solve does not need
    import pandas as pd

PathLike = str | os.PathLike[str]

ROW_MODELS: dict[str, type[BaseModel]] = {
    "municipalities": Municipality,
    "corporations": Corporation,
    "complexes": Complex,
    "units": Unit,
    "clients": Client,
    "pinned": PinnedPair,
    "neighbourhoods": Neighbourhood,
    "support_providers": SupportProvider,
    "acceptance": AcceptanceEstimate,
}
OPTIONAL_TABLES = ("policy", "pinned", "neighbourhoods", "support_providers", "acceptance")
_FILE_TABLE = "instance"  # the table named by problems with the file as a whole


# ----------------------------------------------------------------------------------------------
# Reading


def read_instance(path: PathLike) -> Instance:
    """An instance from a ``.json`` file, a folder of CSV files or an ``.xlsx`` workbook."""
    path = Path(path)
    if not path.exists():
        raise _file_error(f"file not found: {path}")
    if path.is_dir():
        return _read_tables(_csv_tables(path), "file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".xlsx":
        return _read_tables(_xlsx_tables(path), "sheet")
    raise _file_error(
        f"unsupported file type {path.suffix or '(none)'!r}: give a .json file, an .xlsx "
        "workbook or a folder of CSV files"
    )


def _file_error(message: str) -> InstanceError:
    return InstanceError([InputIssue(_FILE_TABLE, None, None, message)])


def _read_json(path: Path) -> Instance:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _file_error(f"cannot read {path.name}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _file_error(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    return parse_instance(data)


def _csv_tables(folder: Path) -> Iterator[tuple[str, RawTable | None, str | None]]:
    for table in dict.fromkeys((*TABLES, *OPTIONAL_TABLES)):
        file = folder / f"{table}.csv"
        if not file.is_file():
            yield table, None, f"missing file {file.name}"
            continue
        try:
            content = read_csv(file.read_bytes())
        except OSError as exc:
            yield table, None, f"cannot read {file.name}: {exc}"
            continue
        except ValueError as exc:
            yield table, None, f"{file.name}: {exc}"
            continue
        yield table, content, None


def _xlsx_tables(path: Path) -> Iterator[tuple[str, RawTable | None, str | None]]:
    try:
        sheets = read_workbook(path)
    except ValueError as exc:
        raise _file_error(f"{path.name}: {exc}") from None
    names = {str(name).strip().lower(): name for name in sheets}
    for table in dict.fromkeys((*TABLES, *OPTIONAL_TABLES)):
        if table not in names:
            yield table, None, f"missing sheet {table!r}"
            continue
        yield table, sheets[names[table]], None


def _read_tables(tables: Iterator[tuple[str, RawTable | None, str | None]], noun: str) -> Instance:
    raw: dict[str, RawTable] = {}
    issues: list[InputIssue] = []
    for table, content, problem in tables:
        if content is None:
            if table not in OPTIONAL_TABLES or not problem.startswith("missing"):
                issues.append(InputIssue(table, None, None, problem or f"missing {noun}"))
            continue
        raw[table] = content
    data: dict[str, Any] = {}
    lines: dict[str, list[int]] = {}
    written: dict[str, dict[str, str]] = {}
    converted: dict[str, list[tuple[int, str | None, dict[str, Any]]]] = {}
    bad_header = bool(issues)
    for table, content in raw.items():
        model = Policy if table == "policy" else ROW_MODELS[table]
        rows, found, written[table] = table_rows(table, model, content)
        issues.extend(found)
        bad_header = bad_header or rows is None
        converted[table] = rows or []
    if bad_header:
        # without the right tables and columns every row would repeat the same problem
        raise InstanceError(name_columns(issues, written))

    for table, rows in converted.items():
        lines[table] = [line for line, _, _ in rows]
        if table == "policy":
            if len(rows) > 1:
                issues.append(
                    InputIssue("policy", None, None, f"has {len(rows)} rows, expected one")
                )
            if rows:
                data["policy"] = rows[0][2]
        else:
            data[table] = [values for _, _, values in rows]

    row_labels = {table: [f"line {n}" for n in numbers] for table, numbers in lines.items()}
    try:
        instance = parse_instance(data, row_labels)
    except InstanceError as exc:
        # a cell the reader refused is missing from its row: say why once, not twice
        refused = {(i.table, i.row, i.field) for i in issues}
        found = _with_lines(exc.issues, data, lines)
        issues += [i for i in found if (i.table, i.row, i.field) not in refused]
        raise InstanceError(name_columns(issues, written)) from None
    if issues:
        raise InstanceError(name_columns(issues, written))
    return instance


def _label(row_id: str | None, line: int) -> str:
    return f"{row_id} (line {line})" if row_id else f"line {line}"


def header_issues(table: str, model: type[BaseModel], columns: list[str]) -> list[InputIssue]:
    """A table's header against its model: required columns missing, unknown columns present.

    Nameless columns (the empty ones spreadsheets leave at the edge) are ignored.
    """
    fields = model.model_fields
    issues = [
        InputIssue(table, None, name, _missing_column(table, name))
        for name, info in fields.items()
        if info.is_required() and name not in columns
    ]
    issues += [
        InputIssue(table, None, col, "unknown column")
        for col in columns
        if col and col not in fields
    ]
    return issues


def _missing_column(table: str, field: str) -> str:
    dutch = dutch_header(table, field)
    return "missing column" if dutch == field else f"missing column (in Dutch: {dutch})"


def _with_lines(
    issues: list[InputIssue], data: dict[str, Any], lines: dict[str, list[int]]
) -> list[InputIssue]:
    """Cross-table issues name rows by id only; add the spreadsheet line(s) of that id."""
    where: dict[tuple[str, str], list[int]] = {}
    for table in TABLES:
        for row, line in zip(data.get(table, []), lines.get(table, []), strict=True):
            if "id" in row:
                where.setdefault((table, str(row["id"]).strip()), []).append(line)
    result = []
    for issue in issues:
        row = issue.row
        found = where.get((issue.table, row)) if row is not None else None
        if found:
            plural = "s" if len(found) > 1 else ""
            row = f"{row} (line{plural} {', '.join(map(str, found))})"
        elif (
            issue.table in ("pinned", "acceptance") and row and (m := re.fullmatch(r"#(\d+)", row))
        ):
            # rows without an id (pairs) are named by their spreadsheet line
            index = int(m.group(1))
            if index < len(lines.get(issue.table, [])):
                row = f"line {lines[issue.table][index]}"
        result.append(InputIssue(issue.table, row, issue.field, issue.message))
    return result


def _convert(
    table: str,
    label: str | None,
    kinds: dict[str, Kind],
    cells: dict[str, str],
    issues: list[InputIssue],
) -> dict[str, Any]:
    """Cell texts to field values (``spreadsheet.parse_cell``: English and Dutch forms);
    what the cell reader leaves as text is left to the model's own validation."""
    row: dict[str, Any] = {}
    for field, text in cells.items():
        try:
            row[field] = parse_cell(kinds.get(field, "str"), text)
        except ValueError as exc:
            issues.append(InputIssue(table, label, field, str(exc)))
    return row


def table_rows(
    table: str, model: type[BaseModel], raw: RawTable
) -> tuple[list[tuple[int, str | None, dict[str, Any]]] | None, list[InputIssue], dict[str, str]]:
    """One table as read from a file: its header checked (English or Dutch column names), then
    every row as (line, label, values). Returns the rows (None when the header is wrong), the
    issues found, and the file's own name of each field (``name_columns`` names issues by it).
    The one-row policy table labels no row."""
    fields = list(model.model_fields)
    columns, written, twice = canonical_columns(table, fields, raw[0])
    issues = header_issues(table, model, columns)
    issues += [
        InputIssue(table, None, f, "column given twice (in English and Dutch?)") for f in twice
    ]
    if issues:
        return None, issues, written
    rename = dict(zip(raw[0], columns, strict=True))
    kinds = {name: kind_of(info.annotation) for name, info in model.model_fields.items()}
    rows = []
    for line, cells in raw[1]:
        cells = {rename.get(k, k): v for k, v in cells.items()}
        label = None if table == "policy" else _label(cells.get("id"), line)
        if EXTRA_CELLS in cells:
            issues.append(InputIssue(table, label, None, "more cells than columns"))
            continue
        rows.append((line, label, _convert(table, label, kinds, cells, issues)))
    return rows, issues, written


def name_columns(issues: list[InputIssue], written: dict[str, dict[str, str]]) -> list[InputIssue]:
    """Issues name a field by the file's own column name (``huur`` rather than ``rent``)."""
    return [
        InputIssue(i.table, i.row, written.get(i.table, {}).get(i.field, i.field), i.message)
        if i.field
        else i
        for i in issues
    ]


# ----------------------------------------------------------------------------------------------
# Writing instances


def write_instance(instance: Instance, path: PathLike) -> None:
    """Write ``instance`` as ``.json``, ``.xlsx`` or (a path without suffix) a folder of CSVs."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(instance.model_dump(mode="json", exclude_none=True), indent=2)
        _atomic(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    elif suffix == ".xlsx":
        # Numbers, yes/no and dates stay native cells, so a spreadsheet can sum and sort them.
        sheets = _instance_tables(instance)
        _atomic(path, lambda tmp: _write_workbook(sheets, tmp))
    elif path.is_dir() or not suffix:
        import pandas as pd

        path.mkdir(parents=True, exist_ok=True)
        for name, (cols, rows) in _instance_tables(instance).items():
            frame = pd.DataFrame([[_csv_cell(v) for v in row] for row in rows], columns=cols)
            _atomic(path / f"{name}.csv", lambda tmp, f=frame: f.to_csv(tmp, index=False))
    else:
        raise ValueError(f"cannot write an instance as {suffix!r}: use .json, .xlsx or a folder")


def _instance_tables(instance: Instance) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every table with every field as a column, so a written file doubles as a template."""
    tables = {}
    for table, model, rows in (
        *(
            (t, ROW_MODELS[t], getattr(instance, t))
            for t in dict.fromkeys((*TABLES, "pinned", "acceptance"))
            if t not in ("neighbourhoods", "support_providers", "acceptance")
            or getattr(instance, t)
        ),
        ("policy", Policy, [instance.policy]),
    ):
        fields = model.model_fields
        cols = list(fields)
        # An empty cell means "the default", so an empty list whose default is not empty must
        # be written as "[]".
        empty = {
            c: "[]" if fields[c].get_default(call_default_factory=True) else None for c in cols
        }
        tables[table] = (cols, [[_out(getattr(row, c), empty[c]) for c in cols] for row in rows])
    return tables


def _out(value: Any, empty: str | None) -> Any:
    """Lists as text: items joined by ";", or a JSON list when an item contains ";". Maps (and
    a provider's capacity) as ``key=value`` pairs joined by ";", or a JSON object."""
    if isinstance(value, list) and value and isinstance(value[0], SupportPlaces):
        value = {p.municipality_id: p.places for p in value}
    if isinstance(value, dict):
        if any(";" in str(k) or "=" in str(k) for k in value):
            return json.dumps(value)
        return ";".join(f"{k}={v}" for k, v in value.items()) if value else None
    if isinstance(value, list):
        if not value:
            return empty
        if any(";" in str(v) for v in value):
            return json.dumps(value)
        return ";".join(str(v) for v in value)
    return value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# ----------------------------------------------------------------------------------------------
# Writing proposals


_SUMMARY_MODELS: dict[str, type[BaseModel]] = {
    "municipalities": MunicipalitySummary,
    "corporations": CorporationSummary,
    "complexes": ComplexSummary,
    "limits": LimitSummary,
}


def proposal_tables(proposal: Proposal) -> dict[str, pd.DataFrame]:
    """The proposal as flat tables: assignments, unplaced, the summaries (when present), the
    solver's level facts and a ``run`` table of overall facts."""
    import pandas as pd

    assignment_cols = [
        "client_id", "unit_id", "municipality_id", "complex_id", "corporation_id", "pinned",
        "waiting_days", "preference_rank", "eligible_units", "explanation",
    ]  # fmt: skip
    tables = {
        "assignments": pd.DataFrame(
            [a.model_dump(include=set(assignment_cols)) for a in proposal.assignments],
            columns=assignment_cols,
        ),
        "unplaced": pd.DataFrame(
            [
                {
                    "client_id": u.client_id,
                    "waiting_days": u.waiting_days,
                    "eligible_units": u.eligible_units,
                    "reasons": "; ".join(r.message for r in u.reasons),
                }
                for u in proposal.unplaced
            ],
            columns=["client_id", "waiting_days", "eligible_units", "reasons"],
        ),
    }
    if proposal.summaries is not None:
        for name in ("municipalities", "corporations", "complexes", "limits"):
            cols = list(_SUMMARY_MODELS[name].model_fields)
            rows = [r.model_dump() for r in getattr(proposal.summaries, name)]
            tables[name] = pd.DataFrame(rows, columns=cols)
    level_cols = ["level", "status", "value", "bound", "gap", "wall_seconds"]
    tables["solver"] = pd.DataFrame(
        [lv.model_dump() for lv in proposal.solver.levels], columns=level_cols
    )
    solver = proposal.solver
    facts = {
        "status": proposal.status,
        "proven": proposal.proven,
        "reference_date": proposal.reference_date.isoformat(),
        "objective_levels": ";".join(proposal.objective_levels),
        "placed": proposal.objective.placed,
        "waiting_days": proposal.objective.waiting_days,
        "rank_sum": proposal.objective.rank_sum,
        "unplaced": len(proposal.unplaced),
        "engine": solver.engine,
        "version": solver.version,
        "parameters": json.dumps(solver.parameters, default=str),
        "eligible_pairs": solver.eligible_pairs,
        "eligibility_seconds": solver.eligibility_seconds,
        "build_seconds": solver.build_seconds,
        "solve_seconds": solver.solve_seconds,
        "note": solver.note or "",
    }
    tables["run"] = pd.DataFrame({"fact": list(facts), "value": [str(v) for v in facts.values()]})
    return tables


def write_proposal(
    proposal: Proposal, path: PathLike, fmt: Literal["json", "csv", "xlsx"] | None = None
) -> None:
    """Write ``proposal`` as JSON, CSV (assignments at ``path``, unplaced beside it as
    ``<stem>.unplaced.csv``) or an Excel workbook; ``fmt`` defaults to the path's suffix."""
    path = Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")  # type: ignore[assignment]
    if fmt == "json":
        text = proposal.model_dump_json(indent=2)
        _atomic(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    elif fmt == "csv":
        tables = proposal_tables(proposal)
        unplaced_path = path.with_name(f"{path.stem}.unplaced.csv")
        with _staged(path) as first, _staged(unplaced_path) as second:
            tables["assignments"].to_csv(first, index=False)
            tables["unplaced"].to_csv(second, index=False)
    elif fmt == "xlsx":
        sheets = {
            name: (list(frame.columns), _frame_rows(frame))
            for name, frame in proposal_tables(proposal).items()
        }
        _atomic(path, lambda tmp: _write_workbook(sheets, tmp))
    else:
        raise ValueError(f"cannot write a proposal as {fmt!r}: use json, csv or xlsx")


def _frame_rows(frame: pd.DataFrame) -> list[list[Any]]:
    rows = []
    for values in frame.itertuples(index=False, name=None):
        rows.append([None if _missing(v) else _plain(v) for v in values])
    return rows


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value  # numpy scalars to Python


# ----------------------------------------------------------------------------------------------
# Files


def _write_workbook(sheets: dict[str, tuple[list[str], list[list[Any]]]], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    for name, (cols, rows) in sheets.items():
        sheet = book.create_sheet(name)
        for i, col in enumerate(cols, start=1):
            width = max(
                [len(col), *(len(str(r[i - 1])) for r in rows[:200] if r[i - 1] is not None)]
            )
            sheet.column_dimensions[get_column_letter(i)].width = min(60, width + 2)
        sheet.append(cols)
        for row in rows:
            sheet.append([_safe_cell(sheet, v) for v in row])
    book.save(path)


def _safe_cell(sheet: Any, value: Any) -> Any:
    # openpyxl stores any text starting with "=" as a formula: a name like "=Hoorn" would be lost
    # on reading, and a crafted one would run in the coordinator's spreadsheet.
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    with _staged(path) as tmp:
        write(tmp)


@contextmanager
def _staged(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it only when the block succeeds, so a
    failure never leaves a half-written file (readers see the old one or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private; give it the mode an ordinary new file would have.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_UMASK)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
