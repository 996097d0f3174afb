"""The dry run's pure parts: conversion probabilities, the interval, incentive costs and the timeline of sends."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from winback.campaigns.definition import Incentive, Programme
from winback.campaigns.machine import Facts
from winback.campaigns.plan import (
    Z95,
    Planned,
    conversion_probability,
    customer_probability,
    first_marketing_capped,
    incentive_cost,
    incremental_interval,
    probability_from_churn,
    redemption,
    sends_per_day,
    walk,
)

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def programme(*steps: dict, **extra) -> Programme:
    return Programme.model_validate({"programme": "p", "audience": "scored()", "steps": list(steps), **extra})


def facts(**kw) -> Facts:
    return Facts(**{"email": "a@example.com", "time_zone": "UTC", **kw})


def send(step_id: str, **kw) -> dict:
    return {"id": step_id, "send": {"template": f"t/{step_id}", **kw}}


# --- conversion probability ---------------------------------------------------------------------------------------


def test_conversion_probability_is_the_poisson_chance_of_at_least_one_purchase_in_the_window():
    assert conversion_probability(0.0, 30) == 0.0
    assert conversion_probability(1.0, 90) == pytest.approx(1 - math.exp(-1))
    assert conversion_probability(3.0, 30) == pytest.approx(1 - math.exp(-1))  # a third of the 90-day rate
    assert conversion_probability(0.6, 7) < conversion_probability(0.6, 30) < conversion_probability(0.6, 90)
    assert conversion_probability(-0.1, 30) == 0.0  # a negative forecast is no forecast


def test_churn_and_alive_fallbacks_agree_with_the_poisson_rate():
    # P(no order in 90 days) = exp(-E90) under a constant rate: both routes give the same window probability.
    for e90 in (0.05, 0.4, 2.5):
        assert probability_from_churn(math.exp(-e90), 30) == pytest.approx(conversion_probability(e90, 30))
    assert probability_from_churn(0.5, 90) == pytest.approx(0.5)
    assert probability_from_churn(0.5, 180) == pytest.approx(0.75)
    assert probability_from_churn(1.0, 30) == 0.0


@pytest.mark.parametrize(("scores", "method"), [
    ({"expected_purchases_90": 0.9, "p_churn": 0.2, "p_alive": 0.8}, "expected_purchases_90"),
    ({"expected_purchases_90": None, "p_churn": 0.2, "p_alive": 0.8}, "p_churn"),
    ({"expected_purchases_90": None, "p_churn": None, "p_alive": 0.8}, "p_alive"),
    ({"expected_purchases_90": float("nan"), "p_churn": None, "p_alive": None}, "empirical_repeat_rate"),
])
def test_customer_probability_takes_the_first_score_present_and_says_which(scores, method):
    p, used = customer_probability(**scores, window_days=30, repeat_rate=0.125)
    assert used == method and 0 <= p <= 1
    if method == "empirical_repeat_rate":
        assert p == 0.125
    if method == "p_alive":
        assert p == pytest.approx(probability_from_churn(0.2, 30))


# --- the interval -------------------------------------------------------------------------------------------------


def test_with_one_lift_the_interval_is_the_poisson_binomial_normal_interval():
    p = np.array([0.1, 0.2, 0.3, 0.05])
    got = incremental_interval(p, lift=0.2, lift_low=0.2, lift_high=0.2)
    q = 0.2 * p
    mean, sd = q.sum(), math.sqrt((q * (1 - q)).sum())
    assert got.point == pytest.approx(mean)
    assert got.low == pytest.approx(max(0.0, mean - Z95 * sd)) and got.high == pytest.approx(mean + Z95 * sd)


def test_the_interval_holds_the_point_and_widens_with_the_lift_range():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 400))
        p = rng.uniform(0, 0.9, n)
        v = rng.uniform(1, 500, n)
        lift = float(rng.uniform(0, 0.5))
        low, high = float(rng.uniform(0, lift)), float(rng.uniform(lift, 1.0))
        wider_low, wider_high = float(rng.uniform(0, low)), float(rng.uniform(high, 1.0))
        for values in (None, v):
            narrow = incremental_interval(p, lift=lift, lift_low=low, lift_high=high, values=values)
            wide = incremental_interval(p, lift=lift, lift_low=wider_low, lift_high=wider_high, values=values)
            assert narrow.low <= narrow.point <= narrow.high
            assert wide.point == pytest.approx(narrow.point)
            assert wide.low <= narrow.low + 1e-9 and wide.high >= narrow.high - 1e-9
            assert narrow.low >= 0


def test_a_lift_outside_its_range_still_lies_inside_the_interval():
    p = np.full(100, 0.2)
    got = incremental_interval(p, lift=0.4, lift_low=0.0, lift_high=0.25)
    assert got.point == pytest.approx(8.0) and got.low <= 8.0 <= got.high


def test_no_customer_converts_extra_with_probability_above_one_minus_p():
    p = np.array([0.95])
    got = incremental_interval(p, lift=0.5, lift_low=0.5, lift_high=0.5)
    assert got.point == pytest.approx(0.05)  # not 0.475: a 95 % buyer can add at most the missing 5 %


def test_the_interval_covers_simulated_outcomes_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    p = rng.uniform(0.0, 0.4, 2_000)
    lift = 0.15
    got = incremental_interval(p, lift=lift, lift_low=lift, lift_high=lift)
    draws = (rng.random((4_000, p.size)) < lift * p).sum(axis=1)
    coverage = np.mean((draws >= got.low) & (draws <= got.high))
    assert 0.93 <= coverage <= 0.97


def test_revenue_with_equal_order_values_is_conversions_times_the_value():
    p = np.array([0.1, 0.3, 0.2])
    conv = incremental_interval(p, lift=0.1, lift_low=0.05, lift_high=0.2)
    rev = incremental_interval(p, lift=0.1, lift_low=0.05, lift_high=0.2, values=np.full(3, 40.0))
    assert (rev.point, rev.high) == pytest.approx((40 * conv.point, 40 * conv.high))


# --- incentives ---------------------------------------------------------------------------------------------------


def test_incentive_cost_per_redemption():
    assert incentive_cost(Incentive(kind="percent", value=15), 80.0) == pytest.approx(12.0)
    assert incentive_cost(Incentive(kind="amount", value=5), 80.0) == 5.0
    assert incentive_cost(Incentive(kind="free_shipping", value=4.5), 80.0) == 4.5
    assert incentive_cost(Incentive(kind="free_shipping"), 80.0) == 0.0  # no shipping cost given: counted as 0


def test_a_converter_redeems_one_offer_the_costliest_received():
    assert redemption([("third", 8.0), ("fourth", 15.0)]) == ("fourth", 15.0)
    assert redemption([]) is None


# --- the timeline -------------------------------------------------------------------------------------------------


def sent(path: list[Planned]) -> list[tuple[str, str, datetime]]:
    return [(p.step, p.channel, p.at) for p in path if p.skipped is None]


def test_waits_last_their_duration_and_timeout_when_nothing_happens():
    p = programme(send("s1"), {"wait": "3d"}, send("s2"), {"wait": {"until": "click", "timeout": "4d"}}, send("s3"))
    path = walk(p, facts(), customer_id="c1", entered_at=NOW)
    assert sent(path) == [("s1", "email", NOW), ("s2", "email", NOW + timedelta(days=3)),
                          ("s3", "email", NOW + timedelta(days=7))]


def test_branches_take_the_arm_that_holds_without_engagement():
    p = programme(
        send("s1"), {"wait": "2d"},
        {"id": "b", "branch": [{"when": {"clicked": "any"}, "goto": "vip"},
                               {"when": {"opened": "s1", "replied": False}, "goto": "offer"},
                               {"otherwise": "nudge"}]},
        send("offer"), {"id": "nudge", "send": {"template": "t/nudge", "channel": "sms"}},
        {"id": "b2", "branch": [{"when": {"opened": False}, "goto": "sunset"}, {"otherwise": "end"}]},
        send("vip"), {"id": "sunset", "move": {"list": "nurture"}},
        {"id": "b3", "branch": [{"when": {"segment": "clv > 100"}, "goto": "task"}]},
        {"id": "task", "task": {"title": "call them"}})
    path = walk(p, facts(phone="+15550001"), customer_id="c1", entered_at=NOW)
    later = NOW + timedelta(days=2)
    # b → otherwise nudge (sms); b2 → not opened → sunset (skips vip); b3 → the segment does not hold: falls through
    assert sent(path) == [("s1", "email", NOW), ("nudge", "sms", later), ("task", "task", later)]


def test_a_branch_to_end_ends_the_path():
    p = programme(send("s1"), {"branch": [{"otherwise": "end"}]}, send("never"))
    assert [s for s, _c, _a in sent(walk(p, facts(), customer_id="c1", entered_at=NOW))] == ["s1"]


def test_the_trigger_delay_moves_the_first_step():
    p = programme(send("s1"), {"wait": "1d"}, send("s2"))
    path = walk(p, facts(), customer_id="c1", entered_at=NOW, delay=timedelta(hours=2))
    assert [a for _s, _c, a in sent(path)] == [NOW + timedelta(hours=2), NOW + timedelta(days=1, hours=2)]


def test_quiet_hours_and_send_time_defer_a_send_in_the_customers_zone():
    quiet = {"start": "21:00", "end": "08:00", "time_zone": "UTC"}
    p = programme(send("s1"), quiet_hours=quiet)
    late = datetime(2026, 10, 1, 22, 30, tzinfo=UTC)
    assert sent(walk(p, facts(), customer_id="c1", entered_at=late))[0][2] == datetime(2026, 10, 2, 8, 0, tzinfo=UTC)
    shanghai = sent(walk(p, facts(time_zone="Asia/Shanghai"), customer_id="c1", entered_at=NOW))  # 20:00 there
    assert shanghai[0][2] == NOW  # 20:00 in Shanghai: not quiet yet
    timed = programme(send("s1"), send_time={"optimise": True, "default_hour": 9})
    assert sent(walk(timed, facts(), customer_id="c1", entered_at=NOW))[0][2] == datetime(2026, 10, 2, 9, 0,
                                                                                          tzinfo=UTC)


def test_caps_skip_sends_counting_the_ledger_and_the_programmes_own_earlier_sends():
    p = programme(send("s1"), {"wait": "2d"}, send("s2"), {"wait": "6d"}, send("s3"))
    caps = {"email": (1, timedelta(days=7))}
    path = walk(p, facts(global_caps=caps), customer_id="c1", entered_at=NOW)
    assert [(x.step, x.skipped) for x in path] == [("s1", None), ("s2", "capped"), ("s3", None)]
    assert not first_marketing_capped(path)
    recent = [("other", "email", NOW - timedelta(days=1))]
    path = walk(p, facts(global_caps=caps, recent_sends=recent), customer_id="c1", entered_at=NOW)
    assert first_marketing_capped(path) and path[0].skipped == "capped"
    ignoring = programme(send("s1"), caps={"global": False})
    assert not first_marketing_capped(walk(ignoring, facts(global_caps=caps, recent_sends=recent),
                                           customer_id="c1", entered_at=NOW))


def test_the_programme_cap_counts_only_its_own_sends():
    p = programme(send("s1"), caps={"programme": {"max": 1, "per": "30d"}, "global": False})
    mine = [("p", "email", NOW - timedelta(days=5))]
    theirs = [("other", "email", NOW - timedelta(days=5))]
    assert first_marketing_capped(walk(p, facts(recent_sends=mine), customer_id="c1", entered_at=NOW))
    assert not first_marketing_capped(walk(p, facts(recent_sends=theirs), customer_id="c1", entered_at=NOW))


def test_a_walk_does_not_touch_the_facts_it_was_given():
    recent: list = []
    f = facts(recent_sends=recent)
    walk(programme(send("s1"), send("s2")), f, customer_id="c1", entered_at=NOW)
    assert recent == [] and f.recent_sends == []


def test_sends_per_day_counts_by_date_step_and_channel_in_step_order():
    p = programme(send("s1"), {"wait": "1d"}, send("s2"))
    paths = [walk(p, facts(), customer_id=f"c{i}", entered_at=NOW) for i in range(3)]
    paths.append([Planned("s2", "email", NOW, True, skipped="capped")])
    assert sends_per_day(paths, p.step_ids) == [
        {"date": "2026-10-01", "step": "s1", "channel": "email", "count": 3},
        {"date": "2026-10-02", "step": "s2", "channel": "email", "count": 3},
    ]
