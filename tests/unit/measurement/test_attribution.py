"""Attribution: a redeemed coupon beats a click, only human clicks within the window before the order count, and
the last such click wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from winback.measurement.attribution import Click, Touch, attribute, summarise
from winback.measurement.funnel import Order

T0 = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)


def order(oid: str, cid: str = "c1", *, at: datetime = T0, amount: float = 50.0, status: str = "completed") -> Order:
    return Order(oid, cid, at, amount, status)


def click(at: datetime, programme: str = "p", step: str = "first", *, cid: str = "c1", variant: str | None = "a",
          machine: bool = False) -> Click:
    return Click(cid, at, programme, step, variant, machine)


def test_a_coupon_beats_a_later_click_of_another_programme():
    got = attribute([order("o1")], coupons={"o1": Touch("p", "second", "b")},
                    clicks=[click(T0 - timedelta(hours=1), "q")])
    assert [(a.programme_id, a.step, a.variant, a.method) for a in got] == [("p", "second", "b", "coupon")]


def test_the_last_human_click_within_the_window_wins():
    clicks = [click(T0 - timedelta(days=3), "p", "first"), click(T0 - timedelta(days=1), "q", "other"),
              click(T0 + timedelta(hours=1), "r")]  # after the order: not a cause
    (a,) = attribute([order("o1")], coupons={}, clicks=clicks)
    assert (a.programme_id, a.step, a.method, a.amount) == ("q", "other", "click", 50.0)


def test_a_click_outside_the_window_is_not_attributed():
    assert attribute([order("o1")], coupons={}, clicks=[click(T0 - timedelta(days=7, seconds=1))]) == []
    assert len(attribute([order("o1")], coupons={}, clicks=[click(T0 - timedelta(days=7))])) == 1
    assert attribute([order("o1")], coupons={}, clicks=[click(T0 - timedelta(days=2))],
                     window=timedelta(days=1)) == []


def test_machine_clicks_are_ignored():
    clicks = [click(T0 - timedelta(days=5), "p", "first"), click(T0 - timedelta(minutes=5), "q", machine=True)]
    (a,) = attribute([order("o1")], coupons={}, clicks=clicks)
    assert a.programme_id == "p"
    assert attribute([order("o1")], coupons={}, clicks=[click(T0 - timedelta(minutes=5), machine=True)]) == []


def test_cancelled_orders_and_other_customers_are_not_attributed():
    orders = [order("o1", status="refunded"), order("o2", "c2")]
    assert attribute(orders, coupons={"o1": Touch("p", "first", None)}, clicks=[click(T0 - timedelta(hours=1))]) == []


def test_summary_per_programme_step_and_variant():
    orders = [order("o1", amount=10.0), order("o2", amount=20.0), order("o3", "c2", amount=40.0)]
    got = attribute(orders, coupons={"o1": Touch("p", "first", "a")},
                    clicks=[click(T0 - timedelta(hours=2)), click(T0 - timedelta(hours=2), "q", cid="c2")])
    rows = summarise(got, programme_id="p")
    assert rows == [{"programme": "p", "step": "first", "variant": "a", "orders": 2, "revenue": 30.0,
                     "coupon_orders": 1, "click_orders": 1}]
    assert {r["programme"] for r in summarise(got)} == {"p", "q"}
