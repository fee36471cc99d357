"""Builds the synthetic Westfriesland demo instance and writes it as JSON, CSV and Excel.

Only the municipality names and (rounded) populations are real; everything else is made up with
a fixed seed, so running this again gives the same files. See README.md. The names are Dutch
(``Woningcorporatie A``, ``Hoorn, wijk 1``, ``Zorgaanbieder 1``), as the pages' Dutch sentences
name them; the ids stay English-free codes that never change.

    .venv/bin/python scenarios/westfriesland/make_demo.py [output folder]
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

from allocator.generator import (
    client_features,
    client_rows,
    pinnable_pairs,
    preferences,
    refusals,
    unit_features,
    unit_rows,
)
from allocator.io import write_instance
from allocator.models import Instance, parse_instance

SEED = 2026
REFERENCE_DATE = dt.date(2026, 11, 25)
YEARLY_QUOTA = 100  # the regional target of uitstroom dwellings per year
CLIENTS = 80

# id, name, inhabitants (CBS, 1 January 2024, rounded), placements used this year so far
# (synthetic, as of late November).
MUNICIPALITIES = [
    ("drechterland", "Drechterland", 20_000, 8),
    ("enkhuizen", "Enkhuizen", 19_000, 4),
    ("hoorn", "Hoorn", 74_000, 22),
    ("koggenland", "Koggenland", 23_500, 9),
    ("medemblik", "Medemblik", 48_000, 12),
    ("opmeer", "Opmeer", 12_000, 4),
    ("stede-broec", "Stede Broec", 22_000, 6),
]

# id, name, placements allowed in its dwellings in this run (None: no corporation quota)
CORPORATIONS = [
    ("corp-a", "Woningcorporatie A", 8),
    ("corp-b", "Woningcorporatie B", None),
    ("corp-c", "Woningcorporatie C", 5),
    ("corp-d", "Woningcorporatie D", None),
    ("corp-e", "Woningcorporatie E", None),
]

# id, municipality, name, dwellings, vulnerable households now, share override, owner, vacancies
COMPLEXES = [
    ("cx-hoorn-1", "hoorn", "Hoorn, complex 1", 120, 33, None, "corp-a", 8),
    ("cx-hoorn-2", "hoorn", "Hoorn, complex 2", 80, 24, None, "corp-d", 5),
    ("cx-hoorn-3", "hoorn", "Hoorn, complex 3", 60, 16, None, "corp-a", 4),
    ("cx-hoorn-mm", "hoorn", "Hoorn, Magic Mix-project", 40, 16, 0.5, "corp-d", 4),
    ("cx-medemblik-1", "medemblik", "Medemblik, complex 1", 90, 25, None, "corp-b", 5),
    ("cx-medemblik-2", "medemblik", "Medemblik, complex 2", 50, 14, None, "corp-e", 4),
    ("cx-medemblik-3", "medemblik", "Medemblik, complex 3", 30, 6, None, "corp-b", 3),
    ("cx-koggenland-1", "koggenland", "Koggenland, complex 1", 45, 13, None, "corp-a", 3),
    ("cx-koggenland-2", "koggenland", "Koggenland, complex 2", 30, 7, None, "corp-e", 3),
    ("cx-stede-broec-1", "stede-broec", "Stede Broec, complex 1", 60, 15, None, "corp-c", 4),
    ("cx-stede-broec-2", "stede-broec", "Stede Broec, complex 2", 35, 10, None, "corp-e", 3),
    ("cx-drechterland-1", "drechterland", "Drechterland, complex 1", 50, 12, None, "corp-c", 3),
    ("cx-drechterland-2", "drechterland", "Drechterland, complex 2", 25, 5, None, "corp-c", 2),
    ("cx-enkhuizen-1", "enkhuizen", "Enkhuizen, complex 1", 70, 18, None, "corp-c", 6),
    ("cx-opmeer-1", "opmeer", "Opmeer, complex 1", 40, 10, None, "corp-b", 3),
]


# Rules 12-15 (all synthetic). The Magic Mix project agrees its mix per group and spreads over
# five portieken; Woningcorporatie A spreads in Hoorn, complex 1 (at most two per portiek).
# complex: (group_max_share, group_residents, max per staircase, residents per staircase,
#           staircase of each vacancy in order)
COMPOSITION = {
    "cx-hoorn-mm": (
        {"BW": 0.25, "jeugd": 0.25},
        {"BW": 10, "jeugd": 6},
        4,
        {"p1": 4, "p2": 3, "p3": 3, "p4": 3, "p5": 3},
        ["p1", "p2", "p3", "p3"],
    ),
    "cx-hoorn-1": (
        None,
        None,
        2,
        {"p1": 2, "p2": 1, "p3": 1, "p4": 2, "p5": 1, "p6": 0},
        ["p1", "p1", "p2", "p3", "p4", "p5", "p6", "p6"],
    ),
}
# id, municipality, name, quota this run, its buildings
NEIGHBOURHOODS = [
    ("hoorn-n1", "hoorn", "Hoorn, wijk 1", 3, ["cx-hoorn-1", "cx-hoorn-mm"]),
    ("hoorn-n2", "hoorn", "Hoorn, wijk 2", 3, ["cx-hoorn-2", "cx-hoorn-3"]),
    ("medemblik-n1", "medemblik", "Medemblik, wijk 1", 2, ["cx-medemblik-1"]),
]
# id, name, places per municipality for new clients from this run
SUPPORT_PROVIDERS = [
    (
        "support-1",
        "Zorgaanbieder 1",
        {"hoorn": 4, "medemblik": 2, "enkhuizen": 1, "stede-broec": 2, "drechterland": 1},
    ),
    ("support-2", "Zorgaanbieder 2", {"hoorn": 3, "koggenland": 2, "opmeer": 1, "medemblik": 2}),
]


def add_rules_12_15(data: dict) -> None:
    """Group shares, staircases, neighbourhoods and support providers (rules 12-15) on the rows.
    Two clients in three have a provider that works where they most want to live (drawn from a
    stream of its own, so the rest of the demo is what it was without these rules)."""
    rng = np.random.default_rng([SEED, 12_15])
    units_of: dict[str, list[dict]] = {}
    for unit in data["units"]:
        units_of.setdefault(unit["complex_id"], []).append(unit)
    for cx in data["complexes"]:
        if cx["id"] in COMPOSITION:
            shares, residents, per_stair, stair_residents, stairs = COMPOSITION[cx["id"]]
            if shares:
                cx["group_max_share"], cx["group_residents"] = shares, residents
            cx["max_vulnerable_per_staircase"] = per_stair
            cx["staircase_vulnerable_residents"] = stair_residents
            for unit, stair in zip(units_of[cx["id"]], stairs, strict=True):
                unit["staircase_id"] = stair
        for nb_id, _, _, _, members in NEIGHBOURHOODS:
            if cx["id"] in members:
                cx["neighbourhood_id"] = nb_id
    data["neighbourhoods"] = [
        {"id": nb, "municipality_id": muni, "name": name, "quota": quota}
        for nb, muni, name, quota, _ in NEIGHBOURHOODS
    ]
    data["support_providers"] = [
        {
            "id": sp,
            "name": name,
            "capacity": [{"municipality_id": m, "places": n} for m, n in places.items()],
        }
        for sp, name, places in SUPPORT_PROVIDERS
    ]
    for client in data["clients"]:
        if rng.random() >= 2 / 3:
            continue
        wanted = client["preferred_municipalities"][:1]
        fits = [sp for sp, _, places in SUPPORT_PROVIDERS if not wanted or wanted[0] in places]
        if fits:
            client["support_provider_id"] = fits[int(rng.integers(0, len(fits)))]


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights``: everyone gets the whole part of their share,
    the seats left go to the largest fractional remainders (ties: first listed)."""
    exact = [total * w / sum(weights) for w in weights]
    seats = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - seats[i]), i))
    for i in by_remainder[: total - sum(seats)]:
        seats[i] += 1
    return seats


def yearly_shares() -> dict[str, int]:
    shares = largest_remainder(YEARLY_QUOTA, [pop for _, _, pop, _ in MUNICIPALITIES])
    return {m[0]: share for m, share in zip(MUNICIPALITIES, shares, strict=True)}


def build_instance() -> Instance:
    rng = np.random.default_rng(SEED)
    shares = yearly_shares()
    muni_ids = [m[0] for m in MUNICIPALITIES]
    populations = np.array([m[2] for m in MUNICIPALITIES], dtype=float)

    unit_complex = [cx[0] for cx in COMPLEXES for _ in range(cx[7])]
    unit_owner = [cx[6] for cx in COMPLEXES for _ in range(cx[7])]
    unit_muni = np.array([muni_ids.index(cx[1]) for cx in COMPLEXES for _ in range(cx[7])])
    unit_ids = [f"WF-U{j + 1:03d}" for j in range(len(unit_complex))]

    clients = client_features(rng, CLIENTS, REFERENCE_DATE)
    preferred, excluded = preferences(
        rng, CLIENTS, np.arange(len(muni_ids)), populations, allow_empty=True
    )
    refused = refusals(rng, [p[0] if p else None for p in preferred], unit_muni, count=4)

    data = {
        "municipalities": [
            {"id": mid, "name": name, "population": pop, "quota": shares[mid] - used}
            for mid, name, pop, used in MUNICIPALITIES
        ],
        "corporations": [
            {"id": cid, "name": name, **({} if quota is None else {"quota": quota})}
            for cid, name, quota in CORPORATIONS
        ],
        "complexes": [
            {
                "id": cid,
                "municipality_id": muni,
                "name": name,
                "units_total": total,
                "vulnerable_residents": vulnerable,
                **({} if share is None else {"max_vulnerable_share": share}),
            }
            for cid, muni, name, total, vulnerable, share, _, _ in COMPLEXES
        ],
        "units": unit_rows(unit_ids, unit_complex, unit_owner, unit_features(rng, len(unit_ids))),
        "clients": client_rows(
            [f"WF-C{i + 1:03d}" for i in range(CLIENTS)],
            clients,
            [[muni_ids[m] for m in p] for p in preferred],
            [[muni_ids[m] for m in e] for e in excluded],
            [[unit_ids[j] for j in u] for u in refused],
        ),
        "policy": {"max_vulnerable_share": 0.3, "reference_date": REFERENCE_DATE},
    }
    add_rules_12_15(data)
    instance = parse_instance(data)
    return instance.with_changes(pinned=pinnable_pairs(instance, 2, rng))


def main(folder: Path) -> None:
    instance = build_instance()
    write_instance(instance, folder / "instance.json")
    write_instance(instance, folder / "csv")
    write_instance(instance, folder / "instance.xlsx")
    print(f"wrote {folder}/instance.json, csv/ and instance.xlsx")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
