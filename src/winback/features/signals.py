"""Early-warning signals: each with a code, a strength in [0, 1] and a sentence a marketer understands.

Every signal compares the customer with their own past (the 90 days before the last 30, their own purchase
cycle) or flags an experience known to precede churn (complaints, bad ratings, unresolved tickets,
subscription changes). Thresholds are deliberately conservative: a signal should be worth reading.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from winback.features.customer import BASELINE_DAYS, RECENT_DAYS

MIN_BASELINE_EVENTS = 3  # fewer than this in 90 days is too little to call a decline
MIN_DROP = 0.5

DECLINES = (
    ("visits_down", ("page_view",), "visits"),
    ("app_sessions_down", ("app_session",), "app sessions"),
    ("logins_down", ("login",), "logins"),
    ("feature_use_down", ("feature_use",), "feature use"),
    ("email_engagement_down", ("email_open", "email_click"), "email opens and clicks"),
)


@dataclass(frozen=True)
class Signal:
    code: str
    strength: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decline(row: Any, kinds: tuple[str, ...]) -> tuple[float, float] | None:
    recent = sum(getattr(row, f"{k}_30") or 0 for k in kinds)
    baseline = sum(getattr(row, f"{k}_prior_90") or 0 for k in kinds)
    if baseline < MIN_BASELINE_EVENTS:
        return None
    rate_recent, rate_base = recent / RECENT_DAYS, baseline / BASELINE_DAYS
    drop = 1 - rate_recent / rate_base
    return (drop, baseline) if drop >= MIN_DROP else None


def customer_signals(row: Any) -> list[Signal]:
    """The signals of one customer (a row of the features table, as a namedtuple)."""
    out: list[Signal] = []
    for code, kinds, label in DECLINES:
        found = _decline(row, kinds)
        if found:
            drop, _ = found
            out.append(Signal(code, round(min(1.0, drop), 3),
                              f"{label} down {drop:.0%} against own {BASELINE_DAYS}-day baseline".replace("%", " %")))
    ratio = _num(row.overdue_ratio)
    if ratio is not None and ratio >= 1.5 and (row.frequency or 0) >= 2:
        out.append(Signal("overdue", round(min(1.0, (ratio - 1) / 3), 3),
                          f"{ratio:.1f}× overdue against own purchase cycle ({row.cadence_days:.0f} days)"))
    before, recent = row.orders_prior_180 or 0, row.orders_last_90 or 0
    if before >= 2 and recent / 90 <= 0.5 * before / 180:
        drop = 1 - (recent / 90) / (before / 180)
        out.append(Signal("purchases_down", round(drop, 3),
                          f"orders down {drop:.0%} against the 6 months before".replace("%", " %")))
    if row.complaints_90:
        n = int(row.complaints_90)
        out.append(Signal("complaints", min(1.0, 0.5 + 0.25 * n), f"{n} complaint{'s' * (n > 1)} in the last 90 days"))
    if row.low_ratings_90:
        n = int(row.low_ratings_90)
        out.append(Signal("low_ratings", min(1.0, 0.4 + 0.2 * n),
                          f"{n} rating{'s' * (n > 1)} of 2 stars or less in the last 90 days"))
    if row.unresolved_tickets:
        n, oldest = int(row.unresolved_tickets), _num(row.oldest_unresolved_days) or 0
        out.append(Signal("unresolved_tickets", min(1.0, 0.3 + 0.2 * n + oldest / 60),
                          f"{n} unresolved ticket{'s' * (n > 1)}, oldest {oldest:.0f} days"))
    out.extend(_subscription_signals(row))
    return out


def _subscription_signals(row: Any) -> list[Signal]:
    out = []
    if row.cancelled_subscriptions and not row.active_subscriptions:
        out.append(Signal("subscription_cancelled", 1.0, "cancelled their subscription"))
    if row.paused_subscriptions:
        out.append(Signal("subscription_paused", 0.5, "subscription paused"))
    if row.payment_failures_90:
        out.append(Signal("payment_failed", 0.6, f"{int(row.payment_failures_90)} failed payment(s) in 90 days"))
    if row.downgrades_90:
        out.append(Signal("plan_downgrade", 0.5, "downgraded their plan in the last 90 days"))
    return out


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def signals_table(features: pd.DataFrame) -> pd.Series:
    """A list of Signal per customer, aligned with `features`."""
    return pd.Series([customer_signals(row) for row in features.itertuples(index=False)], index=features.index)
