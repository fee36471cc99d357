"""Synthetic instances with the shape of a real region, for tests, benchmarks and demos.

Everything is drawn from one seeded numpy ``Generator``, so a seed gives the same instance on
every run. The shape follows DOMAIN.md: municipalities form regions of about eight, every
corporation works in one region, clients want to live in their own region, quotas and Magic Mix
caps are set so that they bind. Nothing in a generated instance is real; names say "Synthetic".

The building blocks (``unit_features``, ``client_features``, ``preferences``, ``refusals``,
``vulnerable_residents``, ``pinnable_pairs``) are shared with the hand-made demo scenarios.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from allocator.models import Instance, PinnedPair, mix_cap, parse_instance

REFERENCE_DATE = dt.date(2026, 11, 25)
REGION_SIZE = 8
POLICY_SHARE = 0.3

# Passend toewijzen rent caps (aftoppingsgrenzen) for 2026, approximately; clients' max_rent is
# drawn around them.
RENT_CAP_SMALL_HOUSEHOLD = 713.0
RENT_CAP_LARGE_HOUSEHOLD = 732.0

TARGET_GROUPS = ("BW", "MO", "jeugd")
TARGET_GROUP_SHARES = (0.50, 0.35, 0.15)
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5)
HOUSEHOLD_SHARES = (0.70, 0.15, 0.10, 0.03, 0.02)
ROOMS = (1, 2, 3, 4)
ROOM_SHARES = (0.30, 0.35, 0.25, 0.10)
RESERVATIONS = (("jeugd",), ("BW",), ("MO",), ("BW", "MO"))
RESERVATION_SHARES = (0.35, 0.35, 0.15, 0.15)


def region_of_municipality(municipalities: int, region_size: int = REGION_SIZE) -> np.ndarray:
    """Region index per municipality: consecutive blocks of about ``region_size``."""
    regions = max(1, round(municipalities / region_size))
    return np.arange(municipalities) * regions // max(1, municipalities)


def generate(
    clients: int,
    units: int,
    municipalities: int,
    seed: int,
    *,
    corporations: int | None = None,
    reference_date: dt.date = REFERENCE_DATE,
    pinned: int = 0,
    region_size: int = REGION_SIZE,
    max_vulnerable_share: float = POLICY_SHARE,
    national_corporations: int | None = None,
    national_share: float = 1 - 0.85,
    rules_12_15: bool = False,
) -> Instance:
    """A synthetic region: ``clients`` ready clients, ``units`` vacancies, ``municipalities``
    municipalities in regions of about ``region_size``.

    ``corporations`` defaults to 1-3 per region; with fewer corporations than regions a
    corporation serves several regions. ``pinned`` pairs are accepted offers that pass every rule.
    ``national_corporations`` switches to the owned-corporation family instead
    (``owned_corporations``): two regional corporations per region and that many national ones
    owning ``national_share`` of the buildings anywhere, whose quotas join the regions into one
    problem (``national_share`` 1: every corporation national, the stress case).
    ``rules_12_15`` adds group shares, staircases, neighbourhoods with quotas and support
    providers (``add_rules_12_15``), drawn from a stream of their own: the rest of the instance is
    the same with or without them.
    """
    if clients < 0 or units < 0 or municipalities < 1:
        raise ValueError("need clients >= 0, units >= 0 and municipalities >= 1")
    if corporations is not None and corporations < 1:
        raise ValueError("need corporations >= 1")
    if national_corporations is not None and (national_corporations < 0 or corporations):
        raise ValueError("national_corporations needs >= 0 and no corporations count")
    rng = np.random.default_rng(seed)
    k = municipalities
    region = region_of_municipality(k, region_size)
    n_regions = int(region.max()) + 1

    population = np.clip(np.round(rng.lognormal(np.log(25_000), 0.8, k), -2), 2_000, 900_000)
    population = population.astype(np.int64)

    corp_regions = _corporation_regions(rng, n_regions, corporations)
    n_corps = len(corp_regions)

    # Vacancies follow population; a building has a handful of them at a time.
    unit_muni = np.sort(rng.choice(k, size=units, p=population / population.sum()))
    vac_per_muni = np.bincount(unit_muni, minlength=k)
    cx_per_muni = np.maximum(1, np.ceil(vac_per_muni / 6).astype(np.int64))
    cx_muni = np.repeat(np.arange(k), cx_per_muni)
    n_cx = len(cx_muni)
    cx_total = 10 + np.round(190 * rng.beta(1.3, 3.0, n_cx)).astype(np.int64)

    unit_cx = np.empty(units, dtype=np.int64)
    cx_start = np.concatenate([[0], np.cumsum(cx_per_muni)])
    unit_start = np.concatenate([[0], np.cumsum(vac_per_muni)])
    for m in np.flatnonzero(vac_per_muni):
        own = np.arange(cx_start[m], cx_start[m + 1])
        weight = cx_total[own] / cx_total[own].sum()  # big buildings have more vacancies
        unit_cx[unit_start[m] : unit_start[m + 1]] = rng.choice(own, vac_per_muni[m], p=weight)
    order = np.lexsort((np.arange(units), unit_cx))
    unit_cx = unit_cx[order]  # units numbered building by building
    cx_vac = np.bincount(unit_cx, minlength=n_cx)
    cx_total = np.maximum(cx_total, cx_vac)

    # A building has one owner; a corporation owns buildings across its region's municipalities,
    # which is why its quota cuts across the municipal ones.
    cx_region = region[cx_muni]
    if national_corporations is None:
        owners_by_region = [
            np.flatnonzero([r in rs for rs in corp_regions]) for r in range(n_regions)
        ]
        cx_corp = np.empty(n_cx, dtype=np.int64)
        for r in range(n_regions):
            here = np.flatnonzero(cx_region == r)
            cx_corp[here] = rng.choice(owners_by_region[r], len(here))
    else:
        cx_corp, n_corps = owned_corporations(
            rng, cx_region, n_regions, national_corporations, 1 - national_share
        )

    cx_override = np.where(
        rng.random(n_cx) < 0.10, np.round(rng.uniform(0.25, 0.5, n_cx), 2), np.nan
    )
    cx_share = np.where(np.isnan(cx_override), max_vulnerable_share, cx_override)
    cx_vulnerable = vulnerable_residents(rng, cx_total, cx_vac, cx_share)

    feats = unit_features(rng, units)
    unit_corp = cx_corp[unit_cx]
    # Quotas are the dwellings a region sets aside for uitstromers: scarce against the ready
    # clients when vacancies outnumber them, so municipal and corporation quotas both bind.
    scarcity = min(1.0, clients / max(units, 1))
    muni_quota = np.floor(rng.uniform(0.5, 1.0, k) * vac_per_muni * scarcity + 0.5).astype(np.int64)
    corp_vac = np.bincount(unit_corp, minlength=n_corps)
    corp_quota = np.floor(rng.uniform(0.6, 0.9, n_corps) * corp_vac * scarcity + 0.5).astype(
        np.int64
    )
    if national_corporations is not None:
        corp_quota = owned_quotas(rng, corp_vac, clients)

    # Clients come from a region roughly in proportion to its vacancies.
    region_units = np.bincount(region[unit_muni], minlength=n_regions).astype(float)
    weight = region_units if region_units.sum() > 0 else np.bincount(region, population)
    client_region = rng.choice(n_regions, size=clients, p=weight / weight.sum())
    cf = client_features(rng, clients, reference_date)
    preferred: list[list[int]] = [[] for _ in range(clients)]
    excluded: list[list[int]] = [[] for _ in range(clients)]
    for r in range(n_regions):
        who = np.flatnonzero(client_region == r)
        munis = np.flatnonzero(region == r)
        pref, excl = preferences(rng, len(who), munis, population[munis], allow_empty=k <= 8)
        for i, p, e in zip(who, pref, excl, strict=True):
            preferred[i], excluded[i] = p, e
    refused = refusals(rng, [p[0] if p else None for p in preferred], unit_muni)

    width = {
        "m": max(3, len(str(k))),
        "corp": max(2, len(str(n_corps))),
        "cx": max(4, len(str(n_cx))),
        "u": max(5, len(str(units))),
        "c": max(5, len(str(clients))),
    }

    def ident(prefix: str, i: int) -> str:
        return f"{prefix}{i + 1:0{width[prefix]}d}"

    muni_ids = [ident("m", i) for i in range(k)]
    unit_ids = [ident("u", j) for j in range(units)]
    data = {
        "municipalities": [
            {
                "id": muni_ids[i],
                "name": f"Synthetic municipality {i + 1} (region {region[i] + 1})",
                "quota": int(muni_quota[i]),
                "population": int(population[i]),
            }
            for i in range(k)
        ],
        "corporations": [
            {
                "id": ident("corp", c),
                "name": f"Synthetic corporation {c + 1}",
                **({} if corp_quota[c] < 0 else {"quota": int(corp_quota[c])}),
            }
            for c in range(n_corps)
        ],
        "complexes": [
            {
                "id": ident("cx", x),
                "municipality_id": muni_ids[cx_muni[x]],
                "units_total": int(cx_total[x]),
                "vulnerable_residents": int(cx_vulnerable[x]),
                "name": f"Synthetic complex {x + 1}",
                **(
                    {}
                    if np.isnan(cx_override[x])
                    else {"max_vulnerable_share": float(cx_override[x])}
                ),
            }
            for x in range(n_cx)
        ],
        "units": unit_rows(
            unit_ids,
            [ident("cx", x) for x in unit_cx],
            [ident("corp", c) for c in unit_corp],
            feats,
        ),
        "clients": client_rows(
            [ident("c", i) for i in range(clients)],
            cf,
            [[muni_ids[m] for m in p] for p in preferred],
            [[muni_ids[m] for m in e] for e in excluded],
            [[unit_ids[j] for j in u] for u in refused],
        ),
        "policy": {"max_vulnerable_share": max_vulnerable_share, "reference_date": reference_date},
    }
    if rules_12_15:
        add_rules_12_15(np.random.default_rng([seed, 12_15]), data, region, client_region)
    instance = parse_instance(data)
    if pinned:
        instance = instance.with_changes(pinned=pinnable_pairs(instance, pinned, rng))
    return instance


def add_rules_12_15(
    rng: np.random.Generator, data: dict, region_of: np.ndarray, client_region: np.ndarray
) -> None:
    """Rules 12-15 on the rows of a generated region, in the shape the region's agreements take:

    - about one building in six is a Magic Mix project agreeing shares per group (BW and jeugd
      at 25% each, sometimes MO at 15%), with today's residents of each group near their cap;
    - buildings of 20 dwellings or more have staircases (portieken) of about eight; in half of
      them the corporation spreads, at most one vulnerable household per staircase, one in five
      of which already has one;
    - municipalities with three buildings or more have two or three neighbourhoods, each with a
      quota of 60-100% of its even share of the municipal quota;
    - two support providers per region list most of its municipalities with a few places each,
      and two clients in three have one of them (one that works where they want to live).
    """
    complexes, units, clients = data["complexes"], data["units"], data["clients"]
    ids = [m["id"] for m in data["municipalities"]]
    by_complex: dict[str, list[dict]] = {}
    for u in units:
        by_complex.setdefault(u["complex_id"], []).append(u)
    for cx in complexes:
        total, vulnerable = cx["units_total"], cx["vulnerable_residents"]
        if rng.random() < 1 / 6:
            shares = {"BW": 0.25, "jeugd": 0.25} | ({"MO": 0.15} if rng.random() < 0.4 else {})
            cx["group_max_share"] = shares
            left = vulnerable
            residents = {}
            for group, share in shares.items():
                near = max(0, mix_cap(share, total) - int(rng.integers(0, 3)))
                residents[group] = min(left, near)
                left -= residents[group]
            cx["group_residents"] = residents
        mine = by_complex.get(cx["id"], [])
        if total >= 20 and mine:
            n_stairs = max(2, total // 8)
            stairs = [f"p{k + 1}" for k in range(n_stairs)]
            for u in mine:
                u["staircase_id"] = stairs[int(rng.integers(0, n_stairs))]
            if rng.random() < 0.5:
                cx["max_vulnerable_per_staircase"] = 1
                used = sorted({u["staircase_id"] for u in mine})
                cx["staircase_vulnerable_residents"] = {st: int(rng.random() < 0.2) for st in used}
    neighbourhoods = []
    quota = {m["id"]: m["quota"] for m in data["municipalities"]}
    for muni in data["municipalities"]:
        here = [cx for cx in complexes if cx["municipality_id"] == muni["id"]]
        if len(here) < 3:
            continue
        n_nb = int(rng.integers(2, 4))
        for k in range(n_nb):
            nb_id = f"{muni['id']}-nb{k + 1}"
            neighbourhoods.append(
                {
                    "id": nb_id,
                    "municipality_id": muni["id"],
                    "quota": int(math.ceil(quota[muni["id"]] / n_nb * rng.uniform(0.6, 1.0))),
                    "name": f"Synthetic neighbourhood {k + 1} of {muni['name']}",
                }
            )
        for cx in here:
            cx["neighbourhood_id"] = f"{muni['id']}-nb{int(rng.integers(0, n_nb)) + 1}"
    providers = []
    provider_region = []
    for r in range(int(region_of.max()) + 1):
        munis = [ids[i] for i in np.flatnonzero(region_of == r)]
        for p in range(2):
            listed = [m for m in munis if rng.random() < 0.8] or [munis[0]]
            providers.append(
                {
                    "id": f"sp{r + 1}-{p + 1}",
                    "name": f"Synthetic support provider {p + 1} (region {r + 1})",
                    "capacity": [
                        {
                            "municipality_id": m,
                            "places": int(max(1, math.ceil(quota[m] * rng.uniform(0.3, 0.6)))),
                        }
                        for m in listed
                    ],
                }
            )
            provider_region.append(r)
    for c, r in zip(clients, client_region.tolist(), strict=True):
        if rng.random() >= 2 / 3:
            continue
        wanted = c["preferred_municipalities"][:1]
        fits = [
            p
            for p, pr in zip(providers, provider_region, strict=True)
            if pr == r
            and (not wanted or any(place["municipality_id"] in wanted for place in p["capacity"]))
        ]
        if fits:
            c["support_provider_id"] = fits[int(rng.integers(0, len(fits)))]["id"]
    data["neighbourhoods"] = neighbourhoods
    data["support_providers"] = providers


def _corporation_regions(
    rng: np.random.Generator, n_regions: int, corporations: int | None
) -> list[set[int]]:
    if corporations is None:
        per_region = rng.integers(1, 4, n_regions)
        return [{r} for r in range(n_regions) for _ in range(per_region[r])]
    if corporations < n_regions:
        return [set(range(c, n_regions, corporations)) for c in range(corporations)]
    extra = rng.multinomial(corporations - n_regions, np.full(n_regions, 1 / n_regions))
    return [{r} for r in range(n_regions) for _ in range(1 + extra[r])]


#: The owned-corporation family (``national_corporations``): regional corporations' share of the
#: buildings, the corporations with a quota, and a quota's range as a share of the clients that
#: the corporation's vacancies stand for.
REGIONAL_PER_REGION = 2
REGIONAL_SHARE = 0.85
QUOTA_SHARE_OF_CORPORATIONS = 0.70
QUOTA_RANGE = (0.3, 0.9)


def owned_corporations(
    rng: np.random.Generator,
    cx_region: np.ndarray,
    n_regions: int,
    national: int,
    regional_share: float = REGIONAL_SHARE,
) -> tuple[np.ndarray, int]:
    """The owner of every building, and how many corporations there are.

    Each region has ``REGIONAL_PER_REGION`` corporations of its own (numbered region by region);
    the last ``national`` corporations own the other buildings (1 - ``regional_share``)
    anywhere in the country. With ``national`` 0 the regional ones own everything.
    """
    n_cx = len(cx_region)
    regional = cx_region * REGIONAL_PER_REGION + rng.integers(0, REGIONAL_PER_REGION, n_cx)
    n_regional = n_regions * REGIONAL_PER_REGION
    if national == 0:
        return regional, n_regional
    is_national = rng.random(n_cx) >= regional_share
    owner = np.where(is_national, n_regional + rng.integers(0, national, n_cx), regional)
    return owner, n_regional + national


def owned_quotas(
    rng: np.random.Generator, corporation_vacancies: np.ndarray, clients: int
) -> np.ndarray:
    """A quota for ``QUOTA_SHARE_OF_CORPORATIONS`` of the corporations (-1: none): between
    ``QUOTA_RANGE`` of the clients its share of the vacancies stands for, so quotas bind."""
    n = len(corporation_vacancies)
    share = corporation_vacancies / max(1, corporation_vacancies.sum())
    quota = np.floor(rng.uniform(*QUOTA_RANGE, n) * share * clients + 0.5).astype(np.int64)
    with_quota = rng.random(n) < QUOTA_SHARE_OF_CORPORATIONS
    return np.where(with_quota, quota, -1)


def vulnerable_residents(
    rng: np.random.Generator,
    units_total: np.ndarray,
    vacancies: np.ndarray,
    share: np.ndarray | float,
) -> np.ndarray:
    """Current vulnerable households: near the Magic Mix cap, so some buildings are full (a few
    over the cap, as happens after the cap is lowered) and most have a little room."""
    n = len(units_total)
    cap = mix_cap(share, units_total)
    room = rng.integers(1, 6, n)
    state = rng.random(n)
    room = np.where(state < 0.25, 0, room)
    room = np.where(state < 0.05, -1, room)
    # Vacant dwellings have nobody in them.
    return np.clip(cap - room, 0, units_total - vacancies)


def unit_features(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Rooms, occupancy, rent, accessibility and reservations of ``n`` vacancies."""
    rooms = rng.choice(ROOMS, n, p=ROOM_SHARES)
    max_occupants = rooms + rng.integers(0, 2, n)
    min_occupants = np.where((rooms >= 3) & (rng.random(n) < 0.3), 2, 1)
    rent = np.round(np.clip(rng.normal(590 + 30 * rooms, 120), 350, 1000), 2)
    accessible = rng.random(n) < 0.15
    reserved = rng.random(n) < 0.10
    which = rng.choice(len(RESERVATIONS), n, p=RESERVATION_SHARES)
    allowed_groups = np.empty(n, dtype=object)
    allowed_groups[:] = [
        list(RESERVATIONS[w]) if r else None for r, w in zip(reserved, which, strict=True)
    ]
    return {
        "rooms": rooms,
        "min_occupants": min_occupants,
        "max_occupants": max_occupants,
        "rent": rent,
        "accessible": accessible,
        "allowed_groups": allowed_groups,
    }


def client_features(
    rng: np.random.Generator, n: int, reference_date: dt.date
) -> dict[str, np.ndarray]:
    """Household, rent limit (NaN where unset), accessibility need, target group, ready date."""
    household = rng.choice(HOUSEHOLD_SIZES, n, p=HOUSEHOLD_SHARES)
    cap = np.where(household <= 2, RENT_CAP_SMALL_HOUSEHOLD, RENT_CAP_LARGE_HOUSEHOLD)
    max_rent = np.round(cap + rng.normal(0, 25, n))
    max_rent = np.where(rng.random(n) < 0.80, max_rent, np.nan)
    waited = np.floor(rng.exponential(200, n)).astype(np.int64)
    ready_since = np.array(
        [reference_date - dt.timedelta(days=int(d)) for d in waited], dtype=object
    )
    return {
        "household_size": household,
        "max_rent": max_rent,
        "needs_accessible": rng.random(n) < 0.08,
        "target_group": rng.choice(TARGET_GROUPS, n, p=TARGET_GROUP_SHARES),
        "ready_since": ready_since,
    }


def preferences(
    rng: np.random.Generator,
    n: int,
    municipalities: np.ndarray,
    weights: np.ndarray,
    *,
    allow_empty: bool,
) -> tuple[list[list[int]], list[list[int]]]:
    """Ranked preferred and excluded municipalities of ``n`` clients of one region.

    1-3 preferred ones, drawn without replacement weighted by ``weights`` (Gumbel top-k); with
    ``allow_empty`` about 20% list none (= every municipality). About 10% exclude one they did not
    prefer.
    """
    size = len(municipalities)
    if n == 0 or size == 0:
        return [[] for _ in range(n)], [[] for _ in range(n)]
    keys = np.log(np.asarray(weights, dtype=float)) + rng.gumbel(size=(n, size))
    ranked = municipalities[np.argsort(-keys, axis=1)]
    count = np.minimum(rng.choice((1, 2, 3), n, p=(0.45, 0.35, 0.20)), size)
    empty = allow_empty & (rng.random(n) < 0.20)
    excludes = (rng.random(n) < 0.10) & (count < size)
    preferred, excluded = [], []
    for row, c, e, x in zip(ranked.tolist(), count, empty, excludes, strict=True):
        preferred.append([] if e else row[:c])
        excluded.append([row[c]] if x else [])
    return preferred, excluded


def refusals(
    rng: np.random.Generator,
    home: Sequence[int | None],
    unit_municipality: np.ndarray,
    *,
    count: int | None = None,
) -> list[list[int]]:
    """About 5% of clients (or exactly ``count``) refused 1-2 offers, of vacancies in their
    first-choice municipality."""
    n = len(home)
    by_muni: dict[int, np.ndarray] = {}
    refused: list[list[int]] = [[] for _ in range(n)]
    if count is None:
        who = np.flatnonzero(rng.random(n) < 0.05)
    else:
        candidates = np.flatnonzero([h is not None for h in home])
        who = np.sort(rng.choice(candidates, min(count, len(candidates)), replace=False))
    how_many = rng.integers(1, 3, len(who))
    for i, offers in zip(who, how_many, strict=True):
        m = home[i]
        if m is None:
            continue
        if m not in by_muni:
            by_muni[m] = np.flatnonzero(unit_municipality == m)
        offered = by_muni[m]
        if len(offered):
            picks = rng.choice(offered, min(int(offers), len(offered)), replace=False)
            refused[i] = sorted(int(j) for j in picks)
    return refused


def unit_rows(
    ids: Sequence[str],
    complex_ids: Sequence[str],
    corporation_ids: Sequence[str],
    feats: dict[str, np.ndarray],
) -> list[dict]:
    rows = []
    for j, uid in enumerate(ids):
        row = {
            "id": uid,
            "complex_id": complex_ids[j],
            "corporation_id": corporation_ids[j],
            "rooms": int(feats["rooms"][j]),
            "rent": float(feats["rent"][j]),
            "accessible": bool(feats["accessible"][j]),
            "min_occupants": int(feats["min_occupants"][j]),
            "max_occupants": int(feats["max_occupants"][j]),
        }
        if feats["allowed_groups"][j]:
            row["allowed_groups"] = feats["allowed_groups"][j]
        rows.append(row)
    return rows


def client_rows(
    ids: Sequence[str],
    feats: dict[str, np.ndarray],
    preferred: Sequence[list[str]],
    excluded: Sequence[list[str]],
    refused: Sequence[list[str]],
) -> list[dict]:
    rows = []
    for i, cid in enumerate(ids):
        row = {
            "id": cid,
            "household_size": int(feats["household_size"][i]),
            "needs_accessible": bool(feats["needs_accessible"][i]),
            "preferred_municipalities": preferred[i],
            "excluded_municipalities": excluded[i],
            "target_group": str(feats["target_group"][i]),
            "ready_since": feats["ready_since"][i],
            "refused_units": refused[i],
        }
        if not math.isnan(feats["max_rent"][i]):
            row["max_rent"] = float(feats["max_rent"][i])
        rows.append(row)
    return rows


def pinnable_pairs(instance: Instance, count: int, rng: np.random.Generator) -> list[PinnedPair]:
    """``count`` client–unit pairs that pass rules 2-7 and fit rules 8-10 together.

    Clients are tried in random order, each taking a random unit that is still allowed. Raises
    ``ValueError`` when the instance has fewer such pairs.
    """
    from allocator.validator import pinned_issues  # the independent judge; imports the solver

    units = instance.units
    muni_ids = [m.id for m in instance.municipalities]
    muni_ix = {m: i for i, m in enumerate(muni_ids)}
    corp_ix = {c.id: i for i, c in enumerate(instance.corporations)}
    cx_ix = {c.id: i for i, c in enumerate(instance.complexes)}
    unit_cx = np.array([cx_ix[u.complex_id] for u in units], dtype=np.int64)
    cx_muni = np.array([muni_ix[c.municipality_id] for c in instance.complexes], dtype=np.int64)
    unit_muni = cx_muni[unit_cx] if len(units) else np.zeros(0, dtype=np.int64)
    unit_corp = np.array([corp_ix[u.corporation_id] for u in units], dtype=np.int64)
    rent = np.array([u.rent for u in units])
    accessible = np.array([u.accessible for u in units], dtype=bool)
    min_occ = np.array([u.min_occupants for u in units])
    max_occ = np.array([u.max_occupants for u in units])
    reserved = [set(u.allowed_groups) if u.allowed_groups else None for u in units]

    muni_left = np.array([m.quota for m in instance.municipalities], dtype=np.int64)
    corp_left = np.array(
        [np.iinfo(np.int64).max if c.quota is None else c.quota for c in instance.corporations],
        dtype=np.int64,
    )
    shares = np.array([instance.mix_share(c) for c in instance.complexes])
    totals = np.array([c.units_total for c in instance.complexes])
    cx_left = mix_cap(shares, totals) - np.array(
        [c.vulnerable_residents for c in instance.complexes]
    )
    free = np.ones(len(units), dtype=bool)
    unit_ix = {u.id: j for j, u in enumerate(units)}

    pairs: list[PinnedPair] = []
    for i in rng.permutation(len(instance.clients)):
        if len(pairs) == count:
            break
        client = instance.clients[i]
        accept = np.zeros(len(muni_ids), dtype=bool)
        if client.preferred_municipalities:
            accept[[muni_ix[m] for m in client.preferred_municipalities]] = True
        else:
            accept[:] = True
        accept[[muni_ix[m] for m in client.excluded_municipalities]] = False
        ok = (
            free
            & accept[unit_muni]
            & (min_occ <= client.household_size)
            & (client.household_size <= max_occ)
            & (muni_left[unit_muni] > 0)
            & (corp_left[unit_corp] > 0)
            & (cx_left[unit_cx] > 0)
        )
        if client.max_rent is not None:
            ok &= rent <= client.max_rent
        if client.needs_accessible:
            ok &= accessible
        for uid in client.refused_units:
            if uid in unit_ix:
                ok[unit_ix[uid]] = False
        candidates = [
            j
            for j in np.flatnonzero(ok)
            if reserved[j] is None or client.target_group in reserved[j]
        ]
        if not candidates:
            continue
        # rules 12-15 (and any other registered rule): the validator judges the candidate, and
        # a few others in turn when it fails (the draw is the same as without them)
        first = int(rng.choice(candidates))
        j = next(
            (
                j
                for j in [first, *(c for c in candidates if c != first)][:10]
                if not pinned_issues(
                    instance.with_changes(
                        pinned=[*pairs, PinnedPair(client_id=client.id, unit_id=units[j].id)]
                    )
                )
            ),
            None,
        )
        if j is None:
            continue
        free[j] = False
        muni_left[unit_muni[j]] -= 1
        corp_left[unit_corp[j]] -= 1
        cx_left[unit_cx[j]] -= 1
        pairs.append(PinnedPair(client_id=client.id, unit_id=units[j].id))
    if len(pairs) < count:
        raise ValueError(f"only {len(pairs)} valid pairs could be pinned, not {count}")
    issues = pinned_issues(instance.with_changes(pinned=pairs))
    if issues:  # the generator and the validator disagree about a rule: a bug, not bad input
        raise AssertionError(f"generated pinned pairs break rules: {issues}")
    return pairs
