"""The funnel on a hand-built programme run: counts per step and variant, machine opens and clicks excluded unless
asked for, bounces, conversions inside the window only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from winback.measurement.funnel import Engagement, Enrolment, LedgerRow, Order, funnel, outcomes, totals

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
AS_OF = T0 + timedelta(days=60)
WINDOW = timedelta(days=30)

ENROLMENTS = [Enrolment(1, "c1", False, T0), Enrolment(2, "c2", False, T0), Enrolment(3, "c3", False, T0),
              Enrolment(4, "c4", True, T0)]


def send(eid: int, step: str, variant: str | None, state: str = "sent", reason: str | None = None) -> LedgerRow:
    return LedgerRow(eid, step, "send", "email", variant, state, reason, T0 + timedelta(hours=1))


LEDGER = [
    send(1, "first", "a"), send(2, "first", "b"), send(3, "first", "a", "failed", "hard_bounce"),
    send(1, "second", None), send(2, "second", None),
    LedgerRow(1, "wait-2", "branch", None, None, "done", None, T0),  # not a send: never counted
]


def event(eid: int, step: str, kind: str, *, machine: bool = False) -> Engagement:
    return Engagement(eid, step, kind, T0 + timedelta(hours=2), machine)


ENGAGEMENTS = [
    event(1, "first", "open"), event(1, "first", "click"),
    event(2, "first", "open", machine=True), event(2, "first", "click", machine=True),
    event(2, "second", "bounce"), event(1, "second", "unsubscribe"), event(1, "second", "complaint"),
]
ORDERS = [
    Order("o1", "c1", T0 + timedelta(days=2), 100.0, "completed"),
    Order("o2", "c2", T0 + timedelta(days=3), 80.0, "cancelled"),  # not a purchase
    Order("o3", "c3", T0 + timedelta(days=40), 60.0, "completed"),  # after the window
    Order("o4", "c4", T0 + timedelta(days=5), 50.0, "completed"),  # holdout buys
    Order("o5", "c1", T0 + timedelta(days=9), 25.0, "completed"),  # a second order in the window
    Order("o6", "c2", T0, 10.0, "completed"),  # at entry, not after it
]


def rows(include_machine: bool = False) -> dict[tuple[str, str | None], dict]:
    won = outcomes(ENROLMENTS, ORDERS, window=WINDOW, as_of=AS_OF)
    result = funnel(LEDGER, ENGAGEMENTS, won, step_order=["first", "wait-2", "second"],
                    include_machine=include_machine)
    return {(r["step"], r["variant"]): r for r in result}


def test_outcomes_count_purchases_after_entry_within_the_window():
    won = outcomes(ENROLMENTS, ORDERS, window=WINDOW, as_of=AS_OF)
    assert set(won) == {1, 4}
    assert (won[1].orders, won[1].revenue, won[1].first_at) == (2, 125.0, T0 + timedelta(days=2))
    assert won[4].revenue == 50.0
    early = outcomes(ENROLMENTS, ORDERS, window=WINDOW, as_of=T0 + timedelta(days=4))
    assert set(early) == {1} and early[1].revenue == 100.0  # nothing after as_of


def test_funnel_rows_per_step_and_variant_in_step_order():
    r = rows()
    assert list(r) == [("first", None), ("first", "a"), ("first", "b"), ("second", None)]
    first = r[("first", None)]
    assert {k: first[k] for k in ("recipients", "sent", "failed", "bounced", "delivered")} == \
        {"recipients": 3, "sent": 2, "failed": 1, "bounced": 1, "delivered": 2}
    assert (first["conversions"], first["revenue"], first["win_back_rate"]) == (1, 125.0, 0.5)
    a, b = r[("first", "a")], r[("first", "b")]
    assert (a["recipients"], a["sent"], a["failed"], a["conversions"]) == (2, 1, 1, 1)
    assert (b["recipients"], b["sent"], b["conversions"], b["win_back_rate"]) == (1, 1, 0, 0.0)


def test_machine_opens_and_clicks_are_excluded_by_default_and_shown_apart():
    first = rows()[("first", None)]
    assert (first["opens"], first["clicks"], first["machine_opens"], first["machine_clicks"]) == (1, 1, 1, 1)
    assert first["open_rate"] == 0.5
    b = rows()[("first", "b")]
    assert (b["opens"], b["clicks"]) == (0, 0)


def test_machine_events_count_when_included():
    first = rows(include_machine=True)[("first", None)]
    assert (first["opens"], first["clicks"]) == (2, 2)
    assert rows(include_machine=True)[("first", "b")]["opens"] == 1


def test_bounce_reports_unsubscribes_and_complaints():
    second = rows()[("second", None)]
    assert (second["sent"], second["bounced"], second["delivered"]) == (2, 1, 1)
    assert (second["unsubscribes"], second["complaints"]) == (1, 1)


def test_totals_per_group():
    won = outcomes(ENROLMENTS, ORDERS, window=WINDOW, as_of=AS_OF)
    tot = totals(ENROLMENTS, LEDGER, ENGAGEMENTS, won)
    assert (tot["enrolled"], tot["treated"], tot["holdout"], tot["reached"]) == (4, 3, 1, 2)
    assert (tot["sent"], tot["failed"], tot["bounced"], tot["delivered"]) == (4, 1, 2, 3)
    assert (tot["opens"], tot["clicks"], tot["unsubscribes"]) == (1, 1, 1)
    assert (tot["treated_conversions"], tot["treated_revenue"]) == (1, 125.0)
    assert tot["treated_win_back_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert (tot["holdout_conversions"], tot["holdout_win_back_rate"]) == (1, 1.0)
    assert totals(ENROLMENTS, LEDGER, ENGAGEMENTS, won, include_machine=True)["opens"] == 2
