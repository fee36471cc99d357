"""Everything that will arrive, drawn once per (variant, seed) before any policy runs.

Every policy of a replication sees the same clients, vacancies and answers to offers (common
random numbers), so their differences are the policy's, not the dice's. Clients, vacancies and
residents' moves come from separate random streams: a variant that changes the vacancies leaves
the clients of a seed as they were.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from allocator.acceptance import pair_features, probability
from allocator.simulation.scenario import ScenarioConfig


@dataclass(frozen=True)
class ClientArrival:
    id: str
    index: int
    week: int  # first week the client is in the pool
    ready_since: dt.date
    household_size: int
    max_rent: float | None
    needs_accessible: bool
    target_group: str
    preferred: list[str]
    excluded: list[str]
    urgent: bool = False
    support_provider_id: str | None = None  # rule 15


@dataclass(frozen=True)
class VacancyArrival:
    id: str
    index: int
    week: int  # first week the vacancy is open
    complex_id: str
    corporation_id: str
    rooms: int
    rent: float
    accessible: bool
    min_occupants: int
    max_occupants: int
    allowed_groups: list[str] | None
    staircase_id: str | None = None  # rule 13


@dataclass
class Arrivals:
    seed: int
    clients: list[ClientArrival]
    vacancies: list[VacancyArrival]
    moves: dict[int, list[str]] = field(default_factory=dict)  # week -> complex ids


def week_date(config: ScenarioConfig, week: int) -> dt.date:
    return config.start + dt.timedelta(weeks=week)


def _choice(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    keys = list(shares)
    picks = rng.choice(len(keys), n, p=np.array([shares[k] for k in keys]))
    return np.array(keys, dtype=object)[picks] if n else np.array([], dtype=object)


def _clients(config: ScenarioConfig, rng: np.random.Generator) -> list[ClientArrival]:
    spec = config.clients
    weeks = config.horizon_weeks
    counts = rng.poisson(spec.per_week, weeks)
    arrival_week = np.concatenate(
        [np.zeros(spec.initial_backlog, dtype=np.int64), np.repeat(np.arange(weeks), counts)]
    )
    n = len(arrival_week)
    waited = np.zeros(n, dtype=np.int64)
    waited[: spec.initial_backlog] = np.floor(
        rng.exponential(max(spec.initial_wait_weeks, 1e-9) * 7, spec.initial_backlog)
    ).astype(np.int64)
    # within its week a client arrives on a random day
    day_in_week = rng.integers(0, 7, n)
    household = _choice(rng, spec.household_sizes, n).astype(np.int64)
    cap = np.where(household <= 2, spec.rent_limit.small_household, spec.rent_limit.large_household)
    max_rent = np.round(cap + rng.normal(0, spec.rent_limit.spread, n))
    has_limit = rng.random(n) < spec.rent_limit.share_with_limit
    accessible = rng.random(n) < spec.needs_accessible
    groups = _choice(rng, spec.target_groups, n)

    pref = spec.preferences
    munis = [m.id for m in config.region.municipalities]
    k = len(munis)
    if pref.weight == "population":
        w = np.array([max(m.population or 0, 1) for m in config.region.municipalities], float)
    else:
        w = np.ones(k)
    keys = np.log(w) + rng.gumbel(size=(n, k))
    ranked = np.argsort(-keys, axis=1)
    count = np.minimum(_choice(rng, pref.count_shares, n).astype(np.int64), k)
    empty = rng.random(n) < pref.none_share
    excludes = (rng.random(n) < pref.exclude_share) & (count < k)

    out = []
    for i in range(n):
        row = [munis[j] for j in ranked[i]]
        c = int(count[i])
        week = int(arrival_week[i])
        if i < spec.initial_backlog:
            ready = config.start - dt.timedelta(days=int(waited[i]))
        else:
            ready = week_date(config, week) - dt.timedelta(days=int(day_in_week[i]))
        out.append(
            ClientArrival(
                id=f"C{i + 1:05d}",
                index=i,
                week=week,
                ready_since=ready,
                household_size=int(household[i]),
                max_rent=float(max_rent[i]) if has_limit[i] else None,
                needs_accessible=bool(accessible[i]),
                target_group=str(groups[i]),
                preferred=[] if empty[i] else row[:c],
                excluded=[row[c]] if excludes[i] else [],
            )
        )
    return out


def _vacancies(config: ScenarioConfig, rng: np.random.Generator) -> list[VacancyArrival]:
    spec = config.vacancies
    types = spec.unit_types
    weeks = config.horizon_weeks
    complexes = config.region.complexes
    rows: list[tuple[int, str, str]] = []  # week, complex, corporation
    for stream in spec.streams:
        pool = [
            c
            for c in complexes
            if c.municipality == stream.municipality and c.corporation == stream.corporation
        ]
        weights = np.array([c.units_total for c in pool], dtype=float)
        counts = rng.poisson(stream.per_week, weeks)
        for week in np.repeat(np.arange(weeks), counts):
            cx = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
            rows.append((int(week), cx.id, stream.corporation))
    rows.sort(key=lambda r: r[0])  # stable: streams in file order within a week
    n = len(rows)
    rooms = _choice(rng, types.rooms, n).astype(np.int64)
    max_occ = rooms + rng.integers(0, 2, n)
    min_occ = np.where((rooms >= 3) & (rng.random(n) < 0.3), 2, 1)
    rent = np.round(
        np.clip(
            rng.normal(types.rent_base + types.rent_per_room * rooms, types.rent_spread),
            types.rent_min,
            types.rent_max,
        ),
        2,
    )
    accessible = rng.random(n) < types.accessible_share
    reserved = rng.random(n) < types.reserved_share
    which = rng.integers(0, max(len(types.reserved_for), 1), n)
    return [
        VacancyArrival(
            id=f"U{j + 1:05d}",
            index=j,
            week=week,
            complex_id=cx,
            corporation_id=corp,
            rooms=int(rooms[j]),
            rent=float(rent[j]),
            accessible=bool(accessible[j]),
            min_occupants=int(min_occ[j]),
            max_occupants=int(max(max_occ[j], min_occ[j])),
            allowed_groups=list(types.reserved_for[which[j]]) if reserved[j] else None,
        )
        for j, (week, cx, corp) in enumerate(rows)
    ]


def _moves(config: ScenarioConfig, rng: np.random.Generator) -> dict[int, list[str]]:
    rate = config.region.resident_moves_per_year
    moves: dict[int, list[str]] = {}
    if rate <= 0:
        return moves
    for cx in config.region.complexes:
        counts = rng.poisson(cx.vulnerable_residents * rate / 52, config.horizon_weeks)
        for week in np.flatnonzero(counts):
            moves.setdefault(int(week), []).extend([cx.id] * int(counts[week]))
    return moves


def _urgent(config: ScenarioConfig, clients: list[ClientArrival], seed: int) -> list[ClientArrival]:
    """Urgency flags from a stream of their own, so a scenario without urgency keeps its draws."""
    share = config.clients.urgent_share
    if share <= 0:
        return clients
    flags = np.random.default_rng([seed, 4]).random(len(clients)) < share
    return [dataclasses.replace(c, urgent=bool(f)) for c, f in zip(clients, flags, strict=True)]


def _support(
    config: ScenarioConfig, clients: list[ClientArrival], seed: int
) -> list[ClientArrival]:
    """Rule 15: a support provider for ``clients.support_share`` of the clients, one that works
    where they most want to live (with no preference: anywhere they accept), from a stream of its
    own so a scenario without support keeps its draws. No such provider: none."""
    share, providers = config.clients.support_share, config.region.support_providers
    if share <= 0 or not providers or not clients:
        return clients
    rng = np.random.default_rng([seed, 5])
    has = rng.random(len(clients)) < share
    pick = rng.random(len(clients))
    out = []
    for c, h, x in zip(clients, has, pick, strict=True):
        if c.preferred:
            fits = [p.id for p in providers if c.preferred[0] in p.yearly_places]
        else:
            fits = [p.id for p in providers if set(p.yearly_places) - set(c.excluded)]
        if h and fits:
            c = dataclasses.replace(c, support_provider_id=fits[int(x * len(fits))])
        out.append(c)
    return out


def _staircases(
    config: ScenarioConfig, vacancies: list[VacancyArrival], seed: int
) -> list[VacancyArrival]:
    """Rule 13: each vacancy in a complex with staircases arises in one of them (uniformly), from
    a stream of its own so a scenario without staircases keeps its draws."""
    stairs = {cx.id: sorted(cx.staircases) for cx in config.region.complexes if cx.staircases}
    if not stairs or not vacancies:
        return vacancies
    pick = np.random.default_rng([seed, 6]).random(len(vacancies))
    return [
        dataclasses.replace(v, staircase_id=s[int(x * len(s))])
        if (s := stairs.get(v.complex_id))
        else v
        for v, x in zip(vacancies, pick, strict=True)
    ]


def generate_arrivals(config: ScenarioConfig, seed: int) -> Arrivals:
    clients = _clients(config, np.random.default_rng([seed, 1]))
    vacancies = _vacancies(config, np.random.default_rng([seed, 2]))
    return Arrivals(
        seed=seed,
        clients=_support(config, _urgent(config, clients, seed), seed),
        vacancies=_staircases(config, vacancies, seed),
        moves=_moves(config, np.random.default_rng([seed, 3])),
    )


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def answer_uniform(seed: int, client: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per (client, unit) pair, fixed by the seed: the client's answer
    to an offer of that unit is the same under every policy."""
    with np.errstate(over="ignore"):
        x = _mix(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019))
        x = _mix(x ^ (np.asarray(client, dtype=np.uint64) + np.uint64(1)) * _M1)
        x = _mix(x ^ (np.asarray(unit, dtype=np.uint64) + np.uint64(7)) * _M2)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def leave_uniform(seed: int, client: np.ndarray, week: int) -> np.ndarray:
    """A uniform number per (client, week), fixed by the seed and apart from the answers: whether
    a waiting client leaves the list that week is the same under every policy."""
    return answer_uniform(seed + 0x5EED, np.asarray(client), np.full(len(client), 10_000 + week))


def base_chance(config: ScenarioConfig, clients: list[ClientArrival]) -> np.ndarray:
    offers = config.offers
    return np.array(
        [offers.by_target_group.get(c.target_group, offers.accept_probability) for c in clients],
        dtype=float,
    )


def acceptance_chance(config: ScenarioConfig, clients: list[ClientArrival], units) -> np.ndarray:
    """The chance that each client accepts the paired unit (elementwise): the target group's
    base chance moved by the pair's preference rank, rent against the client's limit and
    distance from the client's first municipality (``offers.acceptance``)."""
    spec = config.offers.acceptance
    base = base_chance(config, clients)
    coef = [spec.rank, spec.rent_over_limit, spec.distance]
    if not any(coef):
        return base
    muni_of = {cx.id: cx.municipality for cx in config.region.complexes}
    where = {m.id: m.location_km for m in config.region.municipalities}
    rank, distance = [], []
    for c, v in zip(clients, units, strict=True):
        m = muni_of[v.complex_id]
        rank.append(c.preferred.index(m) + 1 if m in c.preferred else 1)
        a, b = (where.get(c.preferred[0]) if c.preferred else None), where.get(m)
        distance.append(
            0.0 if a is None or b is None else float(np.hypot(a[0] - b[0], a[1] - b[1]))
        )
    features = pair_features(
        np.array(rank),
        np.array([v.rent for v in units]),
        np.array([np.nan if c.max_rent is None else c.max_rent for c in clients]),
        np.array(distance),
        spec.rent_from,
    )
    return probability(base, features, coef)


def accepts(config: ScenarioConfig, seed: int, clients: list[ClientArrival], units) -> np.ndarray:
    """Whether each client would accept the paired unit if offered (elementwise): the pair's
    fixed uniform number below its acceptance chance."""
    if not len(clients):
        return np.zeros(0, dtype=bool)
    u = answer_uniform(
        seed, np.array([c.index for c in clients]), np.array([v.index for v in units])
    )
    return u < acceptance_chance(config, clients, units)
