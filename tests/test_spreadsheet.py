"""What a Dutch Excel writes is read like what an English tool writes: in the core's table files
(the CLI), with Dutch column names, and cell by cell."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from allocator.errors import InstanceError
from allocator.io import ROW_MODELS, read_instance
from allocator.models import Policy
from allocator.spreadsheet import (
    DUTCH_HEADERS,
    canonical_columns,
    kind_of,
    normalise_header,
    parse_cell,
    read_csv,
    read_workbook,
)
from tests.dutch_excel import DUTCH_NAMES, dutch_csv, write_dutch_folder

REPO = Path(__file__).resolve().parents[1]
DEMO_CSV = REPO / "scenarios/westfriesland/csv"


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("float", "566,58", "566.58"),
        ("float", "566.58", "566.58"),
        ("float", "1.234,5", "1234.5"),
        ("float", "1,234.5", "1234.5"),
        ("float", "€ 650,43", "650.43"),
        ("float", "1.234.567", "1234567"),
        ("float", "0,3", "0.3"),
        ("int", "3", "3"),
        ("int", "3,0", "3"),
        ("int", "12.0", "12"),
        ("int", "1.200", "1200"),
        ("date", "26-11-2026", "2026-11-26"),
        ("date", "6-3-2026", "2026-03-06"),
        ("date", "26/11/2026", "2026-11-26"),
        ("date", "26.11.2026", "2026-11-26"),
        ("date", "2026-11-26", "2026-11-26"),
        ("date", "2026-11-26 00:00:00", "2026-11-26"),
        ("bool", "WAAR", True),
        ("bool", "ONWAAR", False),
        ("bool", "ja", True),
        ("bool", "Nee", False),
        ("bool", "true", True),
        ("bool", "0", False),
        ("list", "hoorn;enkhuizen", ["hoorn", "enkhuizen"]),
        ("list", '["a;b", "c"]', ["a;b", "c"]),
        ("str", "WF-U001", "WF-U001"),
    ],
)
def test_cells_in_english_and_dutch(kind, text, value):
    assert parse_cell(kind, text) == value


@pytest.mark.parametrize(("kind", "text"), [("bool", "misschien"), ("date", "31-02-2026")])
def test_a_cell_that_is_neither_says_so(kind, text):
    with pytest.raises(ValueError, match=repr(text)):
        parse_cell(kind, text)


def test_every_field_of_every_table_has_a_dutch_column_name():
    tables = {**ROW_MODELS, "policy": Policy}
    for table, model in tables.items():
        missing = set(model.model_fields) - set(DUTCH_HEADERS[table])
        assert not missing, f"{table}: no Dutch column name for {sorted(missing)}"
        # and no two fields of a table share a name
        names = [normalise_header(n) for names in DUTCH_HEADERS[table].values() for n in names]
        names += [normalise_header(f) for f in model.model_fields]
        assert len(names) == len(set(names)), table


def test_headers_are_compared_without_case_accents_or_punctuation():
    fields = ["min_occupants", "rent", "client_id"]
    columns, written, twice = canonical_columns(
        "units", ["min_occupants", "rent"], ["Min. Bewoners", " HUUR ", "kleur"]
    )
    assert columns == ["min_occupants", "rent", "kleur"]
    assert written == {"min_occupants": "Min. Bewoners", "rent": " HUUR ", "kleur": "kleur"}
    assert not twice
    assert canonical_columns("pinned", fields, ["Cliënt"])[0] == ["client_id"]
    assert canonical_columns("units", fields, ["rent", "huur"])[2] == ["rent"]


def test_csv_with_semicolons_and_a_byte_order_mark():
    header, rows = read_csv(dutch_csv("id,rent,groups\nu1,566.58,a;b\n"))
    assert header == ["id", "rent", "groups"]
    assert rows == [(2, {"id": "u1", "rent": "566,58", "groups": "a;b"})]


def test_workbook_cells_become_text_the_cell_reader_reads():
    import datetime as dt

    book = Workbook()
    sheet = book.active
    sheet.title = "units"
    sheet.append(["id", "rooms", "rent", "accessible", "since"])
    sheet.append(["u1", 3.0, 566.58, True, dt.datetime(2026, 11, 26)])
    buffer = io.BytesIO()
    book.save(buffer)
    (header, rows) = read_workbook(buffer.getvalue())["units"]
    assert rows == [
        (
            2,
            {
                "id": "u1",
                "rooms": "3",
                "rent": "566.58",
                "accessible": "true",
                "since": "2026-11-26",
            },
        )
    ]


@pytest.mark.parametrize("dutch_headers", [False, True])
def test_the_demo_saved_the_dutch_way_reads_as_the_demo(tmp_path, dutch_headers):
    folder = write_dutch_folder(DEMO_CSV, tmp_path / "nl", dutch_headers=dutch_headers)
    assert (folder / "units.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"566,58" in (folder / "units.csv").read_bytes()
    assert read_instance(folder) == read_instance(DEMO_CSV)


def test_the_cli_solves_the_dutch_folder_like_the_english_one(tmp_path):
    folder = write_dutch_folder(DEMO_CSV, tmp_path / "nl", dutch_headers=True)
    answers = []
    for source in (DEMO_CSV, folder):
        out = tmp_path / f"{source.name}.json"
        done = subprocess.run(
            [sys.executable, "-m", "allocator.cli", "solve", str(source), "--out", str(out)],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        assert done.returncode == 0, done.stderr
        answers.append(json.loads(out.read_text())["assignments"])
    assert answers[0] == answers[1]


def test_a_problem_in_a_dutch_file_names_the_files_own_column(tmp_path):
    folder = write_dutch_folder(DEMO_CSV, tmp_path / "nl", dutch_headers=True)
    units = folder / "units.csv"
    text = units.read_bytes().decode("utf-8-sig").replace(";566,58;", ";veel;", 1)
    units.write_bytes(text.encode("utf-8-sig"))
    with pytest.raises(InstanceError) as exc:
        read_instance(folder)
    [issue] = exc.value.issues
    assert (issue.table, issue.row, issue.field) == ("units", "WF-U001 (line 2)", "Huur")
    assert DUTCH_NAMES["units"]["rent"] == "Huur"


def test_a_field_that_takes_text_or_a_map_keeps_the_text():
    # the planner's scenario (a JSON object or a YAML text): never read as key=value pairs
    from typing import Any

    assert kind_of(dict[str, Any] | str) == "str"
    assert kind_of(dict[str, float] | None) == "map"
