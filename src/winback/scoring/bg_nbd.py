"""The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import digamma, expit, gammaln

from winback.scoring.base import TransactionModel
from winback.scoring.special import FloatArray, Rows, dot, log_add_exp_share, log_hyp2f1, one_minus_exp


class BetaGeoModel(TransactionModel):
    """BG/NBD: Poisson purchasing while alive, dropping out with probability p after each repeat purchase.

    Transaction rates λ ~ Gamma(r, α) (shape r, rate α) and dropout probabilities p ~ Beta(a, b) vary independently
    across customers. The likelihood depends on a customer only through (x, t_x, T), so the model is fitted on the
    distinct triples weighted by their counts.

    Parameters
    ----------
    None: build with `BetaGeoModel()` and call `fit(data)`, or use `BetaGeoModel.from_params({...})`.

    Data contract
    -------------
    `customer_id` (unique), `frequency` x (repeat purchase occasions), `recency` t_x and `T`, in one time unit
    (see `TransactionModel`). A pandas DataFrame or a pyarrow Table; it is only read.

    Returns
    -------
    `fit` returns the model with `params_` = {r, alpha, a, b}, `standard_errors_`, `log_likelihood_` and
    `n_customers_`; `probability_alive`, `expected_purchases` and `expected_purchases_new_customer` return float64
    arrays (row order of the data for the per-customer ones).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers the Easy Way: An Alternative to the
    Pareto/NBD Model." Marketing Science 24(2), 275–284.
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). "Computing P(alive) Using the BG/NBD Model."
    http://brucehardie.com/notes/021/
    """

    param_names = ("r", "alpha", "a", "b")

    def _initial_params(self, rows: Rows) -> FloatArray:
        return np.array([1.0, max(float(np.average(rows.values[2], weights=rows.weights)), 1e-6), 1.0, 1.0])

    @staticmethod
    def _parts(theta: Sequence[float], rows: Rows) -> tuple[FloatArray, ...]:
        """ℓ = A₁ + A₂ + log(e^A₃ + δ(x>0) e^A₄), the log of FHL (2005) eq. (6); returns A₁ + A₂, A₃, A₄ and
        log(α+T), log(α+t_x) per row.

        A₁ = log Γ(r+x) − log Γ(r) + r log α, A₂ = log B(a, b+x) − log B(a, b), A₃ = −(r+x) log(α+T),
        A₄ = log(a/(b+x−1)) − (r+x) log(α+t_x). Terms in x, t_x or T alone are computed once per distinct value.
        """
        r, alpha, a, b = theta
        x = rows.values[0]
        by_x, by_t_x, by_T = rows.levels
        A12 = by_x.map(lambda x: gammaln(r + x) - gammaln(r) + r * np.log(alpha)
                       + gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x))
        log_aT, log_at, rx = by_T.map(lambda T: np.log(alpha + T)), by_t_x.map(lambda t: np.log(alpha + t)), r + x
        A4 = by_x.map(lambda x: np.where(x > 0, np.log(a) - np.log(b + np.maximum(x, 1) - 1), -np.inf))
        return A12, -rx * log_aT, A4 - rx * log_at, log_aT, log_at

    def _log_likelihood(self, theta: FloatArray, rows: Rows) -> FloatArray:
        A12, A3, A4, _, _ = self._parts(theta, rows)
        return A12 + log_add_exp_share(A3, A4)[0]

    def _log_likelihood_and_gradient(self, theta: FloatArray, rows: Rows) -> tuple[float, FloatArray]:
        # Σ w ℓ and its gradient. With w₄ = e^A₄/(e^A₃ + e^A₄) the weight of the "dropped out after the last
        # purchase" term (0 when x = 0) and w₃ = 1 − w₄:
        #   ∂ℓ/∂r = ψ(r+x) − ψ(r) + log α − w₃ log(α+T) − w₄ log(α+t_x)
        #   ∂ℓ/∂α = r/α − (r+x) (w₃/(α+T) + w₄/(α+t_x))
        #   ∂ℓ/∂a = ψ(a+b) − ψ(a+b+x) + w₄/a
        #   ∂ℓ/∂b = ψ(a+b) + ψ(b+x) − ψ(b) − ψ(a+b+x) − w₄/(b+x−1)
        # Sums of terms in one column are taken per value (`level_weights`); only the w₄ terms are summed per row.
        r, alpha, a, b = theta
        x, w = rows.values[0], rows.weights
        by_x, by_t_x, by_T = rows.levels
        W_x, _, W_T = rows.level_weights
        xs, Ts = by_x.values, by_T.values
        A12, A3, A4, log_aT, log_at = self._parts(theta, rows)
        log_sum, w4 = log_add_exp_share(A3, A4)
        ww4 = w * w4
        inv_aT, inv_at = by_T.map(lambda T: 1 / (alpha + T)), by_t_x.map(lambda t_x: 1 / (alpha + t_x))
        total = dot(w, A12 + log_sum)
        d_r = (dot(W_x, digamma(r + xs) - digamma(r) + np.log(alpha)) - dot(W_T, np.log(alpha + Ts))
               - dot(ww4, log_at - log_aT))
        d_alpha = r / alpha * w.sum() - dot(w, (r + x) * inv_aT) - dot(ww4, (r + x) * (inv_at - inv_aT))
        d_a = dot(W_x, digamma(a + b) - digamma(a + b + xs)) + ww4.sum() / a
        d_b = (dot(W_x, digamma(a + b) + digamma(b + xs) - digamma(b) - digamma(a + b + xs))
               - dot(np.bincount(by_x.codes, weights=ww4, minlength=len(xs)), 1 / (b + np.maximum(xs, 1) - 1)))
        return float(total), np.array([d_r, d_alpha, d_a, d_b])

    def _probability_alive(self, params: Sequence[float], rows: Rows) -> FloatArray:
        # Fader, Hardie & Lee (2008), note 021: P(alive) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x))
        r, alpha, a, b = params
        x = rows.values[0]
        by_x, by_t_x, by_T = rows.levels
        log_odds_dead = (by_x.map(lambda x: np.log(a / (b + np.maximum(x, 1) - 1)))
                         + (r + x) * (by_T.map(lambda T: np.log(alpha + T))
                                      - by_t_x.map(lambda t_x: np.log(alpha + t_x))))
        return np.where(x > 0, expit(-log_odds_dead), 1.0)

    def _expected_if_alive(self, params: Sequence[float], t: float, x: FloatArray, T: FloatArray) -> FloatArray:
        # FHL (2005) eq. (10) is P(alive) times
        # (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
        r, alpha, a, b = params
        log_term = (log_hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
                    + (r + x) * np.log((alpha + T) / (alpha + T + t)))
        return (a + b + x - 1) / (a - 1) * one_minus_exp(log_term)

    def _expected_purchases_new(self, params: Sequence[float], t: FloatArray) -> FloatArray:
        # FHL (2005) eq. (9): E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))]
        r, alpha, a, b = params
        log_term = log_hyp2f1(r, b, a + b - 1, t / (alpha + t)) + r * np.log(alpha / (alpha + t))
        return (a + b - 1) / (a - 1) * one_minus_exp(log_term)
