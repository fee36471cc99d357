"""The API's vacancy upload reads what a Dutch Excel writes, with the same reader as the CLI."""

from __future__ import annotations

from tests.dutch_excel import dutch_csv

ENGLISH = (
    "id,complex_id,corporation_id,rooms,rent,accessible,min_occupants,max_occupants,allowed_groups\n"
    "NL-1,cx-hoorn-1,corp-a,2,566.58,true,1,2,BW;MO\n"
    "NL-2,cx-hoorn-1,corp-a,3,1234.5,false,1,3,\n"
)


def test_a_dutch_excel_csv_with_dutch_headers_is_read(client, keys):
    content = dutch_csv(ENGLISH, "units")
    assert content.startswith(b"\xef\xbb\xbfCode;Complex;Corporatie;Kamers;Huur;")
    assert b"566,58;WAAR" in content
    answer = client.post(
        "/vacancies/upload",
        files={"file": ("woningen.csv", content, "text/csv")},
        headers=keys.corporation,
    )
    assert answer.status_code == 201, answer.text
    units = {v["id"]: v for v in client.get("/vacancies", headers=keys.corporation).json()}
    assert units["NL-1"]["rent"] == 566.58 and units["NL-1"]["accessible"] is True
    assert units["NL-1"]["allowed_groups"] == ["BW", "MO"]
    assert units["NL-2"]["rent"] == 1234.5 and units["NL-2"]["accessible"] is False


def test_problems_name_the_dutch_column_and_line(client, keys):
    content = dutch_csv(ENGLISH.replace("566.58,true", "veel,misschien"), "units")
    answer = client.post(
        "/vacancies/upload",
        files={"file": ("woningen.csv", content, "text/csv")},
        headers=keys.corporation,
    )
    assert answer.status_code == 422
    where = {(e["row"], e["field"]) for e in answer.json()["errors"]}
    assert where == {("NL-1 (line 2)", "Huur"), ("NL-1 (line 2)", "Rolstoeltoegankelijk")}
