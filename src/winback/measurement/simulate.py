"""Simulated programmes and A/B streams with known true effects, to check the intervals and the sequential test.

`validate` answers two questions with numbers: do 95 % intervals contain the true effect 95 % of the time over
realistic programmes (holdout vs treated), and does the sequential test keep its false-positive rate when looked
at after every batch of an A/A stream (and a naive z-test not). Everything is vectorised over runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from winback.measurement.experiments import DEFAULT_TAU2, mixture_p_values
from winback.measurement.stats import newcombe_bounds, welch_from_moments

__all__ = ["ProgrammeRuns", "StreamRuns", "simulate_ab_streams", "simulate_programmes", "validate"]

CONFIDENCE = 0.95
ALPHA = 0.05
# Programmes: 2,000–50,000 customers (log-uniform), a 5–20 % holdout, holdout conversion 1–10 %, a relative lift
# of −10 %…+50 % (exactly 0 in a fifth of runs), log-normal order values and a treated order-value multiplier of
# 0.9–1.1 (coupons move basket size). The σ of log order value spans 0.5–1.2 around the 0.73 of the CDNOW orders
# shipped in winback.datasets (mean 1.38 × median, skewness 5.7); at 1.2 the mean is 2.05 × the median.
CUSTOMERS = (2_000, 50_000)
HOLDOUT_SHARE = (0.05, 0.20)
BASE_RATE = (0.01, 0.10)
LIFT = (-0.10, 0.50)
NO_LIFT_SHARE = 0.2
MEDIAN_ORDER = (30.0, 120.0)
ORDER_SIGMA = (0.5, 1.2)
ORDER_MULTIPLIER = (0.9, 1.1)
# A/A streams: one look after every 50 visitors (each randomised 50/50), 200 looks = 10,000 visitors.
AA_BATCH, AA_LOOKS = 50, 200
# Power: 5 % vs 6 % conversion, one look every 100 visitors up to 40,000 visitors.
POWER_RATES, POWER_BATCH, POWER_LOOKS = (0.05, 0.06), 100, 400


@dataclass(frozen=True)
class ProgrammeRuns:
    """Per-run summaries of simulated programmes (arrays of length runs) and their true effects."""

    n_treated: np.ndarray
    n_control: np.ndarray
    buyers_treated: np.ndarray
    buyers_control: np.ndarray
    revenue_mean_treated: np.ndarray
    revenue_var_treated: np.ndarray
    revenue_mean_control: np.ndarray
    revenue_var_control: np.ndarray
    true_rate_difference: np.ndarray
    true_revenue_difference: np.ndarray


@dataclass(frozen=True)
class StreamRuns:
    """Cumulative counts at each look of two-variant streams: arrays of shape (runs, looks)."""

    conversions_a: np.ndarray
    n_a: np.ndarray
    conversions_b: np.ndarray
    n_b: np.ndarray


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], size: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size)


def _revenue_moments(*, buyers: np.ndarray, customers: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample variance of revenue per customer, zeros for non-buyers, one log-normal order per buyer."""
    group = np.repeat(np.arange(buyers.size), buyers)
    values = np.exp(mu[group] + sigma[group] * rng.standard_normal(group.size))
    mean = np.bincount(group, weights=values, minlength=buyers.size) / customers
    # Two-pass variance: buyers' squared deviations plus the non-buyers' zeros, each (0 − mean)².
    dev2 = np.bincount(group, weights=(values - mean[group]) ** 2, minlength=buyers.size)
    var = (dev2 + (customers - buyers) * mean ** 2) / (customers - 1)
    return mean, var


def simulate_programmes(runs: int, *, rng: np.random.Generator) -> ProgrammeRuns:
    """`runs` programmes, each a treated group and a holdout with known true conversion and revenue effects."""
    customers = np.exp(_uniform(rng, (np.log(CUSTOMERS[0]), np.log(CUSTOMERS[1])), runs)).round().astype(np.int64)
    n_c = np.maximum(2, (customers * _uniform(rng, HOLDOUT_SHARE, runs)).round().astype(np.int64))
    n_t = customers - n_c
    p_c = _uniform(rng, BASE_RATE, runs)
    lift = np.where(rng.random(runs) < NO_LIFT_SHARE, 0.0, _uniform(rng, LIFT, runs))
    p_t = p_c * (1.0 + lift)
    mu_c = np.log(_uniform(rng, MEDIAN_ORDER, runs))
    sigma = _uniform(rng, ORDER_SIGMA, runs)
    mu_t = mu_c + np.log(_uniform(rng, ORDER_MULTIPLIER, runs))
    k_t, k_c = rng.binomial(n_t, p_t), rng.binomial(n_c, p_c)
    mean_t, var_t = _revenue_moments(buyers=k_t, customers=n_t, mu=mu_t, sigma=sigma, rng=rng)
    mean_c, var_c = _revenue_moments(buyers=k_c, customers=n_c, mu=mu_c, sigma=sigma, rng=rng)
    order_mean = np.exp(sigma ** 2 / 2.0)  # E[value] = exp(μ + σ²/2)
    true_revenue = p_t * np.exp(mu_t) * order_mean - p_c * np.exp(mu_c) * order_mean
    return ProgrammeRuns(n_t, n_c, k_t, k_c, mean_t, var_t, mean_c, var_c, p_t - p_c, true_revenue)


def simulate_ab_streams(rates_a: np.ndarray, rates_b: np.ndarray, *, batch: int, looks: int,
                        rng: np.random.Generator) -> StreamRuns:
    """Streams of visitors randomised 50/50 to two variants, with cumulative counts after every batch."""
    runs = rates_a.size
    n_a = rng.binomial(batch, 0.5, size=(runs, looks))
    n_b = batch - n_a
    x_a = rng.binomial(n_a, rates_a[:, None])
    x_b = rng.binomial(n_b, rates_b[:, None])
    return StreamRuns(*(np.cumsum(v, axis=1) for v in (x_a, n_a, x_b, n_b)))


def _naive_p_values(s: StreamRuns) -> np.ndarray:
    """Pooled two-proportion z-test p-values at every look, as a fixed-horizon test would compute them."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (s.conversions_a + s.conversions_b) / (s.n_a + s.n_b)
        se = np.sqrt(pooled * (1 - pooled) * (1 / s.n_a + 1 / s.n_b))
        z = (s.conversions_b / s.n_b - s.conversions_a / s.n_a) / se
    return np.where(np.isfinite(z), 2.0 * sps.norm.sf(np.abs(z)), 1.0)


def _coverage(p: ProgrammeRuns) -> tuple[np.ndarray, np.ndarray]:
    """Whether each run's Newcombe and Welch intervals contain the true rate and revenue effects."""
    z = float(sps.norm.ppf(0.5 + CONFIDENCE / 2.0))
    _, low, high = newcombe_bounds(p.buyers_treated, p.n_treated, p.buyers_control, p.n_control, z)
    rate_ok = (low <= p.true_rate_difference) & (p.true_rate_difference <= high)
    _, low, high, _ = welch_from_moments(mean_t=p.revenue_mean_treated, var_t=p.revenue_var_treated,
                                         n_t=p.n_treated, mean_c=p.revenue_mean_control,
                                         var_c=p.revenue_var_control, n_c=p.n_control, confidence=CONFIDENCE)
    revenue_ok = (low <= p.true_revenue_difference) & (p.true_revenue_difference <= high)
    return rate_ok, revenue_ok


def _peeking(runs: int, rng: np.random.Generator) -> tuple[float, float]:
    """Share of A/A streams where the sequential test, and a naive z-test, ever call a winner."""
    rates = _uniform(rng, BASE_RATE, runs)
    s = simulate_ab_streams(rates, rates, batch=AA_BATCH, looks=AA_LOOKS, rng=rng)
    sequential = mixture_p_values(s.conversions_a, s.n_a, s.conversions_b, s.n_b, tau2=DEFAULT_TAU2)
    return float((sequential <= ALPHA).any(axis=1).mean()), float((_naive_p_values(s) < ALPHA).any(axis=1).mean())


def _power(runs: int, rng: np.random.Generator) -> float:
    """Share of A/B streams (5 % vs 6 %) where the sequential test calls b the winner by the last look."""
    rate_a, rate_b = POWER_RATES
    s = simulate_ab_streams(np.full(runs, rate_a), np.full(runs, rate_b), batch=POWER_BATCH, looks=POWER_LOOKS,
                            rng=rng)
    crossed = mixture_p_values(s.conversions_a, s.n_a, s.conversions_b, s.n_b, tau2=DEFAULT_TAU2) <= ALPHA
    first = crossed.argmax(axis=1)
    rows = np.arange(runs)
    # The winner is the variant ahead at the first look the always-valid p-value crosses α.
    b_ahead = (s.conversions_b[rows, first] / s.n_b[rows, first]) > (s.conversions_a[rows, first] / s.n_a[rows, first])
    return float((crossed.any(axis=1) & b_ahead).mean())


def validate(*, runs: int, seed: int) -> dict[str, float | int]:
    """Coverage of 95 % intervals over simulated programmes, and false positives and power under peeking."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    programme_rng, aa_rng, power_rng = np.random.default_rng(seed).spawn(3)
    rate_ok, revenue_ok = _coverage(simulate_programmes(runs, rng=programme_rng))
    sequential_fpr, naive_fpr = _peeking(runs, aa_rng)
    return {
        "runs": runs,
        "seed": seed,
        "confidence": CONFIDENCE,
        "coverage": float(np.concatenate([rate_ok, revenue_ok]).mean()),
        "coverage_rate_difference": float(rate_ok.mean()),
        "coverage_revenue": float(revenue_ok.mean()),
        "peeking_false_positive_rate": sequential_fpr,
        "naive_peeking_false_positive_rate": naive_fpr,
        "power_at_effect": _power(runs, power_rng),
    }
