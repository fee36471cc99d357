"""Every request's work is bounded before it starts, and the same 422 on SQLite as PostgreSQL.

- ids too long or with control characters, texts longer than their column, numbers beyond
  their column or beyond sense: 422 naming the field;
- an oversized what-if (quota 10^20) or scenario simulation (a backlog of 50 million): 422
  before anything is queued;
- a chunked request body beyond MAX_REQUEST_BYTES: 413 while streaming;
- an XLSX upload with too many rows (no dimension tag) or too many columns, a zip bomb: refused
  while reading.
"""

from __future__ import annotations

import copy
import io
import zipfile

import pytest
from openpyxl import Workbook

from tests.service.test_api import CLIENT, VACANCY, is_problem

BAD_VACANCIES = [
    ({"id": "U" * 10_000}, "id"),
    ({"id": "U-\x00-1"}, "id"),
    ({"id": "U\n1"}, "id"),
    ({"rooms": 2**31}, "rooms"),
    ({"rooms": 10**6}, "rooms"),
    ({"rent": 1e308}, "rent"),
    ({"allowed_groups": ["G" * 1000]}, "allowed_groups"),
    ({"complex_id": "c" * 101}, "complex_id"),
]
BAD_CLIENTS = [
    ({"id": "C" * 101}, "id"),
    ({"id": "C\x001"}, "id"),
    ({"target_group": "T" * 1000}, "target_group"),
    ({"household_size": 2**31}, "household_size"),
    ({"max_rent": 1e308}, "max_rent"),
    ({"preferred_municipalities": ["h" * 5000]}, "preferred_municipalities"),
    ({"support_contact": "a\x00b"}, "support_contact"),
]


@pytest.mark.parametrize(("change", "field"), BAD_VACANCIES)
def test_vacancy_values_beyond_the_columns_are_422(client, keys, change, field):
    body = is_problem(
        client.post("/vacancies", json=[{**VACANCY, **change}], headers=keys.corporation), 422
    )
    assert any(field in (e["location"] or "") for e in body["errors"]), body


@pytest.mark.parametrize(("change", "field"), BAD_CLIENTS)
def test_client_values_beyond_the_columns_are_422(client, keys, change, field):
    body = is_problem(
        client.post("/clients", json={**CLIENT, **change}, headers=keys.coordinator), 422
    )
    assert any(field in (e["location"] or "") for e in body["errors"]), body


def test_free_text_with_a_nul_is_422(client, keys):
    r = client.post(
        "/vacancies/WF-U001/withdraw", json={"reason": "let\x00"}, headers=keys.coordinator
    )
    is_problem(r, 422)


def test_an_oversized_what_if_is_refused(client, keys):
    r = client.post("/scenarios", json={"quotas": {"hoorn": 10**20}}, headers=keys.planner)
    is_problem(r, 422)


def test_an_oversized_scenario_simulation_is_refused_before_it_is_queued(client, keys):
    from tests.service.test_scenario_runs import tiny

    for path, value in (
        (("clients", "initial_backlog"), 50_000_000),
        (("clients", "per_week"), 1e9),
        (("vacancies", "streams", 0, "per_week"), 1e9),
    ):
        scenario = copy.deepcopy(tiny())
        where = scenario
        for step in path[:-1]:
            where = where[step]
        where[path[-1]] = value
        r = client.post("/scenario-runs", json={"scenario": scenario}, headers=keys.planner)
        body = is_problem(r, 422)
        assert any(path[-1] in (e["location"] or "") for e in body["errors"]), body
    assert client.get("/scenario-runs", headers=keys.planner).json() == []


def test_a_chunked_body_beyond_the_limit_is_413(client, keys):
    limit = client.app.state.settings.max_request_bytes

    def chunks():
        yield b"["
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536
        yield b"]"

    r = client.post(
        "/vacancies",
        content=chunks(),
        headers={**keys.corporation, "Content-Type": "application/json"},
    )
    is_problem(r, 413)


def _xlsx(rows: int, columns: int = 8) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("vacancies")
    header = list(VACANCY)[:columns] + [f"extra{i}" for i in range(columns - len(VACANCY))]
    sheet.append(header)
    for i in range(rows):
        sheet.append([f"B-{i}", "cx-hoorn-1", "corp-a", 2, 600, True, 1, 2][:columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return _without_dimension(buffer.getvalue())


def _without_dimension(content: bytes) -> bytes:
    """A sheet that does not say its size: the reader must count while reading."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b'<dimension ref="A1"/>', b"")
            target.writestr(item, data)
    return out.getvalue()


def upload(client, keys, content: bytes, name: str = "v.xlsx"):
    files = {"file": (name, content, "application/octet-stream")}
    return client.post("/vacancies/upload", files=files, headers=keys.corporation)


def test_an_xlsx_with_too_many_rows_is_refused_while_reading(client, keys):
    body = is_problem(upload(client, keys, _xlsx(6_000)), 422)
    assert "at most 5000" in str(body["errors"]), body


def test_an_xlsx_with_too_many_columns_is_refused(client, keys):
    body = is_problem(upload(client, keys, _xlsx(3, columns=300)), 422)
    assert "columns" in str(body["errors"]), body


def test_a_zip_bomb_is_refused(client, keys):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("[Content_Types].xml", "<Types/>")
        bomb.writestr("xl/worksheets/sheet1.xml", b" " * 200_000_000)
    content = out.getvalue()
    assert len(content) < 1_000_000
    body = is_problem(upload(client, keys, content), 413)
    assert "unpacked" in body["detail"], body


def test_a_run_beyond_the_worker_memory_limit_fails_saying_so(database_url, settings):
    import datetime as dt

    from fastapi.testclient import TestClient

    from allocator.generator import generate
    from service.db import get_sessionmaker
    from service.main import create_app
    from service.seed import load_region
    from tests.service.helpers import wait_for_run
    from tests.service.test_server import make_key

    with get_sessionmaker(database_url)() as session:
        region = generate(1500, 4000, 8, 1, reference_date=dt.date.today())
        load_region(session, region, name="large")
        session.commit()
    coordinator = make_key(database_url, "coordinator")
    small = settings.model_copy(update={"worker_memory_limit_mb": 16})
    with TestClient(create_app(small)) as limited:
        run = limited.post("/runs", headers=coordinator).json()
        run = wait_for_run(limited, run["id"], coordinator, timeout=120)
    assert run["status"] == "failed", run
    assert "WORKER_MEMORY_LIMIT_MB = 16 MB" in run["error"]["detail"], run
