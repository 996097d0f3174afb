"""Discounted customer lifetime value from a transaction model and a spend model (lifetimes' convention)."""

from __future__ import annotations

import numpy as np

from winback.scoring.base import Frame, ScoringDataError, TransactionModel
from winback.scoring.gamma_gamma import GammaGammaModel
from winback.scoring.special import FloatArray


def customer_lifetime_value(
    transaction_model: TransactionModel,
    spend_model: GammaGammaModel,
    data: Frame,
    *,
    horizon: int,
    discount_rate: float,
    period_length: float,
) -> FloatArray:
    """Discounted expected revenue of each customer over the next `horizon` periods, in the row order of `data`.

    CLV = E(M | x, m_x) · Σₖ₌₁..horizon (E[X(T, T+k·L)] − E[X(T, T+(k−1)·L)]) / (1 + d)ᵏ

    with L = `period_length` in the data's time unit and d = `discount_rate` per period: the expected purchases
    of each period, valued at the Gamma-Gamma expected spend and discounted to the end of observation. This is
    lifetimes' `customer_lifetime_value`: there the period is a month and L is 30 for daily data, 4.345 for
    weekly; `horizon=12, discount_rate=0.01, period_length=4.345` reproduces its defaults on weekly data.

    Parameters
    ----------
    transaction_model
        A fitted `BetaGeoModel`, `ModifiedBetaGeoModel` or `ParetoNBDModel`.
    spend_model
        A fitted `GammaGammaModel`.
    data
        Columns `frequency`, `recency`, `T` and `monetary_value` (DataFrame or Arrow table; only read).
    horizon, discount_rate, period_length
        Number of periods, discount rate per period (≥ 0), length of a period in the data's time unit.

    Returns
    -------
    numpy.ndarray of float64, one value per row of `data`.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "RFM and CLV: Using Iso-Value Curves for Customer Base
    Analysis." Journal of Marketing Research 42(4), 415–430.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ScoringDataError(f"customer_lifetime_value: horizon must be a whole number of periods ≥ 1, got {horizon}")
    if not (np.isfinite(discount_rate) and discount_rate >= 0):
        raise ScoringDataError(f"customer_lifetime_value: discount_rate must be ≥ 0, got {discount_rate}")
    if not (np.isfinite(period_length) and period_length > 0):
        raise ScoringDataError(f"customer_lifetime_value: period_length must be > 0, got {period_length}")
    spend = spend_model.expected_spend(data)
    purchases = transaction_model.discounted_expected_purchases(data, horizon=int(horizon),
                                                                period_length=float(period_length),
                                                                discount_rate=float(discount_rate))
    return spend * purchases
