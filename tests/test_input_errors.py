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
