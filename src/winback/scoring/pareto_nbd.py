"""The Pareto/NBD model of repeat buying (Schmittlein, Morrison & Colombo 1987)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, gammaln

from winback.scoring.base import TransactionModel
from winback.scoring.special import FloatArray, Rows, log_diff_exp, log_hyp2f1, pair_map


def _log_A0(params: Sequence[float], rows: Rows) -> FloatArray:
    """log A₀ of Fader & Hardie (2005, note 009), eqs. (19)–(20), in the form whose ₂F₁ argument lies in [0, 1).

    With m = max(α, β), k = s + 1 if α ≥ β else r + x, and
    F(x, τ) = ₂F₁(r+s+x, k; r+s+x+1; |α−β|/(m+τ)) / (m+τ)^(r+s+x):  A₀ = F(x, t_x) − F(x, T).
    Choosing the branch by the larger of α and β keeps the series convergent; the difference is taken in log space
    (A₀ = 0 when t_x = T), and F is evaluated once per distinct (x, τ) pair.
    """
    r, alpha, s, beta = params
    big, gap = max(alpha, beta), abs(alpha - beta)

    def log_F(x: FloatArray, tau: FloatArray) -> FloatArray:
        rsx = r + s + x
        k = s + 1.0 if alpha >= beta else r + x
        return log_hyp2f1(rsx, k, rsx + 1, gap / (big + tau)) - rsx * np.log(big + tau)

    by_x, by_t_x, by_T = rows.levels
    return log_diff_exp(pair_map(log_F, by_x, by_t_x), pair_map(log_F, by_x, by_T))


def _one_minus_power_over(k: float, log_ratio: FloatArray) -> FloatArray:
    """(1 − e^(−k·L)) / k, which tends to L as k → 0 (the s = 1 case of the Pareto/NBD expectations)."""
    if k == 0:
        return np.asarray(log_ratio, dtype=np.float64)
    return -np.expm1(-k * log_ratio) / k


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD: Poisson purchasing at rate λ during an exponential lifetime with dropout rate μ.

    λ ~ Gamma(r, α) and μ ~ Gamma(s, β) (shape, rate) vary independently across customers. The likelihood is the
    one derived by Fader & Hardie (2005), which depends on a customer only through (x, t_x, T); the gradient is
    taken numerically.

    Parameters
    ----------
    None: build with `ParetoNBDModel()` and call `fit(data)`, or use `from_params({...})`.

    Data contract
    -------------
    `customer_id` (unique), `frequency`, `recency`, `T` in one time unit (see `TransactionModel`).

    Returns
    -------
    `fit` returns the model with `params_` = {r, alpha, s, beta}, `standard_errors_`, `log_likelihood_`,
    `n_customers_`; the predictions return float64 arrays in the row order of the data.

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). "Counting Your Customers: Who Are They and What Will
    They Do Next?" Management Science 33(1), 1–24.
    Fader, P. S. & Hardie, B. G. S. (2005). "A Note on Deriving the Pareto/NBD Model and Related Expressions."
    http://brucehardie.com/notes/009/
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers the Easy Way." Marketing Science
    24(2), 275–284 (the CDNOW estimates).
    """

    param_names = ("r", "alpha", "s", "beta")

    def _initial_params(self, rows: Rows) -> FloatArray:
        scale = max(float(np.average(rows.values[2], weights=rows.weights)), 1e-6)
        return np.array([1.0, scale, 1.0, scale])

    def _log_likelihood(self, theta: FloatArray, rows: Rows) -> FloatArray:
        # note 009, eq. (18): L = Γ(r+x)α^r β^s/Γ(r) · [1/((α+T)^(r+x)(β+T)^s) + s/(r+s+x) · A₀]
        r, alpha, s, beta = theta
        x = rows.values[0]
        by_x, _, by_T = rows.levels
        A1 = by_x.map(lambda x: gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta))
        alive = -(r + x) * by_T.map(lambda T: np.log(alpha + T)) - by_T.map(lambda T: s * np.log(beta + T))
        dead = by_x.map(lambda x: np.log(s / (r + s + x))) + _log_A0(theta, rows)
        return A1 + np.logaddexp(alive, dead)

    def _probability_alive(self, params: Sequence[float], rows: Rows) -> FloatArray:
        # note 009, §5: P(alive) = 1 / (1 + s/(r+s+x) · (α+T)^(r+x) (β+T)^s · A₀)
        r, alpha, s, beta = params
        x = rows.values[0]
        by_x, _, by_T = rows.levels
        log_odds_dead = (by_x.map(lambda x: np.log(s / (r + s + x))) + (r + x) * by_T.map(lambda T: np.log(alpha + T))
                         + by_T.map(lambda T: s * np.log(beta + T)) + _log_A0(params, rows))
        return expit(-log_odds_dead)

    def _expected_if_alive(self, params: Sequence[float], t: float, x: FloatArray, T: FloatArray) -> FloatArray:
        # note 009, eq. (41) is P(alive) times (r+x)(β+T)/((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)]
        r, alpha, s, beta = params
        return (r + x) * (beta + T) / (alpha + T) * _one_minus_power_over(s - 1, np.log1p(t / (beta + T)))

    def _expected_purchases_new(self, params: Sequence[float], t: FloatArray) -> FloatArray:
        # note 009, eq. (27): E[X(t)] = rβ/(α(s−1)) · [1 − (β/(β+t))^(s−1)]
        r, alpha, s, beta = params
        return r * beta / alpha * _one_minus_power_over(s - 1, np.log1p(t / beta))
