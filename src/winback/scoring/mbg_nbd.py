"""The MBG/NBD model of repeat buying (Batislam, Denizel & Filiztekin 2007)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import digamma, expit, gammaln

from winback.scoring.base import TransactionModel
from winback.scoring.special import FloatArray, Rows, dot, log_add_exp_share, log_hyp2f1, one_minus_exp


class ModifiedBetaGeoModel(TransactionModel):
    """MBG/NBD: like BG/NBD, but a customer may also drop out right after the first purchase.

    Dropout is possible at time 0 as well as after each repeat purchase, so a customer with no repeat purchase is
    not certainly alive: P(alive) < 1 at x = 0, unlike BG/NBD. λ ~ Gamma(r, α), p ~ Beta(a, b), independent.

    Parameters
    ----------
    None: build with `ModifiedBetaGeoModel()` and call `fit(data)`, or use `from_params({...})`.

    Data contract
    -------------
    `customer_id` (unique), `frequency`, `recency`, `T` in one time unit (see `TransactionModel`).

    Returns
    -------
    `fit` returns the model with `params_` = {r, alpha, a, b}, `standard_errors_`, `log_likelihood_`,
    `n_customers_`; the predictions return float64 arrays in the row order of the data.

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). "Empirical validation and comparison of models for
    customer base analysis." International Journal of Research in Marketing 24(3), 201–209.
    Wagner, U. & Hoppe, D. (2008). "Erratum on the MBG/NBD model." International Journal of Research in
    Marketing 25(3), 225–226.
    """

    param_names = ("r", "alpha", "a", "b")

    def _initial_params(self, rows: Rows) -> FloatArray:
        return np.array([1.0, max(float(np.average(rows.values[2], weights=rows.weights)), 1e-6), 1.0, 1.0])

    @staticmethod
    def _parts(theta: Sequence[float], rows: Rows) -> tuple[FloatArray, ...]:
        # Batislam et al. (2007) eq. (3) with the Wagner & Hoppe (2008) correction:
        # L = B(a, b+x+1)/B(a,b) Γ(r+x)α^r/(Γ(r)(α+T)^(r+x)) + B(a+1, b+x)/B(a,b) Γ(r+x)α^r/(Γ(r)(α+t_x)^(r+x))
        # ℓ = A₁₂ + log(e^A₃ + e^A₄), since B(a+1, b+x)/B(a, b+x+1) = a/(b+x); terms in x, t_x or T alone are
        # computed once per distinct value. Returns A₁₂, A₃, A₄ and log(α+T), log(α+t_x) per row.
        r, alpha, a, b = theta
        x = rows.values[0]
        by_x, by_t_x, by_T = rows.levels
        A12 = by_x.map(lambda x: gammaln(r + x) - gammaln(r) + r * np.log(alpha)
                       + gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1))
        log_aT, log_at, rx = by_T.map(lambda T: np.log(alpha + T)), by_t_x.map(lambda t: np.log(alpha + t)), r + x
        A4 = by_x.map(lambda x: np.log(a) - np.log(b + x))
        return A12, -rx * log_aT, A4 - rx * log_at, log_aT, log_at

    def _log_likelihood(self, theta: FloatArray, rows: Rows) -> FloatArray:
        A12, A3, A4, _, _ = self._parts(theta, rows)
        return A12 + log_add_exp_share(A3, A4)[0]

    def _log_likelihood_and_gradient(self, theta: FloatArray, rows: Rows) -> tuple[float, FloatArray]:
        # Σ w ℓ and its gradient, as for BG/NBD with w₄ = e^A₄/(e^A₃ + e^A₄), w₃ = 1 − w₄:
        #   ∂ℓ/∂r = ψ(r+x) − ψ(r) + log α − w₃ log(α+T) − w₄ log(α+t_x)
        #   ∂ℓ/∂α = r/α − (r+x) (w₃/(α+T) + w₄/(α+t_x))
        #   ∂ℓ/∂a = ψ(a+b) − ψ(a+b+x+1) + w₄/a
        #   ∂ℓ/∂b = ψ(a+b) + ψ(b+x+1) − ψ(b) − ψ(a+b+x+1) − w₄/(b+x)
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
        d_a = dot(W_x, digamma(a + b) - digamma(a + b + xs + 1)) + ww4.sum() / a
        d_b = (dot(W_x, digamma(a + b) + digamma(b + xs + 1) - digamma(b) - digamma(a + b + xs + 1))
               - dot(np.bincount(by_x.codes, weights=ww4, minlength=len(xs)), 1 / (b + xs)))
        return float(total), np.array([d_r, d_alpha, d_a, d_b])

    def _probability_alive(self, params: Sequence[float], rows: Rows) -> FloatArray:
        # Batislam et al. (2007), appendix A, eq. (5): 1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x)), for every x
        r, alpha, a, b = params
        x = rows.values[0]
        by_x, by_t_x, by_T = rows.levels
        log_odds_dead = (by_x.map(lambda x: np.log(a / (b + x)))
                         + (r + x) * (by_T.map(lambda T: np.log(alpha + T))
                                      - by_t_x.map(lambda t_x: np.log(alpha + t_x))))
        return expit(-log_odds_dead)

    def _expected_if_alive(self, params: Sequence[float], t: float, x: FloatArray, T: FloatArray) -> FloatArray:
        # Wagner & Hoppe (2008): the conditional expectation is P(alive) times
        # (a+b+x)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x+1; a+b+x; t/(α+T+t))]
        r, alpha, a, b = params
        log_term = (log_hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
                    + (r + x) * np.log((alpha + T) / (alpha + T + t)))
        return (a + b + x) / (a - 1) * one_minus_exp(log_term)

    def _expected_purchases_new(self, params: Sequence[float], t: FloatArray) -> FloatArray:
        # E[X(t)] = b/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b+1; a+b; t/(α+t))]
        r, alpha, a, b = params
        log_term = log_hyp2f1(r, b + 1, a + b, t / (alpha + t)) + r * np.log(alpha / (alpha + t))
        return b / (a - 1) * one_minus_exp(log_term)
