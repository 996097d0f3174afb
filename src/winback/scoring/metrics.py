"""Scores of probabilistic predictions: discrimination, calibration and lift."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """Mean |observed rate − mean prediction| over equal-width probability bins, weighted by bin size."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(y))


def lift_top_decile(y: np.ndarray, score: np.ndarray) -> float:
    """Churn rate among the 10 % scored riskiest, divided by the overall churn rate."""
    y = np.asarray(y, dtype=float)
    n = max(1, round(len(y) * 0.1))
    top = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:n]
    return float(y[top].mean() / y.mean()) if y.mean() > 0 else float("nan")


def evaluate(y: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    return {
        "auc": round(float(roc_auc_score(y, probability)), 4),
        "pr_auc": round(float(average_precision_score(y, probability)), 4),
        "brier": round(float(brier_score_loss(y, probability)), 4),
        "ece": round(expected_calibration_error(y, probability), 4),
        "lift_top_decile": round(lift_top_decile(y, probability), 4),
    }
