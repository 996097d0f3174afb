"""The churn classifier (calibration, reasons, persistence) and the evaluation metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.scoring.classifier import ChurnClassifier
from winback.scoring.metrics import evaluate, expected_calibration_error, lift_top_decile


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    silent = rng.exponential(60, n)
    visits = rng.poisson(3, n)
    logit = -2 + silent / 30 - 0.4 * visits
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "days_since_last_order": silent,
                          "page_view_30": visits, "n_orders": rng.integers(1, 10, n)})
    return frame, y, p


def test_calibrated_and_discriminating_on_a_known_process():
    train, y_train, _ = synthetic(6_000, seed=1)
    test, y_test, p_true = synthetic(4_000, seed=2)
    model = ChurnClassifier(seed=0).fit(train, y_train)
    p = model.predict_proba(test)
    scores = evaluate(y_test, p)
    assert scores["ece"] < 0.03
    assert scores["auc"] > evaluate(y_test, p_true)["auc"] - 0.02  # close to the best possible
    assert model.card_["features"] == ["n_orders", "days_since_last_order", "page_view_30"]
    assert model.card_["training_rows"] == 6_000 and len(model.card_["data_hash"]) == 16


def test_reasons_point_at_the_features_that_raise_risk():
    train, y, _ = synthetic(4_000, seed=3)
    model = ChurnClassifier(seed=0).fit(train, y)
    risky = pd.DataFrame({"customer_id": ["r"], "days_since_last_order": [300.0], "page_view_30": [0],
                          "n_orders": [3]})
    reasons = model.top_reasons(risky)[0]
    assert reasons[0]["feature"] == "days_since_last_order" and reasons[0]["value"] == 300.0
    assert all(r["contribution"] > 0 for r in reasons)


def test_deterministic_and_round_trips():
    train, y, _ = synthetic(2_000, seed=4)
    a = ChurnClassifier(seed=7).fit(train, y)
    b = ChurnClassifier(seed=7).fit(train, y)
    assert np.array_equal(a.predict_proba(train), b.predict_proba(train))
    again = ChurnClassifier.from_bytes(a.to_bytes())
    assert np.array_equal(again.predict_proba(train), a.predict_proba(train))


def test_single_class_labels_are_refused():
    train, _, _ = synthetic(100, seed=5)
    with pytest.raises(ValueError, match="single class"):
        ChurnClassifier().fit(train, np.ones(100, dtype=int))


def test_metrics_on_known_values():
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    assert expected_calibration_error(y, np.full(4, 0.5)) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([1, 1, 1, 1]), np.full(4, 0.25)) == pytest.approx(0.75)
    ys = np.array([1] * 10 + [0] * 90)
    score = np.arange(100)[::-1].astype(float)
    assert lift_top_decile(ys, score) == pytest.approx(10.0)
