"""Bad input names its table, row and field, and is refused as a whole."""

from __future__ import annotations

import pytest

from allocator.errors import InstanceError
from allocator.models import parse_instance
from tests.builders import client, complex_, corporation, municipality, unit


def data(**changes):
    base = {
        "municipalities": [municipality("m1")],
        "corporations": [corporation("k1")],
        "complexes": [complex_("cx1")],
        "units": [unit("u1")],
        "clients": [client("c1")],
        "policy": {"reference_date": "2026-11-25"},
    }
    base.update(changes)
    return base


def issues_of(raw) -> list[tuple]:
    with pytest.raises(InstanceError) as exc:
        parse_instance(raw)
    return [(i.table, i.row, i.field) for i in exc.value.issues]


def test_valid_data_parses():
    assert parse_instance(data()).units[0].id == "u1"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"municipalities": [municipality("m1", quota=-1)]}, ("municipalities", "m1", "quota")),
        (
            {"complexes": [complex_("cx1", max_vulnerable_share=1.5)]},
            ("complexes", "cx1", "max_vulnerable_share"),
        ),
        ({"policy": {"max_vulnerable_share": -0.1}}, ("policy", None, "max_vulnerable_share")),
        ({"clients": [client("c1", ready_since="2026-13-45")]}, ("clients", "c1", "ready_since")),
        ({"units": [unit("u1", complex_id="nope")]}, ("units", "u1", "complex_id")),
        ({"units": [unit("u1", corporation_id="nope")]}, ("units", "u1", "corporation_id")),
        (
            {"complexes": [complex_("cx1", municipality_id="x")]},
            ("complexes", "cx1", "municipality_id"),
        ),
        (
            {"clients": [client("c1", preferred_municipalities=["x"])]},
            ("clients", "c1", "preferred_municipalities"),
        ),
        ({"units": [unit("u1"), unit("u1")]}, ("units", "u1", "id")),
        ({"units": [unit("u1", max_occupants=0)]}, ("units", "u1", "max_occupants")),
        ({"units": [unit("u1", rent="a lot")]}, ("units", "u1", "rent")),
        ({"units": [unit("u1", max_rnt=3)]}, ("units", "u1", "max_rnt")),
        ({"pinned": [{"client_id": "ghost", "unit_id": "u1"}]}, ("pinned", "#0", "client_id")),
        ({"pinned": [{"client_id": "c1", "unit_id": "u9"}]}, ("pinned", "#0", "unit_id")),
    ],
)
def test_each_kind_of_bad_input_is_named(changes, expected):
    assert expected in issues_of(data(**changes))


def test_missing_table_and_field():
    raw = data()
    del raw["units"]
    assert ("units", None, None) in issues_of(raw)
    raw = data(clients=[{"id": "c1", "household_size": 1, "ready_since": "2026-01-01"}])
    assert ("clients", "c1", "target_group") in issues_of(raw)


def test_every_problem_is_reported_at_once():
    raw = data(
        municipalities=[municipality("m1", quota=-1)],
        units=[unit("u1", rent=-5), unit("u2", complex_id="nope")],
    )
    problems = issues_of(raw)
    assert ("municipalities", "m1", "quota") in problems
    assert ("units", "u1", "rent") in problems


def test_contradictory_preferences_and_residents():
    assert ("clients", "c1", None) in issues_of(
        data(
            clients=[client("c1", preferred_municipalities=["m1"], excluded_municipalities=["m1"])]
        )
    )
    assert ("complexes", "cx1", None) in issues_of(
        data(complexes=[complex_("cx1", units_total=5, vulnerable_residents=6)])
    )


NB = {"id": "nb1", "municipality_id": "m1", "quota": 1}
SP = {"id": "sp1", "name": "SP", "capacity": [{"municipality_id": "m1", "places": 1}]}


@pytest.mark.parametrize(
    "changes, expected",
    [
        # rule 12: a share outside [0, 1]; residents of a group without a share (unknown group)
        (
            {"complexes": [complex_("cx1", group_max_share={"BW": 1.5})]},
            ("complexes", "cx1", "group_max_share.BW"),
        ),
        (
            {
                "complexes": [
                    complex_("cx1", group_max_share={"BW": 0.2}, group_residents={"MO": 1})
                ]
            },
            ("complexes", "cx1", "group_residents"),
        ),
        (
            {
                "complexes": [
                    complex_("cx1", group_max_share={"BW": 0.2}, group_residents={"BW": -1})
                ]
            },
            ("complexes", "cx1", "group_residents.BW"),
        ),
        # rule 13
        (
            {"complexes": [complex_("cx1", max_vulnerable_per_staircase=-1)]},
            ("complexes", "cx1", "max_vulnerable_per_staircase"),
        ),
        (
            {"complexes": [complex_("cx1", staircase_vulnerable_residents={"p1": -2})]},
            ("complexes", "cx1", "staircase_vulnerable_residents.p1"),
        ),
        # rule 14: unknown neighbourhood; one in another municipality; a negative quota
        (
            {"complexes": [complex_("cx1", neighbourhood_id="nowhere")]},
            ("complexes", "cx1", "neighbourhood_id"),
        ),
        (
            {
                "municipalities": [municipality("m1"), municipality("m2")],
                "neighbourhoods": [{**NB, "municipality_id": "m2"}],
                "complexes": [complex_("cx1", neighbourhood_id="nb1")],
            },
            ("complexes", "cx1", "neighbourhood_id"),
        ),
        ({"neighbourhoods": [{**NB, "quota": -1}]}, ("neighbourhoods", "nb1", "quota")),
        (
            {"neighbourhoods": [{**NB, "municipality_id": "x"}]},
            ("neighbourhoods", "nb1", "municipality_id"),
        ),
        # rule 15: negative places; an unknown municipality; an unknown provider
        (
            {"support_providers": [{**SP, "capacity": [{"municipality_id": "m1", "places": -1}]}]},
            ("support_providers", "sp1", "capacity.0.places"),
        ),
        (
            {"support_providers": [{**SP, "capacity": [{"municipality_id": "x", "places": 1}]}]},
            ("support_providers", "sp1", "capacity.0.municipality_id"),
        ),
        (
            {"clients": [client("c1", support_provider_id="nobody")]},
            ("clients", "c1", "support_provider_id"),
        ),
    ],
)
def test_each_kind_of_bad_rule_12_15_input_is_named(changes, expected):
    assert expected in issues_of(data(**changes))


def test_bad_map_cells_in_csv_name_line_and_column(tmp_path):
    from allocator.generator import generate
    from allocator.io import read_instance, write_instance

    folder = tmp_path / "csv"
    write_instance(generate(20, 60, 3, 1, rules_12_15=True), folder)
    text = (folder / "complexes.csv").read_text().splitlines()
    header = text[0].split(",")
    cells = text[1].split(",")
    cells[header.index("group_max_share")] = "BW:0.25"
    (folder / "complexes.csv").write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n")
    with pytest.raises(InstanceError) as exc:
        read_instance(folder)
    (issue,) = exc.value.issues
    assert issue.table == "complexes" and issue.field == "group_max_share"
    assert "line 2" in issue.row and "key=value" in issue.message
