from datetime import UTC, datetime, timedelta

from winback.datasets.response import APPLE_PROXY_IP, Enrolled, ResponseModel, plan_engagement, simulate_orders

START = datetime(2026, 10, 1, tzinfo=UTC)


def test_orders_follow_the_base_rate_plus_the_true_uplift_within_the_window() -> None:
    model = ResponseModel(base_rate=0.05, uplift=0.04, window_days=28)
    enrolled = [Enrolled(i, f"c{i}", i % 2 == 0, START) for i in range(40_000)]
    orders = simulate_orders(enrolled, model=model, currency="GBP", seed=3)
    holdout = {f"c{i}" for i in range(0, 40_000, 2)}
    rate_h = sum(o["customer_id"] in holdout for o in orders) / 20_000
    rate_t = sum(o["customer_id"] not in holdout for o in orders) / 20_000
    assert abs(rate_h - 0.05) < 0.006 and abs(rate_t - 0.09) < 0.008
    assert all(START < o["ordered_at"] < START + timedelta(days=28) for o in orders)
    mean = sum(float(o["amount"]) for o in orders) / len(orders)
    assert abs(mean - model.mean_order_value) / model.mean_order_value < 0.05
    assert simulate_orders(enrolled[:500], model=model, currency="GBP", seed=3) == \
        simulate_orders(enrolled[:500], model=model, currency="GBP", seed=3)


def test_an_apple_reader_is_prefetched_seconds_after_delivery_and_never_seen_opening() -> None:
    model = ResponseModel(apple_share=1.0, open_rate=1.0, click_rate=1.0)
    events = plan_engagement("ann@example.com", START, links=2, model=model, seed=1)
    assert [e.kind for e in events] == ["open", "click"]
    assert events[0].ip == APPLE_PROXY_IP and events[0].at - START < timedelta(seconds=10)
    assert events[1].at - START > timedelta(hours=1) and events[1].ip != APPLE_PROXY_IP


def test_a_reader_elsewhere_opens_hours_later_and_clicks_only_when_there_are_links() -> None:
    model = ResponseModel(apple_share=0.0, open_rate=1.0, click_rate=1.0)
    assert [e.kind for e in plan_engagement("bo@example.com", START, links=1, model=model, seed=1)] == ["open", "click"]
    assert [e.kind for e in plan_engagement("bo@example.com", START, links=0, model=model, seed=1)] == ["open"]
    flat = ResponseModel(uplift=0.04, order_value_median=40, order_value_sigma=0.0)
    assert flat.true_incremental_revenue_per_customer == 1.6
