"""The report's measures on data whose answer is known: lift and its scaling, ROI, costs, experiments, sample-ratio
checks, the timeline, and the whole report's keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats as sps

from winback.campaigns.files import parse_programme
from winback.measurement import report as m
from winback.measurement.funnel import Enrolment, LedgerRow, Order, Outcome

T0 = datetime(2026, 9, 1, tzinfo=UTC)

PROGRAMME = parse_programme("""
programme: ab
audience: "stage == 'dormant'"
holdout: 0.5
goal: {within: 20d}
costs: {email: 0.01, sms: 0.1, task: 4, margin: 0.3}
steps:
  - id: first
    send: {template: winback/reminder, variants: [{name: a, weight: 1}, {name: b, weight: 1}],
           incentive: {kind: percent, value: 10}}
  - id: call
    task: {title: Call them}
""", origin="test").programme


def test_lift_on_a_known_difference():
    t = np.zeros(1000)
    t[:100] = 20.0  # 10 % buy for 20
    c = np.zeros(1000)
    c[:50] = 20.0  # 5 % buy for 20
    lift = m.lift(treated_revenue=t, holdout_revenue=c, treated_conversions=100, holdout_conversions=50)
    rate, rev = lift["conversion_rate"], lift["revenue_per_customer"]
    assert rate["estimate"] == pytest.approx(0.05) and rate["method"] == "newcombe"
    assert 0 < rate["low"] < 0.05 < rate["high"] < 0.1 and rate["p_value"] < 0.001
    assert rev["estimate"] == pytest.approx(1.0) and rev["method"] == "welch"
    assert rev["p_value"] == pytest.approx(sps.ttest_ind(t, c, equal_var=False).pvalue, rel=1e-4)
    assert lift["incremental_conversions"]["estimate"] == pytest.approx(50.0)
    assert lift["incremental_conversions"]["low"] == pytest.approx(rate["low"] * 1000, rel=1e-5)
    assert lift["incremental_revenue"] == pytest.approx(
        {"estimate": 1000.0, "low": rev["low"] * 1000, "high": rev["high"] * 1000}, rel=1e-5)
    assert (lift["treated_rate"], lift["holdout_rate"], lift["significant"]) == (0.1, 0.05, True)


def test_lift_without_a_holdout_is_null_not_nan():
    lift = m.lift(treated_revenue=[0.0, 5.0], holdout_revenue=[], treated_conversions=1, holdout_conversions=0)
    assert lift["conversion_rate"]["estimate"] is None and lift["incremental_revenue"]["estimate"] is None
    assert lift["holdout_rate"] is None and lift["significant"] is False


def test_roi_formula():
    out = m.roi(incremental_revenue={"estimate": 1000.0, "low": 200.0, "high": 1800.0}, margin=0.3,
                incentive_cost=50.0, sending_cost=10.0)
    assert out["incremental_gross_margin"] == 300.0 and out["total_cost"] == 60.0 and out["net"] == 240.0
    assert out["roi"] == pytest.approx((300 - 50 - 10) / 60)
    assert out["roi_low"] == pytest.approx((60 - 60) / 60) and out["roi_high"] == pytest.approx((540 - 60) / 60)
    assert "incentive cost + sending cost" in out["formula"]
    free = m.roi(incremental_revenue={"estimate": 10.0}, margin=0.3, incentive_cost=0.0, sending_cost=0.0)
    assert free["roi"] is None and free["net"] == 3.0


def test_costs_count_messages_handed_over_tasks_and_redeemed_coupons():
    ledger = [LedgerRow(i, "first", "send", "email", "a", state, None, T0)
              for i, state in enumerate(["sent", "sent", "unknown", "failed", "skipped"])]
    ledger += [LedgerRow(9, "call", "task", "task", None, "done", None, T0),
               LedgerRow(10, "call", "task", "task", None, "skipped", None, T0)]
    coupons = [m.CouponRow("X1", 1, "first", "percent", 10.0, "o1", 200.0),
               m.CouponRow("X2", 2, "first", "amount", 5.0, "o2", 50.0)]
    c = m.costs(PROGRAMME, ledger, coupons)
    assert c["messages"] == {"email": 3, "task": 1}
    assert c["sending_by_channel"] == {"email": 0.03, "task": 4.0} and c["sending"] == 4.03
    assert c["incentive"] == 25.0 and c["incentive_by_step"] == {"first": 25.0} and c["redeemed_coupons"] == 2
    assert c["total"] == 29.03 and c["by_step"]["first"] == pytest.approx(25.03)
    assert m.coupon_cost("free_shipping", 4.5, 100.0) == 4.5


def _arms(n_a: int, x_a: int, n_b: int, x_b: int) -> tuple[list[LedgerRow], dict[int, Outcome]]:
    ledger, won = [], {}
    for i in range(n_a + n_b):
        variant = "a" if i < n_a else "b"
        ledger.append(LedgerRow(i, "first", "send", "email", variant, "sent", None, T0))
        if (i < x_a) or (n_a <= i < n_a + x_b):
            won[i] = Outcome(1, 10.0, T0)
    return ledger, won


def test_experiment_picks_the_clear_winner_with_no_ratio_alarm():
    ledger, won = _arms(400, 120, 400, 20)
    (x,) = m.experiments(PROGRAMME, ledger, won)
    assert x["step"] == "first" and x["winner"] == "a"
    assert [(v["variant"], v["sent"], v["conversions"]) for v in x["variants"]] == [("a", 400, 120), ("b", 400, 20)]
    assert x["variants"][0]["conversion_rate"]["estimate"] == 0.3 and x["variants"][0]["conversion_rate"]["low"] < 0.3
    (test,) = x["tests"]
    assert test["decided"] and test["winner"] == "a" and test["p_value"] < 0.05
    assert x["srm"]["alarm"] is False


def test_experiment_without_enough_data_has_no_winner_and_a_skewed_split_alarms():
    ledger, won = _arms(300, 30, 100, 10)
    (x,) = m.experiments(PROGRAMME, ledger, won)
    assert x["srm"]["alarm"] is True and x["srm"]["observed"] == {"a": 300, "b": 100}
    small, won = _arms(50, 25, 50, 0)
    assert m.experiments(PROGRAMME, small, won)[0]["winner"] is None  # fewer than 100 per arm


def test_holdout_share_check():
    assert m.holdout_srm(treated=900, holdout=100, share=0.1)["alarm"] is False
    bad = m.holdout_srm(treated=800, holdout=200, share=0.1)
    assert bad["alarm"] is True and bad["observed_share"] == 0.2 and bad["configured_share"] == 0.1
    assert m.holdout_srm(treated=10, holdout=0, share=0.0) is None


def test_timeline_is_cumulative_per_group():
    enrolments = [Enrolment(1, "c1", False, T0), Enrolment(2, "c2", False, T0 + timedelta(days=1)),
                  Enrolment(3, "c3", True, T0)]
    won = {1: Outcome(1, 5.0, T0 + timedelta(days=1)), 3: Outcome(1, 5.0, T0 + timedelta(days=2))}
    rows = m.timeline(enrolments, won, as_of=T0 + timedelta(days=2))
    assert [r["date"] for r in rows] == ["2026-09-01", "2026-09-02", "2026-09-03"]
    assert [(r["treated_enrolled"], r["treated_conversions"]) for r in rows] == [(1, 0), (2, 1), (2, 1)]
    assert [r["holdout_rate"] for r in rows] == [0.0, 0.0, 1.0]


def test_build_has_every_documented_key():
    enrolments = [Enrolment(i, f"c{i}", i % 2 == 0, T0) for i in range(1, 21)]
    ledger = [LedgerRow(i, "first", "send", "email", "a" if i % 4 == 1 else "b", "sent", None, T0 + timedelta(hours=1))
              for i in range(1, 21, 2)]
    orders = [Order(f"o{i}", f"c{i}", T0 + timedelta(days=1), 40.0, "completed") for i in (1, 3, 5, 2)]
    data = m.Inputs(enrolments, ledger, [], orders, [m.CouponRow("K", 1, "first", "percent", 10.0, "o1", 40.0)], [],
                    {"c3": m.Profile("c3", "lapsed", "price", "dormant", "hibernating")}, ["USD"])
    r = m.build(PROGRAMME, data, as_of=T0 + timedelta(days=10))
    for key in ("programme", "as_of", "groups", "funnel", "lift", "roi", "attribution", "experiments", "srm",
                "failure_analysis", "costs", "timeline", "notes", "totals"):
        assert key in r
    assert r["groups"] == {"enrolled": 20, "treated": 10, "holdout": 10, "holdout_share_configured": 0.5,
                           "holdout_share_observed": 0.5}
    assert r["conversion_window_days"] == 20
    assert r["lift"]["conversion_rate"]["estimate"] == pytest.approx(0.3 - 0.1)
    assert r["attribution"]["orders"] == 1 and r["attribution"]["by_step"][0]["coupon_orders"] == 1
    assert r["costs"]["incentive"] == 4.0 and r["roi"]["incentive_cost"] == 4.0
    assert r["failure_analysis"]["non_responders"] == 7
