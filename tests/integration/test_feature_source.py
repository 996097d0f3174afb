"""What the features read from the store: the tracking service's opens and clicks join the imported events."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from winback.features.source import read_history
from winback.store import tables as t


def test_tracked_opens_and_clicks_are_events_and_machine_ones_are_flagged(engine, now) -> None:
    with engine.begin() as conn:
        conn.execute(
            t.customers.insert(),
            [
                {
                    "customer_id": "c1",
                    "email": "a@example.com",
                    "email_key": "a@example.com",
                    "row_hash": "x",
                    "updated_at": now,
                }
            ],
        )
        conn.execute(
            t.events.insert(),
            [
                {
                    "event_id": "e1",
                    "customer_id": "c1",
                    "occurred_at": now - timedelta(days=3),
                    "type": "visit",
                    "properties": None,
                    "row_hash": "x",
                    "updated_at": now,
                }
            ],
        )
        conn.execute(
            t.engagements.insert(),
            [
                {
                    "customer_id": "c1",
                    "enrolment_id": None,
                    "step": None,
                    "message_id": None,
                    "kind": kind,
                    "at": now - timedelta(days=d),
                    "machine": machine,
                    "reason": reason,
                    "detail": None,
                }
                for kind, d, machine, reason in (
                    ("open", 2, False, None),
                    ("open", 2, True, "apple_mpp"),
                    ("click", 1, False, None),
                    ("unsubscribe", 1, False, None),
                )
            ],
        )
    events = read_history(engine, ["events"])["events"].to_pylist()
    by_type = sorted((e["type"], e["machine"], e["occurred_at"]) for e in events)
    assert by_type == sorted(
        [
            ("visit", False, now - timedelta(days=3)),
            ("email_open", False, now - timedelta(days=2)),
            ("email_open", True, now - timedelta(days=2)),
            ("email_click", False, now - timedelta(days=1)),
        ]
    )
    with engine.connect() as conn:  # nothing written
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.events)) == 1
