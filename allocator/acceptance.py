"""The chance that a client accepts an offered unit: the features of a pair, a logistic model on
them, and fitting that model to a history of accepted and refused offers.

One model, plain enough to explain to a coordinator: per target group a base chance, and on the
log-odds scale a term per feature of the pair,

    logit p = logit(base[group]) + b_rank · (rank − 1)
                                 + b_rent · 10 · max(0, rent / max_rent − rent_from)
                                 + b_distance · km from the client's first municipality / 10

With every b zero, p is the group's base chance exactly (no round trip through the log-odds).
The simulation sets the coefficients in the scenario file; the service fits them
(``fit``) to the region's own offers. No database and no web code here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The pair features, in the order of a feature matrix's columns.
FEATURES = ("rank", "rent_over_limit", "distance")
FEATURE_TEXT = {
    "rank": "per preference rank beyond the first",
    "rent_over_limit": "per 10 points of rent / rent limit above the threshold",
    "distance": "per 10 km from the client's first-listed municipality",
}
_CLIP = 1e-6


def pair_features(
    rank: np.ndarray,
    rent: np.ndarray,
    max_rent: np.ndarray,
    distance_km: np.ndarray,
    rent_from: float = 0.8,
) -> np.ndarray:
    """An (n, 3) matrix of the features of n pairs. ``rank`` is 1-based (1 where the client
    lists no municipality); ``max_rent`` is NaN where the client has no limit (then the rent
    term is 0); ``distance_km`` is 0 where unknown."""
    rank = np.asarray(rank, dtype=float)
    rent = np.asarray(rent, dtype=float)
    max_rent = np.asarray(max_rent, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(max_rent) & (max_rent > 0), rent / max_rent, 0.0)
    over = np.where(ratio > 0, 10.0 * np.maximum(0.0, ratio - rent_from), 0.0)
    return np.column_stack(
        [np.maximum(rank - 1.0, 0.0), over, np.asarray(distance_km, dtype=float) / 10.0]
    )


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _CLIP, 1 - _CLIP)
    return np.log(p / (1 - p))


def probability(base: np.ndarray, features: np.ndarray, coefficients) -> np.ndarray:
    """Chance of acceptance per pair: the base chance moved by the features on the log-odds
    scale. Where the features add nothing, exactly ``base``."""
    base = np.asarray(base, dtype=float)
    z = np.asarray(features, dtype=float) @ np.asarray(coefficients, dtype=float)
    moved = 1.0 / (1.0 + np.exp(-(logit(base) + z)))
    return np.where(z == 0, base, moved)


@dataclass
class FittedAcceptance:
    """A logistic regression of answers on target group and pair features, with what it rests
    on: how many offers, accepted and refused, and per term its estimate and 95% interval."""

    offers: int
    accepted: int
    groups: dict[str, float]  # base chance per target group (features at 0)
    group_offers: dict[str, int]
    coefficients: dict[str, float]  # per feature, log-odds
    intervals: dict[str, tuple[float, float]]  # per feature, 95% on the log-odds scale
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    note: str = ""

    def chance(self, group: str, features: np.ndarray) -> np.ndarray:
        base = self.groups.get(group, self.accepted / self.offers if self.offers else 1.0)
        coef = [self.coefficients.get(f, 0.0) for f in FEATURES]
        return probability(np.full(len(features), base), features, coef)

    def explain(self) -> list[str]:
        """The model in sentences a coordinator reads."""
        lines = [
            f"Fitted on {self.offers} answered offers ({self.accepted} accepted, "
            f"{self.offers - self.accepted} refused)."
        ]
        for g, p in sorted(self.groups.items()):
            lines.append(
                f"Target group {g}: {p:.0%} accept a first-choice unit within their rent "
                f"(from {self.group_offers.get(g, 0)} offers)."
            )
        for f in self.features:
            b = self.coefficients.get(f, 0.0)
            lo, hi = self.intervals.get(f, (b, b))
            odds = np.exp(b)
            lines.append(
                f"{FEATURE_TEXT[f]}: odds of accepting × {odds:.2f} "
                f"(95% interval × {np.exp(lo):.2f}–{np.exp(hi):.2f})."
            )
        if self.note:
            lines.append(self.note)
        return lines


def fit(groups: list[str], features: np.ndarray, accepted: np.ndarray) -> FittedAcceptance:
    """Logistic regression (statsmodels) of ``accepted`` on one intercept per target group and
    the pair features. Features that never vary are left out (coefficient 0); a history too
    small or perfectly separated falls back to the share accepted per group, and says so."""
    import statsmodels.api as sm

    accepted = np.asarray(accepted, dtype=float)
    features = np.asarray(features, dtype=float).reshape(len(accepted), len(FEATURES))
    n = len(accepted)
    names = sorted(set(groups))
    group_offers = {g: sum(1 for x in groups if x == g) for g in names}
    share = {
        g: float(np.mean([a for x, a in zip(groups, accepted, strict=True) if x == g]))
        for g in names
    }
    empty = FittedAcceptance(
        offers=n,
        accepted=int(accepted.sum()),
        groups=share,
        group_offers=group_offers,
        coefficients={f: 0.0 for f in FEATURES},
        intervals={},
    )
    varying = [j for j in range(len(FEATURES)) if n and np.ptp(features[:, j]) > 0]
    if n < 20 or not varying or accepted.min(initial=1) == accepted.max(initial=0):
        empty.note = "Too little or too uniform history for pair effects: share accepted per group."
        return empty
    dummies = np.column_stack([[1.0 if x == g else 0.0 for x in groups] for g in names])
    design = np.column_stack([dummies, features[:, varying]])
    try:
        result = sm.Logit(accepted, design).fit(disp=0, maxiter=200)
        params, conf = np.asarray(result.params), np.asarray(result.conf_int(0.05))
    except Exception as exc:  # noqa: BLE001 - separation or a singular design
        empty.note = f"The regression did not converge ({type(exc).__name__}): share per group."
        return empty
    if not np.all(np.isfinite(params)):
        empty.note = "The regression did not converge: share accepted per group."
        return empty
    k = len(names)
    coefficients = {f: 0.0 for f in FEATURES}
    intervals = {}
    for i, j in enumerate(varying):
        coefficients[FEATURES[j]] = float(params[k + i])
        intervals[FEATURES[j]] = (float(conf[k + i, 0]), float(conf[k + i, 1]))
    return FittedAcceptance(
        offers=n,
        accepted=int(accepted.sum()),
        groups={g: float(1 / (1 + np.exp(-params[i]))) for i, g in enumerate(names)},
        group_offers=group_offers,
        coefficients=coefficients,
        intervals=intervals,
    )
