"""RFM quintiles and the segment grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from winback.scoring.rfm import SEGMENTS, SegmentRule, rfm_scores


def test_scores_are_quintiles_and_segments_follow_the_grid():
    n = 100
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "n_orders": np.arange(1, n + 1),
                       "revenue": np.arange(1, n + 1) * 10.0, "days_since_last_order": np.arange(n, 0, -1) * 1.0})
    out = rfm_scores(df).set_index("customer_id")
    assert out["rfm_r"].value_counts().to_dict() == {1: 20, 2: 20, 3: 20, 4: 20, 5: 20}
    assert out.loc["c99", "rfm_score"] == "555" and out.loc["c99", "rfm_segment"] == "champions"
    assert out.loc["c0", "rfm_score"] == "111" and out.loc["c0", "rfm_segment"] == "lost"
    assert set(out["rfm_segment"]) <= set(SEGMENTS)


def test_customers_without_orders_get_no_score_and_custom_rules_apply():
    df = pd.DataFrame({"customer_id": ["a", "b", "z"], "n_orders": [5, 1, 0], "revenue": [500.0, 10.0, 0.0],
                       "days_since_last_order": [5.0, 300.0, float("nan")]})
    out = rfm_scores(df, rules=[SegmentRule(segment="best", r=(4, 5), fm=(1, 5)),
                                SegmentRule(segment="rest", r=(1, 5), fm=(1, 5))]).set_index("customer_id")
    assert out.loc["a", "rfm_segment"] == "best" and out.loc["b", "rfm_segment"] == "rest"
    assert pd.isna(out.loc["z", "rfm_score"])
