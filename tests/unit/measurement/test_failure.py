"""Failure analysis: buckets of non-responders with size, share and conversion rate against the treated average,
worst first; engagement levels; the per-step cost-benefit line."""

from __future__ import annotations

import pytest

from winback.measurement.failure import TreatedRow, breakdown, engagement_level, step_cost_benefit, worst


def row(i: int, converted: bool, dormancy: str | None, engagement: str = "never_opened",
        hour: int | None = 9) -> TreatedRow:
    return TreatedRow(i, converted, dormancy, None, "dormant", "hibernating", engagement, hour)


ROWS = ([row(i, i < 4, "lapsed", "clicked") for i in range(10)]  # 4 of 10 convert
        + [row(10 + i, i < 1, "price", "opened_not_clicked", 20) for i in range(10)]  # 1 of 10
        + [row(20 + i, False, None) for i in range(5)])  # 0 of 5, unknown dormancy


def test_engagement_levels():
    assert engagement_level(messaged=False, opened=True, clicked=True) == "no_message"
    assert engagement_level(messaged=True, opened=False, clicked=False) == "never_opened"
    assert engagement_level(messaged=True, opened=True, clicked=False) == "opened_not_clicked"
    assert engagement_level(messaged=True, opened=False, clicked=True) == "clicked"


def test_buckets_worst_first_with_size_share_and_rate_vs_average():
    out = breakdown(ROWS)
    assert (out["treated"], out["non_responders"], out["treated_conversion_rate"]) == (25, 20, 0.2)
    dormancy = out["dimensions"]["dormancy_type"]
    assert [b["value"] for b in dormancy] == ["unknown", "price", "lapsed"]
    unknown, price, lapsed = dormancy
    assert (unknown["size"], unknown["share"], unknown["conversion_rate"], unknown["vs_average"]) == \
        (5, 0.25, 0.0, -0.2)
    assert (price["size"], price["treated"], price["conversion_rate"]) == (9, 10, 0.1)
    assert (lapsed["size"], lapsed["conversion_rate"], lapsed["vs_average"]) == (6, 0.4, pytest.approx(0.2))
    assert sum(b["size"] for b in dormancy) == out["non_responders"]


def test_engagement_and_send_hour_buckets():
    out = breakdown(ROWS)
    levels = {b["value"]: b for b in out["dimensions"]["engagement"]}
    assert set(levels) == {"never_opened", "opened_not_clicked", "clicked_not_bought"}
    assert levels["clicked_not_bought"]["size"] == 6
    hours = [(b["value"], b["size"], b["conversion_rate"]) for b in out["dimensions"]["send_hour"]]
    assert hours == [("20", 9, 0.1), ("9", 11, pytest.approx(4 / 15, abs=1e-6))]  # lowest rate first


def test_worst_across_dimensions():
    top = worst(breakdown(ROWS), limit=3)
    assert top[0]["conversion_rate"] == 0.0 and len(top) == 3
    assert all(top[i]["conversion_rate"] <= top[i + 1]["conversion_rate"] for i in range(2))


def test_step_cost_benefit_line():
    (first, second) = step_cost_benefit({"first": 12.5}, {"first": 100.0, "second": 0.0}, margin=0.3,
                                        steps=["first", "second"])
    assert (first["cost"], first["attributed_revenue"], first["attributed_margin_less_cost"]) == (12.5, 100.0, 17.5)
    assert first["line"].startswith("first: cost 12.50 vs attributed revenue 100.00")
    assert second["cost"] == 0.0
