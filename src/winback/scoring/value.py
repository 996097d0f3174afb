"""What each customer is worth and how likely they are still buying: BG/NBD and Gamma-Gamma on the features.

Fitted on the customers who have ordered (durations in days). The spend model is fitted per currency (a
yuan and a dollar are not the same spend) when a currency has enough repeat customers, and CLV is in the
customer's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from winback.scoring.base import ConvergenceError
from winback.scoring.bg_nbd import BetaGeoModel
from winback.scoring.clv import customer_lifetime_value
from winback.scoring.gamma_gamma import GammaGammaModel
from winback.scoring.mbg_nbd import ModifiedBetaGeoModel

MIN_REPEAT_CUSTOMERS = 30
DAYS_PER_MONTH = 30.0


@dataclass
class ValueModels:
    transactions: BetaGeoModel | ModifiedBetaGeoModel | None
    spend: dict[str, GammaGammaModel] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # models that could not be fitted, and why


def _summary(features: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": features["customer_id"].to_numpy(),
                         "frequency": features["frequency"].to_numpy(dtype=float),
                         "recency": features["recency_days"].to_numpy(dtype=float),
                         "T": features["t_days"].to_numpy(dtype=float),
                         "monetary_value": features["monetary_value"].to_numpy(dtype=float)})


def buyers(features: pd.DataFrame) -> pd.DataFrame:
    """Customers with at least one order and a positive age (BTYD needs T > 0)."""
    return features[(features["n_orders"].fillna(0) > 0) & (features["t_days"].fillna(0) > 0)]


def fit_value_models(features: pd.DataFrame, *, transaction_model: str = "mbg_nbd") -> ValueModels:
    """A transaction model on all buyers (MBG/NBD by default: unlike BG/NBD it does not call a customer with
    a single purchase certainly alive, however long ago); Gamma-Gamma per currency on repeat buyers."""
    data = buyers(features)
    if len(data) < 50 or data["frequency"].sum() == 0:
        return ValueModels(transactions=None)
    summary = _summary(data)
    notes: list[str] = []
    order = [transaction_model] + (["bg_nbd"] if transaction_model != "bg_nbd" else [])
    transactions = None
    for name in order:  # the simpler BG/NBD likelihood may converge where MBG/NBD does not
        try:
            transactions = {"bg_nbd": BetaGeoModel, "mbg_nbd": ModifiedBetaGeoModel}[name]().fit(summary)
            break
        except ConvergenceError as exc:
            notes.append(str(exc))
    if transactions is None:  # a scoring run goes on without P(alive) and CLV, and says why
        return ValueModels(transactions=None, notes=notes)
    spend: dict[str, GammaGammaModel] = {}
    repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    for currency, group in repeat.groupby(repeat.get("currency", pd.Series("", index=repeat.index)).fillna("")):
        if len(group) >= MIN_REPEAT_CUSTOMERS:
            try:
                spend[str(currency)] = GammaGammaModel().fit(_summary(group))
            except ConvergenceError as exc:
                notes.append(f"{currency}: {exc}")
    return ValueModels(transactions=transactions, spend=spend, notes=notes)


def value_scores(features: pd.DataFrame, models: ValueModels, *, horizon_days: int = 90, clv_months: int = 12,
                 monthly_discount: float = 0.01) -> pd.DataFrame:
    """customer_id, p_alive, expected_purchases_horizon, clv (None where a model is missing)."""
    out = pd.DataFrame({"customer_id": features["customer_id"].to_numpy()})
    out["p_alive"] = np.nan
    out["expected_purchases_horizon"] = np.nan
    out["clv"] = np.nan
    if models.transactions is None:
        return out
    mask = ((features["n_orders"].fillna(0) > 0) & (features["t_days"].fillna(0) > 0)).to_numpy()
    data = _summary(features[mask])
    out.loc[mask, "p_alive"] = models.transactions.probability_alive(data)
    out.loc[mask, "expected_purchases_horizon"] = models.transactions.expected_purchases(data, horizon_days)
    currency = features.get("currency", pd.Series("", index=features.index)).fillna("").to_numpy()
    for code, spend in models.spend.items():
        rows = mask & (currency == code)
        if rows.any():
            data = _summary(features[rows])
            # Repeat customers whose purchases were all free have no spend to condition on: value them at
            # the population's expected spend, as a customer without repeat purchases.
            free = (data["frequency"] > 0) & (data["monetary_value"] <= 0)
            data.loc[free, ["frequency", "recency", "monetary_value"]] = 0.0
            out.loc[rows, "clv"] = customer_lifetime_value(
                models.transactions, spend, data, horizon=clv_months, discount_rate=monthly_discount,
                period_length=DAYS_PER_MONTH)
    return out


def value_tiers(value_at_risk: pd.Series, currency: pd.Series) -> pd.Series:
    """priority (top 5 % of value at risk in its currency), high (next 15 %), medium (next 30 %), low."""
    tiers = pd.Series(None, index=value_at_risk.index, dtype=object)
    for _, idx in value_at_risk.groupby(currency.fillna("")).groups.items():
        values = value_at_risk.loc[idx]
        known = values.dropna()
        if known.empty:
            continue
        rank = known.rank(pct=True, method="first")
        tiers.loc[known.index] = np.select([rank > 0.95, rank > 0.80, rank > 0.50], ["priority", "high", "medium"],
                                           default="low")
    return tiers
