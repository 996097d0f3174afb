"""Temporal backtests of the churn model and of the baselines it must beat.

Label: the customer (someone who had ordered by the as-of date) places no order in the `horizon` days after
it. Features read nothing after the as-of date. Two designs, chosen by how much history there is:

- temporal: train on features as of `as_of − horizon` with labels from the following `horizon` days (which
  end at `as_of`), test on features as of `as_of` with labels from the `horizon` days after — the model never
  sees a label from the test window;
- cross-fitted (when the history before `as_of` is shorter than two horizons, as with CDNOW's 18 months):
  customers are split in five folds, and each fold is predicted by a model trained on the other four, all at
  the same as-of date. No customer's own label is used to predict them.

Baselines: recency alone, the RFM score, and BG/NBD's expected purchases; each is turned into a probability
by isotonic regression fitted the same way, so calibration compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold

from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.scoring.classifier import ChurnClassifier
from winback.scoring.metrics import evaluate
from winback.scoring.rfm import rfm_scores
from winback.scoring.value import buyers, fit_value_models, value_scores

DEFAULT_MODEL = "churn_model"
FOLDS = 5


@dataclass
class Fold:
    features: pd.DataFrame
    labels: np.ndarray


def churn_labels(orders: pa.Table, customer_ids: pd.Series, *, as_of: datetime, horizon_days: int) -> np.ndarray:
    """1 where the customer places no (non-cancelled, non-refunded) order in (as_of, as_of + horizon]."""
    end = as_of + timedelta(days=horizon_days)
    at = pa.scalar(as_of, orders["ordered_at"].type)
    until = pa.scalar(end, orders["ordered_at"].type)
    valid = pc.invert(pc.is_in(orders["status"], pa.array(list(EXCLUDED_ORDER_STATUSES))))
    window = pc.and_(pc.and_(pc.greater(orders["ordered_at"], at), pc.less_equal(orders["ordered_at"], until)), valid)
    bought = set(orders.filter(window)["customer_id"].to_pylist())
    return np.array([0 if c in bought else 1 for c in customer_ids], dtype=int)


def future_occasions(orders: pa.Table, customer_ids: pd.Series, *, as_of: datetime, horizon_days: int) -> int:
    """Purchase occasions (customer-days) in the horizon, among the given customers."""
    frame = orders.select(["customer_id", "ordered_at", "status"]).to_pandas()
    frame = frame[frame["customer_id"].isin(set(customer_ids)) & ~frame["status"].isin(EXCLUDED_ORDER_STATUSES)]
    at, end = pd.Timestamp(as_of), pd.Timestamp(as_of + timedelta(days=horizon_days))
    frame = frame[(frame["ordered_at"] > at) & (frame["ordered_at"] <= end)]
    return int(frame.assign(day=frame["ordered_at"].dt.date)[["customer_id", "day"]].drop_duplicates().shape[0])


def _with_btyd(features: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    values = value_scores(features, fit_value_models(features, transaction_model="bg_nbd"), horizon_days=horizon_days)
    return features.merge(values[["customer_id", "p_alive", "expected_purchases_horizon"]], on="customer_id")


def _baseline_scores(features: pd.DataFrame) -> dict[str, np.ndarray]:
    rfm = rfm_scores(features).set_index("customer_id").loc[features["customer_id"]]
    return {
        "recency": features["days_since_last_order"].to_numpy(dtype=float),
        "rfm_score": -(rfm["rfm_r"] + rfm["rfm_f"] + rfm["rfm_m"]).to_numpy(dtype=float),
        "bgnbd_expected_purchases": -features["expected_purchases_horizon"].fillna(0).to_numpy(dtype=float),
    }


def _isotonic(train_score: np.ndarray, train_y: np.ndarray, test_score: np.ndarray) -> np.ndarray:
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(train_score, train_y)
    return iso.predict(test_score)


def backtest(
    features_at: Callable[[datetime], pd.DataFrame], orders: pa.Table, *, as_of: datetime, horizon_days: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the backtest; `features_at(date)` computes point-in-time features for a date."""
    test = buyers(features_at(as_of)).reset_index(drop=True)
    first_order = pc.min(orders["ordered_at"]).as_py()
    temporal = first_order is not None and first_order <= as_of - timedelta(days=2 * horizon_days)
    test = _with_btyd(test, horizon_days)
    y = churn_labels(orders, test["customer_id"], as_of=as_of, horizon_days=horizon_days)
    if temporal:
        start = as_of - timedelta(days=horizon_days)
        train = _with_btyd(buyers(features_at(start)).reset_index(drop=True), horizon_days)
        train_y = churn_labels(orders, train["customer_id"], as_of=start, horizon_days=horizon_days)
        predictions, card = _temporal(Fold(train, train_y), Fold(test, y), seed=seed, start=start,
                                      horizon_days=horizon_days)
    else:
        predictions, card = _cross_fitted(Fold(test, y), seed=seed, as_of=as_of, horizon_days=horizon_days)
    models = [{"name": name, **evaluate(y, p), "baseline": name != DEFAULT_MODEL, "default": name == DEFAULT_MODEL}
              for name, p in predictions.items()]
    expected = float(np.nansum(test["expected_purchases_horizon"]))
    actual = future_occasions(orders, test["customer_id"], as_of=as_of, horizon_days=horizon_days)
    return {
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "design": "temporal" if temporal else "cross_fitted",
        "customers": len(test),
        "churn_rate": round(float(y.mean()), 4),
        "models": models,
        "forecast": {"model": "bg_nbd", "expected_purchases": round(expected, 1), "actual_purchases": actual,
                     "error": round((expected - actual) / actual, 4) if actual else None},
        "model_card": card,
    }


def _temporal(train: Fold, test: Fold, *, seed: int, start: datetime,
              horizon_days: int) -> tuple[dict[str, np.ndarray], dict]:
    model = ChurnClassifier(seed=seed).fit(train.features, train.labels, as_of=start, horizon_days=horizon_days)
    predictions = {DEFAULT_MODEL: model.predict_proba(test.features)}
    train_scores, test_scores = _baseline_scores(train.features), _baseline_scores(test.features)
    for name in train_scores:
        predictions[name] = _isotonic(train_scores[name], train.labels, test_scores[name])
    return predictions, model.card_


def _cross_fitted(data: Fold, *, seed: int, as_of: datetime, horizon_days: int) -> tuple[dict[str, np.ndarray], dict]:
    y = data.labels
    scores = _baseline_scores(data.features)
    predictions = {DEFAULT_MODEL: np.zeros(len(y)), **{name: np.zeros(len(y)) for name in scores}}
    card: dict[str, Any] = {}
    for train_idx, test_idx in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(data.features, y):
        model = ChurnClassifier(seed=seed).fit(data.features.iloc[train_idx], y[train_idx], as_of=as_of,
                                               horizon_days=horizon_days)
        predictions[DEFAULT_MODEL][test_idx] = model.predict_proba(data.features.iloc[test_idx])
        for name, score in scores.items():
            predictions[name][test_idx] = _isotonic(score[train_idx], y[train_idx], score[test_idx])
        card = model.card_
    card = {**card, "design": f"{FOLDS}-fold cross-fitting over customers", "training_rows": len(y)}
    return predictions, card
