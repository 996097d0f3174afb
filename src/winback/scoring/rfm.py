"""RFM: 1–5 scores by quintile and named segments, with a configurable mapping.

Recency is days since the last order (fewer is better), frequency the number of orders, monetary the revenue.
Scores are quintiles of the ranks among customers who ordered, so ties never leave a score empty. The segment
comes from R and the rounded mean of F and M, through an ordered list of ranges (first match wins).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class SegmentRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segment: str
    r: tuple[int, int] = Field(description="inclusive range of the recency score")
    fm: tuple[int, int] = Field(description="inclusive range of round((F + M) / 2)")


# The widely used 11-segment grid over R and FM.
DEFAULT_SEGMENTS: tuple[SegmentRule, ...] = tuple(SegmentRule(segment=s, r=r, fm=fm) for s, r, fm in (
    ("champions", (5, 5), (4, 5)),
    ("loyal", (3, 4), (4, 5)),
    ("potential_loyalist", (4, 5), (2, 3)),
    ("new", (5, 5), (1, 1)),
    ("promising", (4, 4), (1, 1)),
    ("need_attention", (3, 3), (3, 3)),
    ("about_to_sleep", (3, 3), (1, 2)),
    ("cannot_lose", (1, 2), (5, 5)),
    ("at_risk", (1, 2), (3, 4)),
    ("lost", (1, 1), (1, 1)),
    ("hibernating", (1, 2), (1, 2)),
))
SEGMENTS = tuple(dict.fromkeys(rule.segment for rule in DEFAULT_SEGMENTS))


def _quintile(values: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    order = pd.Series(values if higher_is_better else -values).rank(method="first").to_numpy()
    return np.ceil(order / len(values) * 5).clip(1, 5).astype(int)


def rfm_scores(features: pd.DataFrame, *, rules: Sequence[SegmentRule] = DEFAULT_SEGMENTS) -> pd.DataFrame:
    """customer_id, rfm_r, rfm_f, rfm_m, rfm_score ("545"), rfm_segment; no scores for customers without orders."""
    ordered = features[features["n_orders"].fillna(0) > 0]
    out = pd.DataFrame({"customer_id": features["customer_id"].to_numpy()})
    if ordered.empty:
        return out.assign(rfm_r=None, rfm_f=None, rfm_m=None, rfm_score=None, rfm_segment=None)
    r = _quintile(ordered["days_since_last_order"].to_numpy(dtype=float), higher_is_better=False)
    f = _quintile(ordered["n_orders"].to_numpy(dtype=float), higher_is_better=True)
    m = _quintile(ordered["revenue"].to_numpy(dtype=float), higher_is_better=True)
    fm = np.floor((f + m) / 2 + 0.5).astype(int)
    segment = np.full(len(ordered), None, dtype=object)
    for rule in reversed(rules):  # first match wins: earlier rules overwrite later ones
        hit = (r >= rule.r[0]) & (r <= rule.r[1]) & (fm >= rule.fm[0]) & (fm <= rule.fm[1])
        segment[hit] = rule.segment
    scored = pd.DataFrame({
        "customer_id": ordered["customer_id"].to_numpy(), "rfm_r": r, "rfm_f": f, "rfm_m": m,
        "rfm_score": [f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)], "rfm_segment": segment,
    })
    return out.merge(scored, on="customer_id", how="left")
