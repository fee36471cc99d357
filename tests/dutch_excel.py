"""Writing tables the way a Dutch Excel saves them, for tests: ``;`` between fields, a byte-order
mark, decimal commas, day-month-year dates, WAAR/ONWAAR, and optionally Dutch column names.

Written independently of the reader (``allocator.spreadsheet``): plain string rewriting."""

from __future__ import annotations

import csv
import re
from pathlib import Path

# Dutch column names written by hand from the documented mapping (README "Dutch spreadsheets"),
# not imported from the reader, so that a reader's mistake cannot hide here.
DUTCH_NAMES = {
    "units": {
        "id": "Code", "complex_id": "Complex", "corporation_id": "Corporatie", "rooms": "Kamers",
        "rent": "Huur", "accessible": "Rolstoeltoegankelijk", "min_occupants": "Min. bewoners",
        "max_occupants": "Max bewoners", "allowed_groups": "Doelgroepen", "staircase_id": "Portiek",
    },
    "clients": {
        "id": "Pseudoniem", "household_size": "Huishoudgrootte", "max_rent": "Max huur",
        "needs_accessible": "Rolstoeltoegankelijk nodig",
        "preferred_municipalities": "Voorkeursgemeenten",
        "excluded_municipalities": "Uitgesloten gemeenten", "target_group": "Doelgroep",
        "ready_since": "Uitstroomklaar sinds", "refused_units": "Geweigerde woningen",
        "support_provider_id": "Begeleider",
    },
    "municipalities": {
        "id": "Code", "name": "Naam", "quota": "Contingent", "population": "Inwoners",
    },
    "corporations": {"id": "Code", "name": "Naam", "quota": "Contingent"},
    "complexes": {
        "id": "Code", "municipality_id": "Gemeente", "units_total": "Woningen totaal",
        "vulnerable_residents": "Kwetsbare bewoners",
        "max_vulnerable_share": "Max aandeel kwetsbaar", "name": "Naam",
        "group_max_share": "Max aandeel per groep", "group_residents": "Bewoners per groep",
        "max_vulnerable_per_staircase": "Max kwetsbaar per portiek",
        "staircase_vulnerable_residents": "Kwetsbare bewoners per portiek",
        "neighbourhood_id": "Wijk",
    },
    "neighbourhoods": {
        "id": "Code", "municipality_id": "Gemeente", "quota": "Contingent", "name": "Naam",
    },
    "support_providers": {"id": "Code", "name": "Naam", "capacity": "Plaatsen"},
    "policy": {
        "max_vulnerable_share": "Max aandeel kwetsbaar", "reference_date": "Peildatum",
        "objective": "Doelstelling",
    },
    "pinned": {"client_id": "Cliënt", "unit_id": "Woning"},
    "acceptance": {"client_id": "Cliënt", "unit_id": "Woning", "probability": "Kans"},
}  # fmt: skip


def dutch_value(value: str) -> str:
    if re.fullmatch(r"-?\d+\.\d+", value):
        return value.replace(".", ",")
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value):
        return f"{m[3]}-{m[2]}-{m[1]}"
    return {"true": "WAAR", "false": "ONWAAR"}.get(value, value)


def dutch_csv(text: str, table: str | None = None) -> bytes:
    """One CSV file's text (English conventions) as a Dutch Excel saves it."""
    rows = list(csv.reader(text.splitlines()))
    header = rows[0]
    if table is not None:
        header = [DUTCH_NAMES.get(table, {}).get(h, h) for h in header]  # others in English
    body = [[dutch_value(v) for v in row] for row in rows[1:]]
    out = []
    for row in [header, *body]:
        out.append(";".join(f'"{v}"' if ";" in v or '"' in v else v for v in row))
    return ("\ufeff" + "\r\n".join(out) + "\r\n").encode("utf-8")


def write_dutch_folder(source: Path, target: Path, *, dutch_headers: bool = False) -> Path:
    """Every CSV of ``source`` saved the Dutch way into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(source.glob("*.csv")):
        table = file.stem if dutch_headers else None
        (target / file.name).write_bytes(dutch_csv(file.read_text(encoding="utf-8"), table))
    return target
