"""Signals in words and dormancy types with their evidence, on hand-made feature rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from winback.features.signals import customer_signals
from winback.scoring.dormancy import dormancy_type

AS_OF = datetime(2026, 6, 30, tzinfo=UTC)
ZERO_ACTIVITY = {f"{k}_{w}": 0 for k in ("page_view", "app_session", "login", "feature_use", "email_open",
                                         "email_click", "sms_click", "cart_abandon", "search")
                 for w in ("30", "prior_90")}


def row(**over):
    base = {**ZERO_ACTIVITY, "customer_id": "x", "as_of": AS_OF, "frequency": 4, "cadence_days": 30.0,
            "overdue_ratio": 0.5, "orders_prior_180": 0, "orders_last_90": 0, "complaints_90": 0, "low_ratings_90": 0,
            "unresolved_tickets": 0, "oldest_unresolved_days": None, "cancelled_subscriptions": 0,
            "active_subscriptions": 0, "paused_subscriptions": 0, "payment_failures_90": 0, "downgrades_90": 0,
            "last_order_at": AS_OF - timedelta(days=40), "last_activity_at": AS_OF - timedelta(days=40),
            "last_negative_at": None, "last_email_engagement_at": AS_OF - timedelta(days=5), "tenure_days": 500.0}
    base.update(over)
    return pd.Series(base).to_frame().T.itertuples(index=False).__next__()


def test_signal_sentences():
    texts = {s.code: s.text for s in customer_signals(row(
        page_view_30=1, page_view_prior_90=15, overdue_ratio=2.4, unresolved_tickets=3, oldest_unresolved_days=12.0,
        complaints_90=1, orders_prior_180=6, orders_last_90=0))}
    assert texts["visits_down"] == "visits down 80 % against own 90-day baseline"
    assert texts["overdue"] == "2.4× overdue against own purchase cycle (30 days)"
    assert texts["unresolved_tickets"] == "3 unresolved tickets, oldest 12 days"
    assert texts["complaints"] == "1 complaint in the last 90 days"
    assert texts["purchases_down"] == "orders down 100 % against the 6 months before"


def test_no_signal_on_thin_baselines_or_steady_behaviour():
    assert customer_signals(row(page_view_30=0, page_view_prior_90=2)) == []
    assert customer_signals(row(page_view_30=5, page_view_prior_90=15)) == []


def test_dormancy_types_in_order_of_precedence():
    bad = row(last_negative_at=AS_OF - timedelta(days=50), email_open_prior_90=0)
    assert dormancy_type(bad).type == "bad_experience"
    natural = row(cadence_days=120.0, overdue_ratio=0.8)
    assert dormancy_type(natural).type == "natural_cycle"
    shift = row(last_email_engagement_at=AS_OF - timedelta(days=150), app_session_30=4, login_prior_90=6)
    assert dormancy_type(shift).type == "channel_shift"
    fatigue = row(last_email_engagement_at=AS_OF - timedelta(days=80), page_view_30=2)
    assert dormancy_type(fatigue).type == "content_fatigue"
    assert "no email opens or clicks for 80 days" in dormancy_type(fatigue).evidence
    assert dormancy_type(row()).type == "unknown"
