"""The command line, end to end on the demo region and on bad input."""

from __future__ import annotations

import gc
import json

import pytest
from typer.testing import CliRunner

from allocator.cli import DEMO, app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def proposal_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("out") / "proposal.json"
    result = run("solve", DEMO, "--out", path)
    assert result.exit_code == 0, result.output
    return path


def test_solve_writes_the_contracts_proposal(proposal_file):
    proposal = json.loads(proposal_file.read_text())
    assert {"status", "assignments", "unplaced", "objective", "solver"} <= proposal.keys()
    assert proposal["status"] == "optimal" and proposal["proven"]
    assert set(proposal["objective"]) == {"placed", "waiting_days", "rank_sum"}
    assert proposal["objective"]["placed"] == len(proposal["assignments"]) > 0
    assert all(a["explanation"] for a in proposal["assignments"])
    assert all(u["reasons"] for u in proposal["unplaced"])
    assert [lv["status"] for lv in proposal["solver"]["levels"]] == ["optimal"] * 3


def test_solve_leaves_the_garbage_collector_as_it_found_it(tmp_path):
    """The solve command collects garbage less often and freezes the instance for its run only:
    a caller that runs more commands (a test session, a notebook) gets its settings back, also
    when the input is bad."""
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    assert run("solve", DEMO, "--out", tmp_path / "p.json").exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert run("solve", bad).exit_code == 2
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_validate_accepts_the_proposal_and_rejects_a_broken_one(proposal_file, tmp_path):
    ok = run("validate", DEMO, proposal_file)
    assert ok.exit_code == 0, ok.output
    assert "Valid" in ok.output
    proposal = json.loads(proposal_file.read_text())
    first = proposal["assignments"][0]
    # give the first client's unit to a second client as well: rule 1 breaks
    other = proposal["unplaced"][0]["client_id"]
    proposal["assignments"].append({"client_id": other, "unit_id": first["unit_id"]})
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(proposal))
    result = run("validate", DEMO, broken)
    assert result.exit_code == 1
    assert "rule 1" in result.output


def test_solve_prints_a_readable_table():
    result = run("demo")
    assert result.exit_code == 0, result.output
    for heading in ("Assignments", "Not placed", "Quota per municipality", "Magic Mix"):
        assert heading in result.output


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_solve_writes_csv_and_xlsx(tmp_path, suffix):
    path = tmp_path / f"proposal.{suffix}"
    result = run("solve", DEMO, "--out", path)
    assert result.exit_code == 0, result.output
    assert path.exists() and path.stat().st_size > 0


def test_bad_input_exits_2_and_writes_nothing(tmp_path):
    raw = json.loads(DEMO.read_text())
    raw["units"][0]["rent"] = -10
    raw["units"][1]["complex_id"] = "no-such-building"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    out = tmp_path / "proposal.json"
    result = run("solve", bad, "--out", out)
    assert result.exit_code == 2
    assert f"units[{raw['units'][0]['id']}].rent" in result.output
    assert f"units[{raw['units'][1]['id']}].complex_id" in result.output
    assert not out.exists()


def test_missing_file_and_unknown_client_exit_2(tmp_path):
    assert run("solve", tmp_path / "nothing.json").exit_code == 2
    result = run("alternatives", DEMO, "--client", "nobody")
    assert result.exit_code == 2
    assert "clients[nobody].id" in result.output


def test_explain_and_alternatives_for_an_unplaced_client(proposal_file):
    proposal = json.loads(proposal_file.read_text())
    waiting = [u for u in proposal["unplaced"] if u["eligible_units"] > 0]
    assert waiting, "the demo should have someone with eligible units left out"
    client = waiting[0]["client_id"]
    result = run("explain", DEMO, "--client", client)
    assert result.exit_code == 0, result.output
    assert "changes the proposal:" in result.output or "Cannot be placed" in result.output
    result = run("alternatives", DEMO, "--client", client, "-k", "2")
    assert result.exit_code == 0, result.output
    assert "Best 2 units" in result.output


def test_schema_is_json_schema():
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert {"municipalities", "units", "clients", "pinned"} <= set(schema["properties"])
    assert "assignments" in json.loads(run("schema", "proposal").output)["properties"]


def test_generate_is_seeded(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        result = run(
            "generate",
            "--clients",
            30,
            "--units",
            90,
            "--municipalities",
            4,
            "--seed",
            7,
            "--out",
            path,
        )
        assert result.exit_code == 0, result.output
    assert a.read_text() == b.read_text()


def test_generate_national_corporations(tmp_path):
    path = tmp_path / "owned.json"
    args = ["--clients", 200, "--units", 800, "--municipalities", 16, "--seed", 1]
    result = run("generate", *args, "--national-corporations", 2, "--out", path)
    assert result.exit_code == 0, result.output
    corporations = json.loads(path.read_text())["corporations"]
    assert len(corporations) == 2 * 2 + 2  # two regions of eight
    assert any("quota" not in c for c in corporations)
