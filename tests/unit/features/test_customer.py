"""Feature expressions on DuckDB against hand-computed answers, and the point-in-time guarantee."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from winback.features.execute import compute_features
from winback.features.source import UTC_US

AS_OF = datetime(2026, 6, 30, tzinfo=UTC)  # the date the conftest's history is built around


@pytest.fixture
def features(history):
    return compute_features(history, as_of=AS_OF).set_index("customer_id")


def test_known_customers_are_those_signed_up_or_buying_by_the_date(features):
    assert sorted(features.index) == ["A", "B", "C"]  # D signs up after the date


def test_btyd_summary_merges_same_day_orders_and_skips_refunds(features):
    a = features.loc["A"]
    # occasions: Jan 1 (10+5), Feb 1 (20), Mar 3 (40); Feb 21 refunded; Jul 5 after the date
    assert (a.n_orders, a.frequency) == (4, 2)
    assert a.revenue == pytest.approx(75.0)
    assert a.recency_days == pytest.approx(61.0)  # Jan 1 -> Mar 3
    assert a.t_days == pytest.approx(180.0)  # Jan 1 -> Jun 30
    assert a.monetary_value == pytest.approx(30.0)  # mean of the repeat occasions (20, 40)
    assert a.cadence_days == pytest.approx(30.5)  # median of the gaps 31 and 30
    assert a.gap_before_last_days == pytest.approx(30.0)
    assert a.days_since_last_order == pytest.approx(119.0)
    assert a.overdue_ratio == pytest.approx(119.0 / 30.5)


def test_activity_windows_exclude_machine_opens_and_the_future(features):
    a, b = features.loc["A"], features.loc["B"]
    assert (a.page_view_30, a.page_view_prior_90) == (1, 3)  # the Jul 2 visit is after the date
    assert a.email_open_30 == 1
    assert b.email_open_30 == 0 and b.machine_opens_30 == 1
    assert (b.app_session_30, b.email_click_prior_90) == (1, 1)


def test_feedback_and_subscription_state_as_of_the_date(features):
    b = features.loc["B"]
    assert b.unresolved_tickets == 1  # resolved on Jul 10, after the date
    assert b.oldest_unresolved_days == pytest.approx(29.0)
    assert b.complaints_90 == 1
    assert (b.cancelled_subscriptions, b.active_subscriptions) == (1, 0)
    assert features.loc["A"].low_ratings_90 == 0  # the 2-star review is older than 90 days


def test_customers_without_orders_get_zero_counts_and_null_times(features):
    c = features.loc["C"]
    assert (c.n_orders, c.frequency, c.page_view_30) == (0, 0, 0)
    assert math.isnan(c.days_since_last_order) and c.tenure_days == pytest.approx(10.0)


def _cut(history: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Drop every row dated after the as-of date: what the world looked like on that day."""
    limit = pa.scalar(AS_OF, UTC_US)
    cut = dict(history)
    cut["orders"] = history["orders"].filter(pc.less_equal(history["orders"]["ordered_at"], limit))
    cut["events"] = history["events"].filter(pc.less_equal(history["events"]["occurred_at"], limit))
    feedback = history["feedback"].filter(pc.less_equal(history["feedback"]["opened_at"], limit))
    later = pc.fill_null(pc.greater(feedback["resolved_at"], limit), False)
    resolved = pc.if_else(later, pa.scalar(None, UTC_US), feedback["resolved_at"])
    status = pc.if_else(later, "open", feedback["status"])  # on the day, a ticket resolved later was open
    feedback = feedback.set_column(feedback.schema.get_field_index("resolved_at"), "resolved_at", resolved)
    cut["feedback"] = feedback.set_column(feedback.schema.get_field_index("status"), "status", status)
    cut["customers"] = history["customers"].filter(pc.less_equal(history["customers"]["created_at"], limit))
    return cut


def test_no_feature_reads_data_after_the_as_of_date(history):
    full = compute_features(history, as_of=AS_OF)
    cut = compute_features(_cut(history), as_of=AS_OF)
    assert full.drop(columns=["created_at"]).equals(cut.drop(columns=["created_at"]))
