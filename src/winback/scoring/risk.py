"""One churn probability and one value per customer, from the stage rules' view, BTYD and the classifier.

How they combine: the classifier is trained at `as_of − horizon` on what happened in the following `horizon`
days, with MBG/NBD's P(alive) and expected purchases among its inputs (so the purchase-pattern model's view is
one of the things it weighs, next to recency against the customer's own cycle, activity trends, feedback and
subscription state); its calibrated output is P(churn) = P(no purchase in the next `horizon` days). Where
there is not enough history for that (or no churn in it), P(churn) = 1 − P(alive). Customers who never
ordered get no P(churn). Value at risk = P(churn) × CLV (12 months, discounted, in the customer's currency).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from winback.scoring.classifier import ChurnClassifier
from winback.scoring.value import fit_value_models, value_scores, value_tiers


@dataclass
class RiskResult:
    scores: pd.DataFrame  # customer_id, p_alive, expected_purchases_90, clv, p_churn, value_at_risk, value_tier,
    #                       churn_drivers
    method: str
    model_card: dict[str, Any] = field(default_factory=dict)
    transaction_model: str | None = None
    notes: list[str] = field(default_factory=list)


def risk_and_value(
    now: pd.DataFrame, *, before: pd.DataFrame | None, churned_before: np.ndarray | None, horizon_days: int = 90,
    seed: int = 0,
) -> RiskResult:
    """`now`: features at the as-of date; `before` / `churned_before`: features at as-of − horizon and whether
    each of those customers then bought nothing up to the as-of date (None when history is too short)."""
    models = fit_value_models(now)
    values = value_scores(now, models, horizon_days=horizon_days)
    scored = now.merge(values, on="customer_id")
    p_churn = 1 - scored["p_alive"].to_numpy(dtype=float)
    drivers: list[Any] = [None] * len(scored)
    method, card = "one minus P(alive)", {}
    if before is not None and churned_before is not None and len(np.unique(churned_before)) == 2:
        train = before.merge(value_scores(before, fit_value_models(before), horizon_days=horizon_days),
                             on="customer_id")
        model = ChurnClassifier(seed=seed).fit(train, churned_before, horizon_days=horizon_days)
        mask = ((scored["n_orders"].fillna(0) > 0) & (scored["t_days"].fillna(0) > 0)).to_numpy()
        p_churn = np.full(len(scored), np.nan)
        p_churn[mask] = model.predict_proba(scored[mask])
        for i, reasons in zip(np.flatnonzero(mask), model.top_reasons(scored[mask]), strict=True):
            drivers[i] = reasons
        method, card = "calibrated LightGBM with buy-till-you-die inputs", model.card_
    out = pd.DataFrame({
        "customer_id": scored["customer_id"].to_numpy(),
        "p_alive": scored["p_alive"].to_numpy(),
        "expected_purchases_90": scored["expected_purchases_horizon"].to_numpy(),
        "clv": scored["clv"].to_numpy(),
        "p_churn": p_churn,
        "churn_drivers": drivers,
    })
    out["value_at_risk"] = out["p_churn"] * out["clv"]
    out["value_tier"] = value_tiers(out["value_at_risk"], scored["currency"])
    transaction_model = type(models.transactions).__name__ if models.transactions else None
    return RiskResult(scores=out, method=method, model_card=card, transaction_model=transaction_model,
                      notes=models.notes)

