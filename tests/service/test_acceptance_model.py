"""The acceptance model fitted to the region's own answered offers, with the history it rests on;
per-client estimates for the coordinator; roles."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import select

from service import tables as t
from service.db import get_sessionmaker


def _answered_offers(settings, n: int = 400) -> tuple[int, int]:
    """Answered offers of demo clients on demo vacancies: a first-choice unit is accepted 85% of
    the time, any other 35% (a fixed draw). Returns (offers, accepted)."""
    rng = np.random.default_rng(5)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    accepted = 0
    with get_sessionmaker(settings.database_url)() as session:
        clients = session.scalars(select(t.Client).order_by(t.Client.id)).all()
        rows = session.execute(
            select(t.Vacancy, t.Complex.municipality_id).join(
                t.Complex, t.Vacancy.complex_id == t.Complex.id
            )
        ).all()
        made = 0
        for i in range(n):
            client = clients[i % len(clients)]
            preferred = client.preferred_municipalities or []
            # offers go only to a municipality the client accepts (rule 5)
            fits = [r for r in rows if not preferred or r[1] in preferred]
            vacancy, muni = fits[int(rng.integers(len(fits)))]
            first = not preferred or preferred[0] == muni
            yes = rng.random() < (0.85 if first else 0.35)
            accepted += yes
            session.add(
                t.Offer(
                    region_id=client.region_id,
                    client_id=client.id,
                    corporation_id=vacancy.corporation_id,
                    unit_id=vacancy.id,
                    status="let" if yes else "refused",
                    created_by="test",
                    created_at=now,
                    expires_at=now + dt.timedelta(days=14),
                    decided_at=now + dt.timedelta(days=i % 10),
                )
            )
            made += 1
        session.commit()
    return made, accepted


def test_the_model_rests_on_the_regions_answers(client, keys, settings):
    before = client.get("/acceptance-model", headers=keys.coordinator)
    assert before.status_code == 200, before.text
    start = before.json()
    made, yes = _answered_offers(settings)
    body = client.get("/acceptance-model", headers=keys.coordinator).json()
    assert body["offers"] == start["offers"] + made
    assert body["accepted"] - start["accepted"] == yes
    assert body["refused"] == body["offers"] - body["accepted"]
    assert sum(body["offers_by_target_group"].values()) == body["offers"]
    rank = next(term for term in body["terms"] if term["feature"] == "rank")
    # a unit further down the client's list is refused more often: a negative, certain effect
    assert rank["coefficient"] < 0 and rank["ci_high"] < 0
    assert rank["odds_ratio"] < 1
    assert body["explanation"][0].startswith(f"Fitted on {body['offers']} answered offers")
    # aggregates only: the planner reads it too; a corporation may not
    assert client.get("/acceptance-model", headers=keys.planner).status_code == 200
    assert client.get("/acceptance-model", headers=keys.corporation).status_code == 403


def test_per_client_estimates_for_the_coordinator(client, keys, settings):
    _answered_offers(settings)
    clients = client.get("/clients", headers=keys.coordinator).json()
    someone = next(c for c in clients if c["preferred_municipalities"])
    r = client.get(f"/acceptance-model/clients/{someone['id']}", headers=keys.coordinator)
    assert r.status_code == 200, r.text
    body = r.json()
    chances = [e["probability"] for e in body["estimates"]]
    assert chances == sorted(chances, reverse=True) and all(0 <= p <= 1 for p in chances)
    assert {e["municipality_id"] for e in body["estimates"]} <= set(
        someone["preferred_municipalities"]
    )
    assert (
        client.get("/acceptance-model/clients/nobody", headers=keys.coordinator).status_code == 404
    )
    assert (
        client.get(f"/acceptance-model/clients/{someone['id']}", headers=keys.planner).status_code
        == 403
    )


def test_too_little_history_says_so(client, keys):
    body = client.get("/acceptance-model", headers=keys.coordinator).json()
    assert body["offers"] < 20
    assert "Too little" in body["note"]
    assert all(term["coefficient"] == 0 for term in body["terms"])
