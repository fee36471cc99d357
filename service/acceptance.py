"""The region's acceptance model: how likely a client is to accept an offered unit, fitted to
the region's own answered offers (``allocator.acceptance``: one logistic regression on target
group, preference rank, rent against the client's limit; no distance, the service keeps no
coordinates), with how much history it rests on. Read-only: it changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.acceptance import FittedAcceptance, fit, pair_features
from service import tables as t
from service.tables import same_record, the_vacancy

#: Offers whose answer is known: accepted (and perhaps let since) or refused.
ACCEPTED = ("accepted", "let")
REFUSED = ("refused",)
#: The most recent answered offers a fit reads: the work of a request is bounded.
MAX_HISTORY = 20_000


@dataclass
class History:
    groups: list[str]
    features: np.ndarray
    accepted: np.ndarray
    first: dt.datetime | None
    last: dt.datetime | None


def features_of(client: t.Client, vacancy: t.Vacancy, municipality_id: str) -> np.ndarray:
    """One pair's feature row (rank, rent over the client's limit, distance 0)."""
    preferred = list(client.preferred_municipalities or [])
    rank = preferred.index(municipality_id) + 1 if municipality_id in preferred else 1
    limit = np.nan if client.max_rent is None else client.max_rent
    return pair_features([rank], [vacancy.rent], [limit], [0.0])[0]


def history(session: Session) -> History:
    """Every answered offer with its pair's features and the client's target group."""
    rows = session.execute(
        select(t.Offer, t.Client, t.Vacancy, t.Complex.municipality_id)
        .join(t.Client, same_record(t.Client, t.Offer, "client_id"))
        .join(t.Vacancy, the_vacancy(t.Offer))
        .join(t.Complex, same_record(t.Complex, t.Vacancy, "complex_id"))
        .where(t.Offer.status.in_(ACCEPTED + REFUSED))
        .order_by(t.Offer.id.desc())
        .limit(MAX_HISTORY)
    ).all()
    groups, feats, answers, when = [], [], [], []
    for offer, client, vacancy, municipality_id in rows:
        groups.append(client.target_group)
        feats.append(features_of(client, vacancy, municipality_id))
        answers.append(offer.status in ACCEPTED)
        when.append(offer.decided_at or offer.created_at)
    return History(
        groups=groups,
        features=np.array(feats, dtype=float).reshape(len(feats), 3),
        accepted=np.array(answers, dtype=bool),
        first=min(when) if when else None,
        last=max(when) if when else None,
    )


def region_model(session: Session) -> tuple[FittedAcceptance, History]:
    h = history(session)
    return fit(h.groups, h.features, h.accepted), h


def estimates_for(session: Session, model: FittedAcceptance, client: t.Client) -> list[dict]:
    """The model's chance for the client and every open vacancy in a municipality the client
    accepts, likeliest first."""
    rows = session.execute(
        select(t.Vacancy, t.Complex.municipality_id)
        .join(t.Complex, same_record(t.Complex, t.Vacancy, "complex_id"))
        .where(t.Vacancy.status == "open")
        .order_by(t.Vacancy.id, t.Vacancy.corporation_id)
    ).all()
    preferred = list(client.preferred_municipalities or [])
    excluded = set(client.excluded_municipalities or [])
    out = []
    for vacancy, muni in rows:
        if muni in excluded or (preferred and muni not in preferred):
            continue
        x = features_of(client, vacancy, muni)
        out.append(
            {
                "unit_id": vacancy.id,
                "corporation_id": vacancy.corporation_id,
                "municipality_id": muni,
                "probability": round(float(model.chance(client.target_group, x[None, :])[0]), 4),
            }
        )
    out.sort(key=lambda e: (-e["probability"], e["unit_id"], e["corporation_id"]))
    return out
