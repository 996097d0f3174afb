"""Each buy-till-you-die model recovers the parameters it simulated with, and its P(alive) matches the truth.

One simulator per model, straight from the model's story, with `numpy.random.default_rng(seed)`. Estimates must
fall within 3 standard errors of the truth (the standard errors come from the fit's Hessian, so this also checks
that they are not too small).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.scoring import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)

pytestmark = pytest.mark.slow

N = 30_000
CDNOW_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
CDNOW_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """CDNOW-like ages in weeks: first purchases spread over 12 weeks, observed to week 39."""
    return 39.0 - rng.uniform(0, 12, n)


def _repeat_history(rng: np.random.Generator, lam: np.ndarray, T: np.ndarray,
                    repeats_before_dropout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and t_x when Poisson(λ) arrivals on (0, T] stop after `repeats_before_dropout` purchases.

    Given N arrivals, the first x = min(K, N) of them are the first x order statistics of N uniforms on (0, T],
    and the x-th of N uniforms is T·Beta(x, N − x + 1).
    """
    arrivals = rng.poisson(lam * T)
    x = np.minimum(repeats_before_dropout, arrivals)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(arrivals - x, 0) + 1), 0.0)
    return x, t_x


def simulate_bg_nbd(params: dict[str, float], n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """BG/NBD (FHL 2005, §2): λ ~ Gamma(r, α); after each repeat purchase the customer drops out with p ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n)
    lam, p = rng.gamma(params["r"], 1 / params["alpha"], n), rng.beta(params["a"], params["b"], n)
    dropout_after = rng.geometric(p)  # the K-th repeat purchase is the last, K = 1, 2, …
    x, t_x = _repeat_history(rng, lam, T, dropout_after)
    alive = dropout_after > x  # never reached the K-th purchase
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": T}), alive


def simulate_mbg_nbd(params: dict[str, float], n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """MBG/NBD (Batislam et al. 2007): as BG/NBD, but the drop-out can also come right after the first purchase."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n)
    lam, p = rng.gamma(params["r"], 1 / params["alpha"], n), rng.beta(params["a"], params["b"], n)
    repeats_made = rng.geometric(p) - 1  # 0 = dropped out at time 0
    x, t_x = _repeat_history(rng, lam, T, repeats_made)
    alive = repeats_made > x
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": T}), alive


def simulate_pareto_nbd(params: dict[str, float], n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Pareto/NBD (SMC 1987): Poisson(λ) purchases during an Exp(μ) lifetime; λ ~ Gamma(r, α), μ ~ Gamma(s, β)."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n)
    lam, mu = rng.gamma(params["r"], 1 / params["alpha"], n), rng.gamma(params["s"], 1 / params["beta"], n)
    lifetime = rng.exponential(1 / mu)
    active = np.minimum(lifetime, T)
    x = rng.poisson(lam * active)
    t_x = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1.0), 0.0)  # the last of x uniforms
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": T}), lifetime > T


def simulate_gamma_gamma(params: dict[str, float], n: int, seed: int) -> pd.DataFrame:
    """Gamma-Gamma (FHL 2005 "RFM and CLV"): spends ~ Gamma(p, ν), ν ~ Gamma(q, γ); m_x is the mean of x spends."""
    rng = np.random.default_rng(seed)
    x = 1 + rng.poisson(2.0, n)
    nu = rng.gamma(params["q"], 1 / params["v"], n)
    m = rng.gamma(params["p"] * x, 1 / (nu * x))  # the mean of x Gamma(p, ν) draws
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "monetary_value": m})


def simulate_sbg(alpha: float, beta: float, n: int, periods: int, seed: int) -> list[int]:
    """sBG (F&H 2007): churn probability θ ~ Beta(α, β), constant per period; alive at the start of each period."""
    rng = np.random.default_rng(seed)
    churn_period = rng.geometric(rng.beta(alpha, beta, n))  # the period at whose end the customer leaves
    return [int(np.sum(churn_period > t)) for t in range(periods + 1)]


def _within_three_standard_errors(model, truth: dict[str, float]) -> None:
    for name, value in truth.items():
        estimate, se = model.params_[name], model.standard_errors_[name]
        assert 0 < se < 0.25 * value, (name, se)
        assert abs(estimate - value) < 3 * se, (name, estimate, value, se)


def test_bg_nbd_recovers_its_parameters_and_alive_share():
    data, alive = simulate_bg_nbd(CDNOW_BG, N, seed=101)
    model = BetaGeoModel().fit(data)
    _within_three_standard_errors(model, CDNOW_BG)
    assert model.probability_alive(data).mean() == pytest.approx(alive.mean(), abs=0.01)


def test_mbg_nbd_recovers_its_parameters_and_alive_share():
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}
    data, alive = simulate_mbg_nbd(truth, N, seed=202)
    model = ModifiedBetaGeoModel().fit(data)
    _within_three_standard_errors(model, truth)
    assert model.probability_alive(data).mean() == pytest.approx(alive.mean(), abs=0.01)


def test_pareto_nbd_recovers_its_parameters_and_alive_share():
    data, alive = simulate_pareto_nbd(CDNOW_PARETO, N, seed=303)
    model = ParetoNBDModel().fit(data)
    _within_three_standard_errors(model, CDNOW_PARETO)
    assert model.probability_alive(data).mean() == pytest.approx(alive.mean(), abs=0.01)


def test_gamma_gamma_recovers_its_parameters():
    data = simulate_gamma_gamma(CDNOW_GG, N, seed=404)
    model = GammaGammaModel().fit(data)
    _within_three_standard_errors(model, CDNOW_GG)
    assert not model.independence_.suspect


@pytest.mark.parametrize(("alpha", "beta"), [(0.704, 1.182), (0.668, 3.806)])
def test_sbg_recovers_its_parameters(alpha, beta):
    alive = simulate_sbg(alpha, beta, 50_000, periods=7, seed=505)
    model = ShiftedBetaGeoModel().fit_retention(alive)
    _within_three_standard_errors(model, {"alpha": alpha, "beta": beta})
