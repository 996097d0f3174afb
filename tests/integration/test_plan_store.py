"""The dry run on a small hand-built store, on SQLite and PostgreSQL: every exclusion count known by construction,
the holdout as enrolment would draw it, sends per day, the expected effect — and nothing written."""

from __future__ import annotations

import math
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from winback.campaigns.assign import in_holdout
from winback.campaigns.files import parse_programme
from winback.campaigns.plan import plan_programme
from winback.jobs.plan import read_only
from winback.store import tables as t

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PID = "plan-test"
CAPS = {"email": (2, timedelta(days=7))}
E90 = 0.9
MONETARY = 50.0

PROGRAMME = textwrap.dedent(f"""\
    programme: {PID}
    audience: "stage == 'at_risk'"
    holdout: 0.3
    entry: {{reentry: 1d}}
    goal: {{within: 30d}}
    caps:
      programme: {{max: 2, per: 30d}}
    forecast: {{relative_lift: 0.1, lift_low: 0.05, lift_high: 0.2}}
    costs: {{email: 0.01}}
    steps:
      - id: first
        send: {{template: winback/reminder}}
      - wait: 2d
      - id: second
        send: {{template: winback/whats-new, incentive: {{kind: percent, value: 10}}}}
""")

# Each group is excluded for one reason, by construction.
GROUPS = {
    "invalid_address": [f"inv-{i}" for i in range(2)],  # no email
    "suppressed": [f"sup-{i}" for i in range(3)],  # email address on the suppression list
    "no_consent": [f"noc-{i}" for i in range(2)],  # email consent unsubscribed
    "already_enrolled": [f"enr-{i}" for i in range(2)],  # active in this programme
    "global_cap": [f"gcap-{i}" for i in range(4)],  # another programme mailed them twice yesterday (cap 2 per 7d)
    "programme_cap": [f"pcap-{i}" for i in range(3)],  # this programme mailed them twice 5 days ago (cap 2 per 30d)
    "outside_window": [f"old-{i}" for i in range(2)],  # mailed twice 8 days ago: outside the global cap's window
    "plain": [f"ok-{i:02d}" for i in range(20)],
}
NOT_IN_AUDIENCE = ["active-1"]


def _audit(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "row_hash": "h", "updated_at": NOW}


def _customers() -> list[str]:
    return [c for ids in GROUPS.values() for c in ids]


def _build(engine: sa.Engine) -> None:
    everyone = [*_customers(), *NOT_IN_AUDIENCE]
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [_audit(dict(
            customer_id=c, email=None if c.startswith("inv") else f"{c}@example.com",
            email_key=None if c.startswith("inv") else f"{c}@example.com", time_zone="UTC")) for c in everyone])
        conn.execute(t.profiles.insert(), [dict(
            customer_id=c, run_id="r1", as_of=NOW - timedelta(days=1), stage="active" if c in NOT_IN_AUDIENCE
            else "at_risk", expected_purchases_90=E90, p_alive=0.5, p_churn=0.6, monetary_value=MONETARY,
            revenue=100.0, n_orders=2) for c in everyone])
        conn.execute(t.orders.insert(), [_audit(dict(
            order_id=f"o-{c}", customer_id=c, ordered_at=NOW - timedelta(days=100), amount=Decimal("100"),
            currency="USD", status="completed")) for c in everyone])
        conn.execute(t.suppressions.insert(), [_audit(dict(
            channel="email", address_key=f"{c}@example.com", address=f"{c}@example.com", basis="unsubscribe"))
            for c in GROUPS["suppressed"]])
        conn.execute(t.consents.insert(), [_audit(dict(customer_id=c, channel="email", status="unsubscribed"))
                                           for c in GROUPS["no_consent"]]
                     + [_audit(dict(customer_id=c, channel="email", status="subscribed"))
                        for c in GROUPS["plain"][:5]])
        for pid in (PID, "other"):
            conn.execute(t.programmes.insert().values(programme_id=pid, version=1, state="running", created_at=NOW,
                                                      updated_at=NOW))
            conn.execute(t.programme_versions.insert().values(programme_id=pid, version=1, source="", definition={},
                                                              digest="d", created_at=NOW))
        enrolments = [dict(programme_id=PID, customer_id=c, state="active", finished_at=None)
                      for c in GROUPS["already_enrolled"]]
        enrolments += [dict(programme_id=PID, customer_id=c, state="completed", finished_at=NOW - timedelta(days=4))
                       for c in GROUPS["programme_cap"]]  # ended, and re-entry (1 day later) is allowed
        enrolments += [dict(programme_id="other", customer_id=c, state="active", finished_at=None)
                       for c in GROUPS["global_cap"] + GROUPS["outside_window"]]
        ids = {}
        for row in enrolments:
            ids[row["customer_id"]] = conn.execute(t.enrolments.insert().values(
                version=1, cycle=1, holdout=False, entered_at=NOW - timedelta(days=10), **row)
                .returning(t.enrolments.c.enrolment_id)).scalar_one()
        sends = [(c, pid, step, NOW - timedelta(days=days)) for group, pid, days in (
            ("programme_cap", PID, 5), ("global_cap", "other", 1), ("outside_window", "other", 8))
            for c in GROUPS[group] for step in ("first", "second")]
        conn.execute(t.ledger.insert(), [dict(
            enrolment_id=ids[c], step=step, programme_id=pid, version=1, customer_id=c, kind="send",
            channel="email", state="sent", attempts=1, fence=1, created_at=at, updated_at=at)
            for c, pid, step, at in sends])


def _row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table.name: conn.scalar(sa.select(sa.func.count()).select_from(table))
                for table in t.metadata.sorted_tables}


@pytest.fixture
def store(engine: sa.Engine) -> sa.Engine:
    _build(engine)
    return engine


def _plan(engine: sa.Engine, text: str = PROGRAMME, *, caps=CAPS, now: datetime = NOW) -> dict[str, Any]:
    programme = parse_programme(text).programme
    with engine.connect() as conn:
        result = plan_programme(conn, programme, now=now, global_caps=caps).as_dict()
        conn.commit()  # anything the plan had written would now be kept: the counts below would see it
    return result


def test_every_exclusion_is_counted_with_its_reason(store):
    before = _row_counts(store)
    plan = _plan(store)
    assert _row_counts(store) == before  # the dry run wrote nothing

    candidates = GROUPS["global_cap"] + GROUPS["programme_cap"] + GROUPS["outside_window"] + GROUPS["plain"]
    held = [c for c in candidates if in_holdout(PID, c, 0.3)]
    capped = [c for c in GROUPS["global_cap"] + GROUPS["programme_cap"] if not in_holdout(PID, c, 0.3)]
    assert 0 < len(held) < len(candidates) and capped  # the construction exercises both
    assert plan["audience"] == len(_customers())
    assert plan["exclusions"] == {"unknown_customer": 0, "invalid_address": 2, "suppressed": 3, "no_consent": 2,
                                  "already_enrolled": 2, "capped": len(capped), "holdout": len(held)}
    assert plan["holdout"] == len(held)  # as enrolment draws it: in_holdout over the eligible
    assert plan["eligible"] == len(candidates) - len(capped)
    assert plan["eligible"] == plan["audience"] - sum(n for r, n in plan["exclusions"].items() if r != "holdout")
    treated = len(candidates) - len(held) - len(capped)
    assert plan["treated"] == treated == plan["eligible"] - plan["holdout"]


def test_sends_per_day_effect_and_costs(store):
    plan = _plan(store)
    n = plan["treated"]
    assert plan["sends_per_day"] == [
        {"date": "2026-10-01", "step": "first", "channel": "email", "count": n},
        {"date": "2026-10-03", "step": "second", "channel": "email", "count": n},
    ]
    # The capped stay capped two days later (the global cap's 7 days, the programme's 30): nothing reaches them;
    # the treated get both messages (two in 7 days are allowed).
    assert {(s["step"], s["reason"]): s["count"] for s in plan["skipped_sends"]} == {
        ("first", "capped"): plan["exclusions"]["capped"], ("second", "capped"): plan["exclusions"]["capped"]}
    p = 1 - math.exp(-E90 * 30 / 90)
    e = plan["expected"]
    assert e["method"] == "expected_purchases_90" and e["methods"] == {"expected_purchases_90": n}
    assert e["baseline_conversions"] == pytest.approx(n * p, abs=0.01)
    assert e["incremental_conversions"] == pytest.approx(n * p * 0.1, abs=0.01)
    assert e["incremental_revenue"] == pytest.approx(n * p * 0.1 * MONETARY, abs=0.01)
    assert e["incremental_conversions_low"] < e["incremental_conversions"] < e["incremental_conversions_high"]
    c = plan["costs"]
    assert c["sending"] == pytest.approx(2 * n * 0.01, abs=0.005)
    assert c["incentive"] == pytest.approx(n * p * 1.1 * 0.1 * MONETARY, abs=0.01)
    assert c["incentive_by_step"][0]["recipients"] == n
    assert c["total"] == pytest.approx(c["sending"] + c["incentive"], abs=0.01)
    assert any("make the real numbers lower" in a for a in plan["assumptions"])


def test_without_global_caps_only_the_programme_cap_applies(store):
    plan = _plan(store, caps={})
    capped = [c for c in GROUPS["programme_cap"] if not in_holdout(PID, c, 0.3)]
    assert plan["exclusions"]["capped"] == len(capped)


def test_a_programme_cap_below_its_own_sends_skips_its_later_messages(store):
    plan = _plan(store, PROGRAMME.replace("max: 2", "max: 1"), caps={})
    n = plan["treated"]
    assert [(s["step"], s["count"]) for s in plan["sends_per_day"]] == [("first", n)]
    assert {(s["step"], s["reason"]): s["count"] for s in plan["skipped_sends"]}[("second", "capped")] == \
        n + plan["exclusions"]["capped"]


def test_a_trigger_programme_counts_last_months_events_as_next_months_entries(store):
    with store.begin() as conn:
        conn.execute(t.orders.insert(), [_audit(dict(
            order_id=f"new-{c}", customer_id=c, ordered_at=NOW - timedelta(days=days), amount=Decimal("30"),
            currency="USD", status=status)) for c, days, status in (
            ("ok-00", 10, "completed"), ("ok-01", 20, "paid"), ("ok-02", 40, "completed"),
            ("ok-03", 5, "cancelled"), ("sup-0", 3, "completed"))])
    text = textwrap.dedent("""\
        programme: thanks
        trigger: {event: order_placed, delay: 1d}
        holdout: 0
        steps:
          - id: thank-you
            send: {template: winback/last-chance}
    """)
    before = _row_counts(store)
    plan = _plan(store, text, caps={})
    assert _row_counts(store) == before
    assert plan["basis"] == "trigger_last_30_days"
    assert plan["trigger"]["customers_last_30_days"] == 3  # ok-00, ok-01 and sup-0: not 40 days ago, not cancelled
    assert (plan["audience"], plan["exclusions"]["suppressed"], plan["treated"]) == (3, 1, 2)
    # Each enters 30 days after their event (the next month repeats the last), the first step a day later.
    assert plan["sends_per_day"] == [
        {"date": "2026-10-12", "step": "thank-you", "channel": "email", "count": 1},
        {"date": "2026-10-22", "step": "thank-you", "channel": "email", "count": 1},
    ]


def test_a_silence_trigger_plans_its_audience_after_the_delay(store):
    text = PROGRAMME.replace("audience: \"stage == 'at_risk'\"",
                             "audience: \"stage == 'at_risk'\"\ntrigger: {event: silent, days: 99, delay: 3d}")
    plan = _plan(store, text)
    assert plan["basis"] == "silence" and plan["trigger"]["days"] == 99
    assert plan["audience"] == len(_customers())  # every last order was 100 days ago
    days = [(r["date"], r["step"]) for r in plan["sends_per_day"]]
    assert days == [("2026-10-04", "first"), ("2026-10-06", "second")]  # three days' delay
    quieter = _plan(store, text.replace("days: 99", "days: 101"))
    assert quieter["audience"] == 0 and quieter["sends_per_day"] == [] and quieter["treated"] == 0


def test_read_only_connections_refuse_writes(store):
    with pytest.raises(sa.exc.DBAPIError), read_only(store) as conn:
        conn.execute(t.customer_tags.insert().values(customer_id="ok-00", tag="x", added_at=NOW))
    with store.begin() as conn:  # the pooled connection is writable again afterwards
        conn.execute(t.customer_tags.insert().values(customer_id="ok-00", tag="x", added_at=NOW))
    assert _row_counts(store)["customer_tags"] == 1
