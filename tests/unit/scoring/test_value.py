"""Value per customer: tiers by value at risk within each currency."""

from __future__ import annotations

import pandas as pd

from winback.scoring.value import value_tiers


def test_tiers_rank_within_each_currency():
    var = pd.Series([float(i) for i in range(100)] + [1e6, 5.0, None])
    currency = pd.Series(["USD"] * 100 + ["CNY", "CNY", "USD"])
    tiers = value_tiers(var, currency)
    usd = tiers[:100]
    assert usd.value_counts().to_dict() == {"low": 50, "medium": 30, "high": 15, "priority": 5}
    assert tiers[99] == "priority" and tiers[0] == "low"
    assert tiers[100] == "priority" and tiers[101] == "low"  # the two CNY customers rank among themselves
    assert pd.isna(tiers[102])  # no value at risk, no tier
