"""The shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma

from winback.scoring.base import BaseModel, ColumnReader, Frame, ScoringDataError, maximise_likelihood
from winback.scoring.special import FloatArray, dot, log_hyp2f1


class ShiftedBetaGeoModel(BaseModel):
    """sBG: each subscriber churns at the end of a period with a constant probability θ, θ ~ Beta(α, β).

    Fitted on a cohort's survival table — how many of the customers who started in period 0 are still customers
    at the start of periods 0, 1, …, n — it projects survival and retention (which rises over time as the
    high-churn customers leave) and values a customer by their discounted expected (residual) lifetime.

    Parameters
    ----------
    None: build with `ShiftedBetaGeoModel()` and call `fit(data)` or `fit_retention(alive)`, or `from_params`.

    Data contract
    -------------
    `fit` takes a DataFrame or Arrow table with columns `period` (0, 1, …, n, each once) and `alive` (customers
    still active at the start of that period: whole numbers, non-increasing, more than 0 at period 0).

    Returns
    -------
    `params_` = {alpha, beta}, `standard_errors_`, `log_likelihood_`, `n_customers_` (the cohort size);
    `survival`, `retention_rate`, `churn_probability`, `expected_lifetime`, `discounted_expected_lifetime` and
    `discounted_expected_residual_lifetime`.

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). "How to Project Customer Retention." Journal of Interactive Marketing
    21(1), 76–90.
    Fader, P. S. & Hardie, B. G. S. (2010). "Customer-Base Valuation in a Contractual Setting: The Perils of
    Ignoring Heterogeneity." Marketing Science 29(1), 85–93.
    """

    param_names = ("alpha", "beta")
    required_columns = ("period", "alive")

    def fit(self, data: Frame) -> Self:
        """Fit on a survival table with columns `period` and `alive`; returns self."""
        reader = ColumnReader(data, owner="ShiftedBetaGeoModel.fit")
        reader.require(self.required_columns)
        period, alive = reader.numeric("period"), reader.numeric("alive")
        order = np.argsort(period, kind="stable")
        if not np.array_equal(period[order], np.arange(len(period))):
            raise ScoringDataError("ShiftedBetaGeoModel.fit: period must be 0, 1, …, n with each period once")
        return self.fit_retention(alive[order])

    def fit_retention(self, alive: Sequence[float] | ArrayLike) -> Self:
        """Fit on the number of customers alive at the start of periods 0, 1, …, n; returns self."""
        n_alive = np.asarray(alive, dtype=np.float64)
        _check_alive(n_alive)
        n = len(n_alive) - 1
        # F&H (2007) §4: customers lost in period t contribute log P(T = t), survivors of period n log S(n)
        t = np.arange(1, n + 2, dtype=np.float64)
        lost = np.append(-np.diff(n_alive), n_alive[-1])
        survived = t == n + 1

        def log_likelihood(theta: FloatArray) -> FloatArray:
            alpha, beta = theta
            return np.where(survived, _log_survival(alpha, beta, t - 1),
                            betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta))

        def value_and_gradient(theta: FloatArray) -> tuple[float, FloatArray]:
            alpha, beta = theta
            common = digamma(alpha + beta) - digamma(alpha + beta + np.where(survived, t - 1, t))
            d_alpha = np.where(survived, common, common + digamma(alpha + 1) - digamma(alpha))
            d_beta = common + digamma(beta + t - 1) - digamma(beta)
            return dot(lost, log_likelihood(theta)), np.array([dot(d_alpha, lost), dot(d_beta, lost)])

        estimate = maximise_likelihood(log_likelihood, weights=lost, initial=np.array([1.0, 1.0]),
                                       value_and_gradient=value_and_gradient, owner="ShiftedBetaGeoModel")
        self._store(estimate, int(n_alive[0]))
        return self

    def survival(self, t: ArrayLike) -> FloatArray:
        """S(t) = P(T > t) = B(α, β+t)/B(α, β): share of a cohort still active at the start of period t (eq. 6)."""
        alpha, beta = self._params()
        return np.exp(_log_survival(alpha, beta, _periods(t, minimum=0)))

    def retention_rate(self, t: ArrayLike) -> FloatArray:
        """r_t = S(t)/S(t−1) = (β+t−1)/(α+β+t−1) for t ≥ 1 (eq. 8): it rises with t as the cohort sorts itself."""
        alpha, beta = self._params()
        t = _periods(t, minimum=1)
        return (beta + t - 1) / (alpha + beta + t - 1)

    def churn_probability(self, t: ArrayLike) -> FloatArray:
        """P(T = t) = B(α+1, β+t−1)/B(α, β): share of a cohort lost in period t ≥ 1 (eq. 5)."""
        alpha, beta = self._params()
        t = _periods(t, minimum=1)
        return np.exp(betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta))

    def expected_lifetime(self) -> float:
        """E[T] = Σ_{t≥0} S(t) = (α+β−1)/(α−1) periods; infinite when α ≤ 1 (a heavy tail of loyal customers)."""
        alpha, beta = self._params()
        return (alpha + beta - 1) / (alpha - 1) if alpha > 1 else float("inf")

    def discounted_expected_lifetime(self, *, discount_rate: float) -> float:
        """DEL = Σ_{t≥0} S(t)/(1+d)^t = ₂F₁(1, β; α+β; 1/(1+d)): payments of 1 per period, first one now."""
        alpha, beta = self._params()
        _check_rate(discount_rate)
        return float(np.exp(log_hyp2f1(1.0, beta, alpha + beta, 1 / (1 + discount_rate))))

    def discounted_expected_residual_lifetime(self, *, discount_rate: float, renewals: ArrayLike = 0) -> FloatArray:
        """DERL of a customer who has renewed `renewals` (= n − 1) times and is about to decide on the next.

        F&H (2010), eq. (6): DERL(d | α, β, n−1 renewals) = (β+n−1)/(α+β+n−1) · ₂F₁(1, β+n; α+β+n; 1/(1+d)),
        i.e. Σ_{t≥n} [S(t)/S(n−1)] / (1+d)^(t−n) — the expected number of further payments of 1, discounted.
        """
        alpha, beta = self._params()
        _check_rate(discount_rate)
        n = _periods(renewals, minimum=0) + 1
        log_hyp = log_hyp2f1(1.0, beta + n, alpha + beta + n, 1 / (1 + discount_rate))
        return (beta + n - 1) / (alpha + beta + n - 1) * np.exp(log_hyp)


def _log_survival(alpha: float, beta: float, t: FloatArray) -> FloatArray:
    return betaln(alpha, beta + t) - betaln(alpha, beta)


def _periods(t: ArrayLike, *, minimum: int) -> FloatArray:
    values = np.asarray(t, dtype=np.float64)
    if np.any(values < minimum) or np.any(values != np.floor(values)):
        raise ScoringDataError(f"ShiftedBetaGeoModel: periods must be whole numbers ≥ {minimum}")
    return values


def _check_rate(discount_rate: float) -> None:
    if not discount_rate > 0:
        raise ScoringDataError(f"ShiftedBetaGeoModel: discount_rate must be > 0, got {discount_rate}")


def _check_alive(alive: FloatArray) -> None:
    owner = "ShiftedBetaGeoModel"
    if alive.ndim != 1 or len(alive) < 2:
        raise ScoringDataError(f"{owner}: needs the number alive at the start of at least periods 0 and 1")
    if not np.all(np.isfinite(alive)) or np.any(alive < 0) or np.any(alive != np.floor(alive)):
        raise ScoringDataError(f"{owner}: alive counts must be whole numbers ≥ 0")
    if alive[0] <= 0:
        raise ScoringDataError(f"{owner}: the cohort is empty at period 0")
    rising = np.flatnonzero(np.diff(alive) > 0)
    if rising.size:
        raise ScoringDataError(f"{owner}: alive must not increase (period {rising[0] + 1} has more than period "
                               f"{rising[0]}); a survival table counts one cohort, without newcomers")
