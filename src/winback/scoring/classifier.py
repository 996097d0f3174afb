"""The supervised churn model: gradient-boosted trees on point-in-time features, calibrated probabilities,
and the reasons behind each prediction.

The label is "no purchase in the `horizon` days after the as-of date". LightGBM learns it from features that
read nothing after that date (see `winback.features.customer`); isotonic regression, fitted out of fold
(scikit-learn's CalibratedClassifierCV), turns its scores into probabilities that mean what they say. The
reasons per customer are the largest SHAP-style contributions (LightGBM's `pred_contrib`).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.calibration import CalibratedClassifierCV

FEATURES = (
    "n_orders", "revenue", "frequency", "recency_days", "t_days", "days_since_last_order", "monetary_value",
    "avg_order_value", "cadence_days", "overdue_ratio", "gap_before_last_days", "orders_last_90", "orders_prior_180",
    "page_view_30", "page_view_prior_90", "app_session_30", "app_session_prior_90", "login_30", "login_prior_90",
    "feature_use_30", "feature_use_prior_90", "email_open_30", "email_open_prior_90", "email_click_30",
    "email_click_prior_90", "sms_click_30", "sms_click_prior_90", "cart_abandon_30", "search_30",
    "complaints_90", "low_ratings_90", "unresolved_tickets", "cancelled_subscriptions", "active_subscriptions",
    "paused_subscriptions", "payment_failures_90", "downgrades_90", "tenure_days", "days_since_last_activity",
)
# Optional inputs from other models, used when present (the BTYD model's view of the same customer).
EXTRA_FEATURES = ("p_alive", "expected_purchases_horizon")

FEATURE_TEXT = {
    "days_since_last_order": "days since the last order",
    "overdue_ratio": "how overdue against their own cycle",
    "recency_days": "time between first and last purchase",
    "frequency": "number of repeat purchases",
    "orders_last_90": "orders in the last 90 days",
    "p_alive": "purchase-pattern model's chance they are still a customer",
    "expected_purchases_horizon": "expected purchases in the horizon",
    "email_open_30": "email opens in the last 30 days",
    "page_view_30": "visits in the last 30 days",
    "complaints_90": "recent complaints",
    "unresolved_tickets": "unresolved tickets",
    "days_since_last_activity": "days since any activity",
}


@dataclass
class ChurnClassifier:
    """LightGBM + isotonic calibration. `fit(features, churned)`, `predict_proba(features)`."""

    seed: int = 0
    n_estimators: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 40
    calibration_folds: int = 5
    feature_names_: list[str] = field(default_factory=list)
    model_: Any = None
    card_: dict[str, Any] = field(default_factory=dict)

    def _matrix(self, features: pd.DataFrame) -> np.ndarray:
        return features.reindex(columns=self.feature_names_).to_numpy(dtype=float)

    def fit(self, features: pd.DataFrame, churned: np.ndarray, *, as_of: datetime | None = None,
            horizon_days: int | None = None) -> ChurnClassifier:
        """Fit on point-in-time features and labels (1 = no purchase in the horizon after the as-of date)."""
        y = np.asarray(churned, dtype=int)
        if len(np.unique(y)) < 2:
            raise ValueError("the churn labels have a single class: nothing to learn")
        self.feature_names_ = [c for c in (*FEATURES, *EXTRA_FEATURES) if c in features.columns]
        x = self._matrix(features)
        base = LGBMClassifier(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                              num_leaves=self.num_leaves, min_child_samples=self.min_child_samples,
                              subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=self.seed,
                              n_jobs=2, verbose=-1, deterministic=True, force_row_wise=True)
        folds = max(2, min(self.calibration_folds, int(np.bincount(y).min())))
        self.model_ = CalibratedClassifierCV(base, method="isotonic", cv=folds, ensemble=True).fit(x, y)
        self.card_ = {
            "model": "LightGBM gradient boosting + isotonic calibration",
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "as_of": as_of.isoformat() if as_of else None,
            "horizon_days": horizon_days,
            "seed": self.seed,
            "parameters": {"n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                           "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                           "calibration_folds": folds},
            "features": self.feature_names_,
            "training_rows": len(y),
            "churn_rate": float(y.mean()),
            "data_hash": data_hash(features[self.feature_names_], y),
        }
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated P(churn) per row."""
        if self.model_ is None:
            raise ValueError("the churn classifier is not fitted")
        return self.model_.predict_proba(self._matrix(features))[:, 1]

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per row and feature, the contribution to the (uncalibrated) log-odds of churn, from the first
        calibration fold's trees (the folds' trees differ little, and each costs as much as the others)."""
        x = self._matrix(features)
        first = self.model_.calibrated_classifiers_[0].estimator
        return pd.DataFrame(first.predict(x, pred_contrib=True)[:, :-1], columns=self.feature_names_,
                            index=features.index)

    def top_reasons(self, features: pd.DataFrame, *, k: int = 3) -> list[list[dict[str, Any]]]:
        """The k features pushing each customer's churn risk up the most, with their values."""
        contrib = self.contributions(features).to_numpy()
        values = features.reindex(columns=self.feature_names_).to_numpy(dtype=float)
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
        out = []
        for i, top in enumerate(order):
            out.append([{"feature": self.feature_names_[j],
                         "text": FEATURE_TEXT.get(self.feature_names_[j], self.feature_names_[j].replace("_", " ")),
                         "value": None if np.isnan(values[i, j]) else float(values[i, j]),
                         "contribution": round(float(contrib[i, j]), 4)}
                        for j in top if contrib[i, j] > 0])
        return out

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        pickle.dump(self, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        return buffer.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> ChurnClassifier:
        model = pickle.loads(data)  # only ever bytes this process or the store wrote
        if not isinstance(model, ChurnClassifier):
            raise TypeError("not a ChurnClassifier")
        return model


def data_hash(features: pd.DataFrame, labels: np.ndarray) -> str:
    """A fingerprint of the training data, for the model card."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(features.reset_index(drop=True), index=False).to_numpy().tobytes())
    digest.update(np.asarray(labels, dtype=np.int8).tobytes())
    return digest.hexdigest()[:16]
