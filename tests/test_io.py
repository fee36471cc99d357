"""Reading and writing instances and proposals: round trips, and every kind of bad input named
by table, row and field."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from allocator.errors import InstanceError
from allocator.generator import generate
from allocator.io import proposal_tables, read_instance, write_instance, write_proposal
from allocator.models import (
    Assignment,
    ComplexSummary,
    CorporationSummary,
    Instance,
    LevelFacts,
    MunicipalitySummary,
    ObjectiveValues,
    Proposal,
    SolverFacts,
    Summaries,
    Unplaced,
    UnplacedReason,
)


@pytest.fixture(scope="module")
def instance() -> Instance:
    # Small scale: some clients have no preferences, some units are reserved, some pinned.
    return generate(60, 80, 6, seed=11, pinned=2)


def issues_of(exc: pytest.ExceptionInfo[InstanceError]) -> list[tuple]:
    return [(i.table, i.row, i.field) for i in exc.value.issues]


@pytest.fixture
def csv_folder(tmp_path: Path, instance: Instance) -> Path:
    folder = tmp_path / "csv"
    write_instance(instance, folder)
    return folder


def edit_csv(folder: Path, table: str, edit) -> None:
    file = folder / f"{table}.csv"
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    frame = edit(frame)
    frame.to_csv(file, index=False)


# ----------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("name", ["instance.json", "csv", "instance.xlsx"])
def test_round_trip(tmp_path: Path, instance: Instance, name: str) -> None:
    path = tmp_path / name
    write_instance(instance, path)
    assert read_instance(path) == instance


@pytest.mark.parametrize("name", ["instance.json", "csv", "instance.xlsx"])
def test_round_trip_with_rules_12_15(tmp_path: Path, name: str) -> None:
    from allocator.generator import generate

    instance = generate(60, 200, 8, 4, rules_12_15=True, pinned=2)
    assert instance.neighbourhoods and instance.support_providers
    assert any(c.group_max_share for c in instance.complexes)
    path = tmp_path / name
    write_instance(instance, path)
    assert read_instance(path) == instance
    if name == "csv":  # map cells in the documented form
        complexes = (path / "complexes.csv").read_text()
        assert "BW=0.25;jeugd=0.25" in complexes
        assert (path / "neighbourhoods.csv").is_file()
        assert "=" in (path / "support_providers.csv").read_text()


@pytest.mark.parametrize("name", ["instance.json", "csv", "instance.xlsx"])
def test_round_trip_keeps_awkward_values(tmp_path: Path, instance: Instance, name: str) -> None:
    # A one-level objective differs from the default, an id with ";" cannot be ";"-joined and a name
    # starting with "=" must not become a spreadsheet formula.
    municipalities = list(instance.municipalities)
    municipalities[0] = municipalities[0].model_copy(update={"name": '=Hoorn, "noord"'})
    odd = instance.with_changes(
        municipalities=municipalities,
        policy=instance.policy.model_copy(update={"objective": ["waiting_days"]}),
        clients=[
            instance.clients[0].model_copy(update={"refused_units": ["gone;1", "gone 2"]}),
            *instance.clients[1:],
        ],
    )
    path = tmp_path / name
    write_instance(odd, path)
    assert read_instance(path) == odd


def test_csv_cells_accept_spreadsheet_spellings(csv_folder: Path, instance: Instance) -> None:
    def spell(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "accessible"] = "Ja"
        frame.loc[1, "accessible"] = "no"
        frame.loc[2, "allowed_groups"] = '["BW", "MO"]'
        frame.loc[3, "rooms"] = "2.0"
        return frame

    edit_csv(csv_folder, "units", spell)
    edit_csv(csv_folder, "clients", lambda f: f.assign(ready_since="2026-01-02 00:00:00"))
    read = read_instance(csv_folder)
    assert read.units[0].accessible is True
    assert read.units[1].accessible is False
    assert read.units[2].allowed_groups == ["BW", "MO"]
    assert read.units[3].rooms == 2
    assert {c.ready_since for c in read.clients} == {dt.date(2026, 1, 2)}


def test_csv_with_semicolons_and_blank_lines(csv_folder: Path, instance: Instance) -> None:
    # Dutch Excel saves CSV with ";" between cells; blank lines are not rows.
    file = csv_folder / "municipalities.csv"
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    text = frame.to_csv(index=False, sep=";")
    lines = text.splitlines()
    file.write_text("\n".join([lines[0], "", *lines[1:], ""]), encoding="utf-8-sig")
    assert read_instance(csv_folder) == instance


def test_optional_tables_may_be_missing(csv_folder: Path, instance: Instance) -> None:
    (csv_folder / "policy.csv").unlink()
    (csv_folder / "pinned.csv").unlink()
    read = read_instance(csv_folder)
    assert read.pinned == []
    assert read.policy.reference_date is None


# ----------------------------------------------------------------------------------------------
# Bad input: always an InstanceError naming table, row and field


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InstanceError) as exc:
        read_instance(tmp_path / "nowhere.json")
    assert issues_of(exc) == [("instance", None, None)]
    assert "not found" in exc.value.issues[0].message


def test_wrong_extension(tmp_path: Path) -> None:
    path = tmp_path / "instance.txt"
    path.write_text("{}")
    with pytest.raises(InstanceError) as exc:
        read_instance(path)
    assert issues_of(exc) == [("instance", None, None)]
    assert ".txt" in exc.value.issues[0].message


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "instance.json"
    path.write_text('{\n  "municipalities": [\n    {"id": "m1",, }\n  ]\n}')
    with pytest.raises(InstanceError) as exc:
        read_instance(path)
    assert issues_of(exc) == [("instance", None, None)]
    assert "line 3, column 17" in exc.value.issues[0].message


def test_damaged_workbook(tmp_path: Path) -> None:
    path = tmp_path / "instance.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(InstanceError) as exc:
        read_instance(path)
    assert issues_of(exc) == [("instance", None, None)]


def test_missing_table_json(tmp_path: Path, instance: Instance) -> None:
    data = instance.model_dump(mode="json")
    del data["units"]
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InstanceError) as exc:
        read_instance(path)
    assert issues_of(exc) == [("units", None, None)]


def test_missing_csv_file(csv_folder: Path) -> None:
    (csv_folder / "complexes.csv").unlink()
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert issues_of(exc) == [("complexes", None, None)]
    assert "complexes.csv" in exc.value.issues[0].message


def test_missing_sheet(tmp_path: Path, instance: Instance) -> None:
    path = tmp_path / "instance.xlsx"
    write_instance(instance, path)
    sheets = pd.read_excel(path, sheet_name=None, dtype=str)
    with pd.ExcelWriter(path) as writer:
        for name, frame in sheets.items():
            if name != "clients":
                frame.to_excel(writer, sheet_name=name, index=False)
    with pytest.raises(InstanceError) as exc:
        read_instance(path)
    assert issues_of(exc) == [("clients", None, None)]


def test_missing_and_unknown_column(csv_folder: Path) -> None:
    edit_csv(
        csv_folder,
        "units",
        lambda f: f.drop(columns=["rent"]).rename(columns={"max_occupants": "max_ocupants"}),
    )
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert sorted(issues_of(exc), key=str) == sorted(
        [
            ("units", None, "rent"),
            ("units", None, "max_occupants"),
            ("units", None, "max_ocupants"),
        ],
        key=str,
    )


def test_bad_boolean(csv_folder: Path, instance: Instance) -> None:
    edit_csv(
        csv_folder,
        "clients",
        lambda f: f.assign(needs_accessible=["misschien"] + list(f["needs_accessible"][1:])),
    )
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    client = instance.clients[0].id
    assert issues_of(exc) == [("clients", f"{client} (line 2)", "needs_accessible")]
    assert "misschien" in exc.value.issues[0].message


def test_negative_quota(csv_folder: Path, instance: Instance) -> None:
    def negative(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[2, "quota"] = "-3"
        return frame

    edit_csv(csv_folder, "municipalities", negative)
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    row = instance.municipalities[2].id
    assert issues_of(exc) == [("municipalities", f"{row} (line 4)", "quota")]


def test_unknown_complex_in_units(csv_folder: Path, instance: Instance) -> None:
    def unknown(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[4, "complex_id"] = "cx-nowhere"
        return frame

    edit_csv(csv_folder, "units", unknown)
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    row = instance.units[4].id
    assert issues_of(exc) == [("units", f"{row} (line 6)", "complex_id")]
    assert "cx-nowhere" in exc.value.issues[0].message


def test_duplicate_id_names_both_lines(csv_folder: Path, instance: Instance) -> None:
    def duplicate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[3, "id"] = frame.loc[1, "id"]
        return frame

    edit_csv(csv_folder, "clients", duplicate)
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    row = instance.clients[1].id
    assert ("clients", f"{row} (lines 3, 5)", "id") in issues_of(exc)


def test_bad_date(csv_folder: Path, instance: Instance) -> None:
    def bad(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "ready_since"] = "31-02-2026"
        return frame

    edit_csv(csv_folder, "clients", bad)
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert issues_of(exc) == [("clients", f"{instance.clients[0].id} (line 2)", "ready_since")]


def test_bad_policy_date(csv_folder: Path) -> None:
    (csv_folder / "policy.csv").write_text("max_vulnerable_share,reference_date\n0.3,soon\n")
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert issues_of(exc) == [("policy", None, "reference_date")]


def test_bad_pinned_row_names_its_line(csv_folder: Path, instance: Instance) -> None:
    (csv_folder / "pinned.csv").write_text(f"client_id,unit_id\nc-nobody,{instance.units[0].id}\n")
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert issues_of(exc) == [("pinned", "line 2", "client_id")]


def test_row_without_id_is_named_by_line(csv_folder: Path) -> None:
    def no_id(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[1, "id"] = ""
        return frame

    edit_csv(csv_folder, "corporations", no_id)
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert ("corporations", "line 3", "id") in issues_of(exc)


def test_bad_cell_in_workbook(tmp_path: Path, instance: Instance) -> None:
    path = tmp_path / "instance.xlsx"
    write_instance(instance, path)
    sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    sheets["units"].loc[0, "rent"] = "duur"
    with pd.ExcelWriter(path) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    with pytest.raises(InstanceError) as exc:
        read_instance(path)
    assert issues_of(exc) == [("units", f"{instance.units[0].id} (line 2)", "rent")]


def test_every_problem_at_once(csv_folder: Path, instance: Instance) -> None:
    def two(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "accessible"] = "?"
        frame.loc[1, "rooms"] = "many"
        return frame

    edit_csv(csv_folder, "units", two)
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert {field for _, _, field in issues_of(exc)} == {"accessible", "rooms"}


# ----------------------------------------------------------------------------------------------
# Proposals


def small_proposal(with_summaries: bool = True) -> Proposal:
    summaries = Summaries(
        municipalities=[
            MunicipalitySummary(municipality_id="hoorn", name="Hoorn", quota=2, used=1, left=1)
        ],
        corporations=[
            CorporationSummary(
                corporation_id="corp-a", name="Woningcorporatie A", quota=None, used=1, left=None
            )
        ],
        complexes=[
            ComplexSummary(
                complex_id="cx1",
                municipality_id="hoorn",
                units_total=40,
                cap=12,
                vulnerable_before=10,
                vulnerable_after=11,
            )
        ],
    )
    return Proposal(
        status="optimal",
        proven=True,
        reference_date=dt.date(2026, 11, 25),
        objective_levels=["placed", "waiting_days", "rank_sum"],
        assignments=[
            Assignment(
                client_id="WF-C001",
                unit_id="WF-U001",
                municipality_id="hoorn",
                complex_id="cx1",
                corporation_id="corp-a",
                pinned=False,
                waiting_days=120,
                preference_rank=1,
                eligible_units=3,
                explanation="First choice; waited longest of those who fit.",
            )
        ],
        unplaced=[
            Unplaced(
                client_id="WF-C002",
                waiting_days=30,
                eligible_units=1,
                reasons=[
                    UnplacedReason(
                        code="municipality_quota",
                        message="Hoorn's quota is used up",
                        count=1,
                        names=["hoorn"],
                    ),
                    UnplacedReason(
                        code="taken_by_longer_waiting",
                        message="WF-U001 went to a client who waited longer",
                        count=1,
                        names=["WF-U001"],
                    ),
                ],
            )
        ],
        objective=ObjectiveValues(placed=1, waiting_days=120, rank_sum=1),
        solver=SolverFacts(
            engine="cp-sat",
            version="9.15",
            method="cp-sat",
            parameters={"time_limit_seconds": 10.0},
            eligible_pairs=4,
            eligibility_seconds=0.01,
            build_seconds=0.02,
            solve_seconds=0.03,
            levels=[
                LevelFacts(
                    level="placed", status="optimal", value=1, bound=1.0, gap=0.0, wall_seconds=0.01
                )
            ],
        ),
        summaries=summaries if with_summaries else None,
    )


def test_proposal_json(tmp_path: Path) -> None:
    proposal = small_proposal()
    path = tmp_path / "proposal.json"
    write_proposal(proposal, path)
    assert Proposal.model_validate_json(path.read_text()) == proposal


def test_proposal_csv_writes_assignments_and_unplaced(tmp_path: Path) -> None:
    path = tmp_path / "out" / "proposal.csv"
    write_proposal(small_proposal(), path)
    assignments = pd.read_csv(path, dtype=str)
    unplaced = pd.read_csv(tmp_path / "out" / "proposal.unplaced.csv", dtype=str)
    assert list(assignments.columns) == [
        "client_id",
        "unit_id",
        "municipality_id",
        "complex_id",
        "corporation_id",
        "pinned",
        "waiting_days",
        "preference_rank",
        "eligible_units",
        "explanation",
    ]
    assert assignments.loc[0, "unit_id"] == "WF-U001"
    assert list(unplaced.columns) == ["client_id", "waiting_days", "eligible_units", "reasons"]
    assert "quota is used up" in unplaced.loc[0, "reasons"]
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "proposal.csv",
        "proposal.unplaced.csv",
    ]  # no temporary files left behind


def test_proposal_xlsx_sheets(tmp_path: Path) -> None:
    path = tmp_path / "proposal.xlsx"
    write_proposal(small_proposal(), path)
    sheets = pd.read_excel(path, sheet_name=None)
    for name in (
        "assignments",
        "unplaced",
        "municipalities",
        "corporations",
        "complexes",
        "solver",
    ):
        assert name in sheets
    assert sheets["assignments"].loc[0, "client_id"] == "WF-C001"
    assert sheets["complexes"].loc[0, "vulnerable_after"] == 11
    assert sheets["solver"].loc[0, "level"] == "placed"


def test_proposal_without_summaries(tmp_path: Path) -> None:
    proposal = small_proposal(with_summaries=False)
    assert set(proposal_tables(proposal)) >= {"assignments", "unplaced", "solver"}
    assert "municipalities" not in proposal_tables(proposal)
    path = tmp_path / "proposal.xlsx"
    write_proposal(proposal, path, fmt="xlsx")
    assert "assignments" in pd.read_excel(path, sheet_name=None)


def test_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "proposal.csv"
    path.write_text("old\n")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(OSError):
        write_proposal(small_proposal(), path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["proposal.csv"]


def test_unknown_proposal_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_proposal(small_proposal(), tmp_path / "proposal.txt")


# ----------------------------------------------------------------------------------------------
# The optional acceptance table (issue 10 point 4): a chance per client and unit


@pytest.fixture(scope="module")
def with_acceptance(instance: Instance) -> Instance:
    from allocator.models import AcceptanceEstimate

    pairs = zip(instance.clients[:4], instance.units[:4], strict=True)
    return instance.with_changes(
        acceptance=[
            AcceptanceEstimate(client_id=c.id, unit_id=u.id, probability=p)
            for (c, u), p in zip(pairs, (0.0, 0.25, 0.6180339887, 1.0), strict=True)
        ]
    )


def test_acceptance_round_trip_json_csv_xlsx(tmp_path: Path, with_acceptance: Instance) -> None:
    # JSON → CSV folder → XLSX, each read back from the one before: the same instance throughout
    write_instance(with_acceptance, tmp_path / "a.json")
    from_json = read_instance(tmp_path / "a.json")
    write_instance(from_json, tmp_path / "csv")
    from_csv = read_instance(tmp_path / "csv")
    write_instance(from_csv, tmp_path / "b.xlsx")
    from_xlsx = read_instance(tmp_path / "b.xlsx")
    assert from_json == from_csv == from_xlsx == with_acceptance
    assert len(from_xlsx.acceptance) == 4
    assert (
        (tmp_path / "csv" / "acceptance.csv")
        .read_text()
        .startswith("client_id,unit_id,probability\n")
    )


def test_acceptance_table_is_written_only_when_given(tmp_path: Path, instance: Instance) -> None:
    write_instance(instance, tmp_path / "csv")
    assert not (tmp_path / "csv" / "acceptance.csv").exists()
    assert read_instance(tmp_path / "csv").acceptance == []


@pytest.mark.parametrize("chance", ["1,5", "-0.1"])
def test_acceptance_out_of_range_names_line_and_field(
    csv_folder: Path, instance: Instance, chance: str
) -> None:
    # a Dutch sheet: ";" between fields, Dutch column names, decimal comma
    c, u = instance.clients[0].id, instance.units
    (csv_folder / "acceptance.csv").write_text(
        f"cliënt;woning;kans\n{c};{u[0].id};0,5\n{c};{u[1].id};{chance}\n", encoding="utf-8"
    )
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert issues_of(exc) == [("acceptance", "line 3", "kans")]


def test_acceptance_in_a_workbook_names_line_and_field(
    tmp_path: Path, with_acceptance: Instance
) -> None:
    path = tmp_path / "instance.xlsx"
    write_instance(with_acceptance, path)
    sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    sheets["acceptance"].loc[2, "probability"] = "1,5"
    with pd.ExcelWriter(path) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    with pytest.raises(InstanceError) as exc:
        read_instance(path)
    assert issues_of(exc) == [("acceptance", "line 4", "probability")]


def test_acceptance_unknown_client_is_named(csv_folder: Path, instance: Instance) -> None:
    unit = instance.units[0].id
    (csv_folder / "acceptance.csv").write_text(
        f"client_id,unit_id,probability\n{instance.clients[0].id},{unit},0.5\nc-nobody,{unit},0.5\n"
    )
    with pytest.raises(InstanceError) as exc:
        read_instance(csv_folder)
    assert issues_of(exc) == [("acceptance", "line 3", "client_id")]
    assert "c-nobody" in exc.value.issues[0].message
