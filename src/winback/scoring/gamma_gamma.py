"""The Gamma-Gamma model of average transaction value (Fader, Hardie & Lee 2005, "RFM and CLV")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
from scipy.special import digamma, gammaln

from winback.scoring.base import (
    ID_COLUMN,
    BaseModel,
    ColumnReader,
    Frame,
    RowLogLikelihood,
    ScoringDataError,
    TotalAndGradient,
    check_whole_nonnegative,
    maximise_likelihood,
)
from winback.scoring.special import Columns, FloatArray, Rows, dot

DEFAULT_CORRELATION_THRESHOLD = 0.3


@dataclass(frozen=True)
class IndependenceCheck:
    """Pearson correlation between frequency and average spend among repeat customers.

    The Gamma-Gamma model assumes a customer's spend per transaction does not depend on how often they buy; a
    correlation whose magnitude exceeds `threshold` makes that doubtful (`suspect` is then True and `message` says
    so). FHL (2005) report 0.11 for CDNOW.
    """

    correlation: float
    n_customers: int
    threshold: float
    suspect: bool
    message: str


def frequency_spend_correlation(data: Frame, *, threshold: float = DEFAULT_CORRELATION_THRESHOLD) -> IndependenceCheck:
    """Check the Gamma-Gamma independence assumption on `frequency` and `monetary_value` of repeat customers."""
    x, m = _read(data, owner="frequency_spend_correlation", fitting=False)
    repeat = x > 0
    return _independence(x[repeat], m[repeat], threshold=threshold)


def _independence(x: FloatArray, m: FloatArray, *, threshold: float) -> IndependenceCheck:
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return IndependenceCheck(float("nan"), n, threshold, False,
                                 f"correlation undefined: {n} repeat customers, or no spread in frequency or spend")
    dx, dm = x - x.mean(), m - m.mean()
    corr = dot(dx, dm) / float(np.sqrt(dot(dx, dx) * dot(dm, dm)))  # Pearson
    suspect = bool(abs(corr) > threshold)
    verdict = ("spend depends on frequency; the Gamma-Gamma independence assumption is doubtful"
               if suspect else "no sign against the independence assumption")
    return IndependenceCheck(corr, n, threshold, suspect,
                             f"frequency-spend correlation {corr:.3f} over {n} repeat customers "
                             f"(|r| > {threshold} is suspect): {verdict}")


def _read(data: Frame, *, owner: str, fitting: bool) -> tuple[FloatArray, FloatArray]:
    reader = ColumnReader(data, owner=owner)
    reader.require((ID_COLUMN, "frequency", "monetary_value") if fitting else ("frequency", "monetary_value"))
    if fitting:
        reader.check_unique_ids()
    x, m = reader.numeric("frequency"), reader.numeric("monetary_value")
    check_whole_nonnegative(reader, name="frequency", values=x)
    check_whole_nonnegative(reader, name="monetary_value", values=m)
    zero_spend = (x > 0) & (m == 0)
    if zero_spend.any():
        raise ScoringDataError(f"{owner}: {int(zero_spend.sum())} repeat customers have monetary_value 0 "
                               f"({reader.where(zero_spend)}); the model needs a positive average spend")
    return x, m


class GammaGammaModel(BaseModel):
    """Gamma-Gamma: a customer's transaction values vary around their mean spend ζ, and ζ varies across customers.

    Each transaction value is Gamma(p, ν) distributed, ν ~ Gamma(q, γ) across customers, so the average m_x of a
    customer's x transactions has a closed-form density given x. The scale parameter the papers call γ is keyed
    `v` here (lifetimes' name): `params_` = {p, q, v}. The model assumes spend is independent of the purchase
    process; `fit` records a check of that in `independence_`.

    Parameters
    ----------
    None: build with `GammaGammaModel()` and call `fit(data)`, or use `from_params({"p": …, "q": …, "v": …})`.

    Data contract
    -------------
    `customer_id` (unique), `frequency` (repeat transactions x) and `monetary_value` (mean value of those repeat
    transactions, > 0 when x > 0). Only customers with x > 0 are used to fit; `n_customers_` counts them.

    Returns
    -------
    `fit` returns the model; `expected_spend(data)` the conditional expected average transaction value per row.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "RFM and CLV: Using Iso-Value Curves for Customer Base
    Analysis." Journal of Marketing Research 42(4), 415–430.
    Fader, P. S. & Hardie, B. G. S. (2013). "The Gamma-Gamma Model of Monetary Value."
    http://brucehardie.com/notes/025/
    """

    param_names = ("p", "q", "v")
    required_columns = (ID_COLUMN, "frequency", "monetary_value")

    independence_: IndependenceCheck

    def fit(self, data: Frame, *, correlation_threshold: float = DEFAULT_CORRELATION_THRESHOLD) -> Self:
        """Estimate p, q, v by maximum likelihood on the distinct (x, m_x) of repeat customers; returns self."""
        x, m = _read(data, owner="GammaGammaModel.fit", fitting=True)
        repeat = x > 0
        if repeat.sum() < 2:
            raise ScoringDataError("GammaGammaModel.fit: needs at least two customers with repeat purchases")
        x, m = x[repeat], m[repeat]
        self.independence_ = _independence(x, m, threshold=correlation_threshold)
        rows = Columns.of(x, m).collapse()
        del x, m
        initial = np.array([1.0, 2.0, float(np.average(rows.values[1], weights=rows.weights))])
        log_likelihood, value_and_gradient = _likelihood(rows)
        estimate = maximise_likelihood(log_likelihood, weights=rows.weights, initial=initial,
                                       value_and_gradient=value_and_gradient, owner="GammaGammaModel")
        self._store(estimate, int(repeat.sum()))
        return self

    def check_independence(self, data: Frame, *, threshold: float = DEFAULT_CORRELATION_THRESHOLD) -> IndependenceCheck:
        """The frequency-spend correlation among the repeat customers of `data` (see `IndependenceCheck`)."""
        return frequency_spend_correlation(data, threshold=threshold)

    def expected_spend(self, data: Frame) -> FloatArray:
        """E(M | p, q, v, m_x, x): expected average transaction value per row; the population mean when x = 0."""
        p, q, v = self._params()
        x, m = _read(data, owner="GammaGammaModel", fitting=False)
        # FHL (2005) eq. (5) / note 025 eq. (5): a weighted mean of the population mean pv/(q-1) and m_x, with
        # weight px/(px+q-1) on the customer's own average
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * (v * p / (q - 1)) + weight * m

    def expected_spend_new_customer(self) -> float:
        """E(M) = pv/(q-1): mean spend per transaction of a customer picked at random (infinite if q ≤ 1)."""
        p, q, v = self._params()
        return v * p / (q - 1) if q > 1 else float("inf")


def _likelihood(rows: Rows) -> tuple[RowLogLikelihood, TotalAndGradient]:
    """ℓ per distinct (x, m_x) row, and Σ w ℓ with its gradient in (p, q, v), summed block by block."""
    parts = [_block_likelihood(part) for part in rows.split()]

    def log_likelihood(theta: FloatArray) -> FloatArray:
        return np.concatenate([ll(theta) for ll, _ in parts])

    def value_and_gradient(theta: FloatArray) -> tuple[float, FloatArray]:
        totals = [vg(theta) for _, vg in parts]
        return sum(t for t, _ in totals), np.sum([g for _, g in totals], axis=0)

    return log_likelihood, value_and_gradient


def _block_likelihood(rows: Rows) -> tuple[RowLogLikelihood, TotalAndGradient]:
    """`_likelihood` on one block; terms in x alone are summed per value of x."""
    xd, md = rows.values
    by_x, w = rows.levels[0], rows.weights
    W_x, xs = rows.level_weights[0], by_x.values
    log_m, xm = np.log(md), xd * md  # fixed across parameter values
    sum_log_m, sum_x_log_m = dot(w, log_m), dot(w, xd * log_m)

    def log_likelihood(theta: FloatArray) -> FloatArray:
        # note 025: f(m_x | p, q, γ, x) = Γ(px+q)/(Γ(px)Γ(q)) · γ^q m_x^(px−1) x^(px) / (γ + m_x x)^(px+q)
        p, q, v = theta
        per_x = by_x.map(lambda x: gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
                         + p * x * np.log(x))
        return per_x + (p * xd - 1) * log_m - (p * xd + q) * np.log(v + xm)

    def value_and_gradient(theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = theta
        log_vxm, pxq = np.log(v + xm), p * xd + q
        total = (dot(W_x, gammaln(p * xs + q) - gammaln(p * xs) - gammaln(q) + q * np.log(v) + p * xs * np.log(xs))
                 + p * sum_x_log_m - sum_log_m - dot(w, pxq * log_vxm))
        d_p = dot(W_x, xs * (digamma(p * xs + q) - digamma(p * xs) + np.log(xs))) + sum_x_log_m - dot(w, xd * log_vxm)
        d_q = dot(W_x, digamma(p * xs + q) - digamma(q) + np.log(v)) - dot(w, log_vxm)
        d_v = q / v * w.sum() - dot(w, pxq / (v + xm))
        return float(total), np.array([d_p, d_q, d_v])

    return log_likelihood, value_and_gradient
