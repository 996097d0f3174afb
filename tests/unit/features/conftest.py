"""A tiny hand-made history with known answers, as Arrow tables in the store's reading schema."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from winback.features.source import UTC_US, with_machine_flag

AS_OF = datetime(2026, 6, 30, tzinfo=UTC)


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def table(columns: dict[str, list], types: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in columns.items()})


@pytest.fixture
def history() -> dict[str, pa.Table]:
    ts = UTC_US
    customers = table({
        "customer_id": ["A", "B", "C", "D"],
        "email_key": ["a@x.test", "b@x.test", None, None],
        "locale": ["en-US", "zh-CN", None, None], "time_zone": [None] * 4,
        "created_at": [d("2025-01-01"), d("2025-06-01"), d("2026-06-20"), d("2026-07-15")],
        "attributes": [None] * 4,
    }, {"created_at": ts})
    orders = table({
        "order_id": ["A1", "A1b", "A2", "A3", "A4", "A5", "B1", "B2"],
        "customer_id": ["A", "A", "A", "A", "A", "A", "B", "B"],
        "ordered_at": [d("2026-01-01T09:00"), d("2026-01-01T18:00"), d("2026-02-01"), d("2026-02-21"),
                       d("2026-03-03"), d("2026-07-05"), d("2025-06-10"), d("2025-09-10")],
        "amount": [10.0, 5.0, 20.0, 30.0, 40.0, 99.0, 50.0, 60.0],
        "currency": ["USD"] * 8,
        "status": ["completed", "completed", "completed", "refunded", "completed", "completed", "completed",
                   "completed"],
        "coupon_code": [None] * 8, "channel": ["web"] * 8,
    }, {"ordered_at": ts, "amount": pa.float64()})
    events = table({
        "event_id": [f"e{i}" for i in range(9)],
        "customer_id": ["A", "A", "A", "A", "A", "B", "B", "B", "A"],
        "occurred_at": [d("2026-06-25"), d("2026-04-15"), d("2026-04-20"), d("2026-05-10"), d("2026-06-29"),
                        d("2026-06-28"), d("2026-06-29"), d("2026-05-01"), d("2026-07-02")],
        "type": ["page_view", "page_view", "page_view", "page_view", "email_open", "email_open", "app_session",
                 "email_click", "page_view"],
        "properties": [None, None, None, None, '{"machine": false}', '{"machine": true}', None, None, None],
    }, {"occurred_at": ts})
    feedback = table({
        "feedback_id": ["f1", "f2", "f3"], "customer_id": ["B", "B", "A"],
        "kind": ["ticket", "complaint", "review"], "rating": [None, None, 2],
        "text": ["where is my parcel", "awful", "meh"], "status": ["resolved", "open", "closed"],
        "opened_at": [d("2026-06-01"), d("2026-06-10"), d("2026-01-10")],
        "resolved_at": [d("2026-07-10"), None, None], "category": ["delivery", None, None],
    }, {"opened_at": ts, "resolved_at": ts, "rating": pa.int64()})
    subscriptions = table({
        "subscription_id": ["s1"], "customer_id": ["B"], "plan": ["plus"], "status": ["cancelled"],
        "amount": [9.0], "currency": ["USD"], "started_at": [d("2025-06-01")], "renews_at": [None],
        "cancelled_at": [d("2026-06-15")], "cancel_reason": ["too expensive"], "paused_until": [None],
    }, {"started_at": ts, "renews_at": ts, "cancelled_at": ts, "paused_until": ts, "amount": pa.float64()})
    return {"customers": customers, "orders": orders, "events": with_machine_flag(events), "feedback": feedback,
            "subscriptions": subscriptions}
