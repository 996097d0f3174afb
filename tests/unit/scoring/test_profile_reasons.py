"""Reasons in profiles: rules by default; the store's own labelled answers train the model once there are enough."""

from __future__ import annotations

import pandas as pd

from winback.scoring.profile import reason_classifier
from winback.scoring.reasons import LABELS

PHRASES = {
    "price": ["too expensive for me", "the price went up again", "太贵了", "cheaper plans elsewhere"],
    "missing_feature": ["no export to excel", "lacks a calendar view", "没有批量导出功能", "needs offline mode"],
    "service": ["support never answered", "rude agent on the phone", "客服态度很差", "waited weeks for a reply"],
    "product_quality": ["it broke after a week", "poor build quality", "质量太差了", "arrived damaged"],
    "competitor": ["switched to another shop", "found a better app", "换了别家", "moved to a rival"],
    "no_longer_needed": ["don't need it anymore", "project finished", "不需要了", "moved abroad"],
    "other": ["just because", "personal reasons", "其他原因", "no comment really"],
}


def _evidence(per_label: int) -> pd.DataFrame:
    rows = []
    for label in LABELS:
        for i in range(per_label):
            rows.append({"customer_id": f"{label}-{i}", "source": "survey",
                         "text": f"{PHRASES[label][i % 4]} ({i})", "category": label, "rating": None, "at": None})
    return pd.DataFrame(rows)


def test_rules_until_there_are_enough_labelled_answers():
    assert reason_classifier(_evidence(per_label=3)).method == "rules"
    assert reason_classifier(pd.DataFrame({"customer_id": ["a"], "source": ["ticket"], "text": ["hi"],
                                           "category": ["billing"]})).method == "rules"


def test_the_trained_model_takes_over_with_enough_labelled_answers():
    classifier = reason_classifier(_evidence(per_label=30))
    assert classifier.method == "model"
    labelled = classifier.label(pd.DataFrame([{"customer_id": "x", "source": "survey",
                                               "text": "too expensive for me now", "category": None,
                                               "rating": None, "at": None}]))
    assert labelled["reason"].tolist() == ["price"] and labelled["method"].tolist() == ["model"]
