"""Intervals and p-values for rates, differences of rates and differences of means; sample-ratio checks.

Pure functions: numbers or arrays in, frozen dataclasses out. Vectorised helpers (`wilson_bounds`,
`newcombe_bounds`, `welch_from_moments`) are shared with the simulation that validates them.

References
----------
Wilson EB (1927). Probable inference, the law of succession, and statistical inference. JASA 22:209-212.
Newcombe RG (1998). Interval estimation for the difference between independent proportions: comparison of
eleven methods. Statistics in Medicine 17:873-890 (method 10).
Welch BL (1947). The generalization of 'Student's' problem when several different population variances are
involved. Biometrika 34:28-35.
Fabijan A et al. (2019). Diagnosing sample ratio mismatch in online controlled experiments. KDD '19.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = [
    "Estimate",
    "SrmResult",
    "mean_difference",
    "newcombe_bounds",
    "rate_difference",
    "sample_ratio_mismatch",
    "welch_from_moments",
    "wilson_bounds",
    "wilson_interval",
]

# Resampled values held in memory at once by the bootstrap (resamples x sample size), about 32 MB of float64.
_BOOTSTRAP_CELLS = 1 << 22


@dataclass(frozen=True)
class Estimate:
    """A difference (treated − control) or a single rate, with its interval and two-sided p-value."""

    estimate: float
    low: float
    high: float
    p_value: float | None
    confidence: float
    method: str

    def as_dict(self) -> dict[str, float | str | None]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "p_value": self.p_value,
                "confidence": self.confidence, "method": self.method}


@dataclass(frozen=True)
class SrmResult:
    """Chi-square goodness of fit of the observed split to the planned one; `expected` holds counts."""

    p_value: float
    alarm: bool
    observed: Mapping[str, int]
    expected: Mapping[str, float]

    def as_dict(self) -> dict[str, object]:
        return {"p_value": self.p_value, "alarm": self.alarm, "observed": dict(self.observed),
                "expected": dict(self.expected)}


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(sps.norm.ppf(0.5 + confidence / 2.0))


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")


def wilson_bounds(x: np.ndarray | float, n: np.ndarray | float, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score bounds for x successes out of n (vectorised; nan where n = 0)."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (x + z * z / 2.0) / (n + z * z)
        half = z / (n + z * z) * np.sqrt(x * (n - x) / n + z * z / 4.0)
        # Clip: at x = 0 or x = n the bound is exactly 0 or 1 but rounding can step just outside.
        low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    empty = n == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def newcombe_bounds(x_t: np.ndarray | float, n_t: np.ndarray | float, x_c: np.ndarray | float,
                    n_c: np.ndarray | float, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newcombe (1998) method 10 for p_t − p_c: (difference, low, high), vectorised; nan where a side is empty."""
    x_t, n_t, x_c, n_c = (np.asarray(v, dtype=float) for v in (x_t, n_t, x_c, n_c))
    l_t, u_t = wilson_bounds(x_t, n_t, z)
    l_c, u_c = wilson_bounds(x_c, n_c, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_t, p_c = x_t / n_t, x_c / n_c
    d = p_t - p_c
    # Square-and-add of the single-rate Wilson distances (Newcombe 1998, eq. for method 10).
    low = d - np.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    high = d + np.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    return d, low, high


def welch_from_moments(*, mean_t: np.ndarray, var_t: np.ndarray, n_t: np.ndarray, mean_c: np.ndarray,
                       var_c: np.ndarray, n_c: np.ndarray, confidence: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Welch t interval and two-sided p-value for mean_t − mean_c from sample moments: (d, low, high, p).

    When both variances are zero the interval collapses to the difference and p is 1 if it is 0, else 0.
    """
    mean_t, var_t, n_t, mean_c, var_c, n_c = (np.asarray(v, dtype=float)
                                              for v in (mean_t, var_t, n_t, mean_c, var_c, n_c))
    d = mean_t - mean_c
    a, b = var_t / n_t, var_c / n_c
    se2 = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        # Welch–Satterthwaite degrees of freedom.
        df = se2 ** 2 / (a ** 2 / (n_t - 1) + b ** 2 / (n_c - 1))
        se = np.sqrt(se2)
        degenerate = se2 <= 0
        df = np.where(degenerate, 1.0, df)
        t_crit = sps.t.ppf(0.5 + confidence / 2.0, df)
        t_stat = np.where(degenerate, 0.0, d / np.where(degenerate, 1.0, se))
        p = 2.0 * sps.t.sf(np.abs(t_stat), df)
    p = np.where(degenerate, np.where(d == 0, 1.0, 0.0), p)
    half = np.where(degenerate, 0.0, t_crit * se)
    return d, d - half, d + half, np.clip(p, 0.0, 1.0)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Estimate:
    """The rate successes / n with its Wilson score interval (nan when n = 0)."""
    _check_counts(successes, n)
    low, high = wilson_bounds(successes, n, _z(confidence))
    rate = successes / n if n else math.nan
    return Estimate(rate, float(low), float(high), None, confidence, "wilson")


def _two_proportion_p(x_t: int, n_t: int, x_c: int, n_c: int) -> float:
    """Pooled two-proportion z-test, or Fisher's exact test when an expected cell is below 5."""
    table = np.array([[x_t, n_t - x_t], [x_c, n_c - x_c]], dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if (expected < 5).any():
        return float(sps.fisher_exact(table.astype(int)).pvalue)
    pooled = (x_t + x_c) / (n_t + n_c)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    return float(2.0 * sps.norm.sf(abs(x_t / n_t - x_c / n_c) / se))


def rate_difference(x_treated: int, n_treated: int, x_control: int, n_control: int, *,
                    confidence: float = 0.95) -> Estimate:
    """p_treated − p_control with Newcombe's hybrid score interval; never raises on an empty side (nan, p None)."""
    _check_counts(x_treated, n_treated)
    _check_counts(x_control, n_control)
    z = _z(confidence)
    if n_treated == 0 or n_control == 0:
        return Estimate(math.nan, math.nan, math.nan, None, confidence, "newcombe")
    d, low, high = newcombe_bounds(x_treated, n_treated, x_control, n_control, z)
    p = _two_proportion_p(x_treated, n_treated, x_control, n_control)
    return Estimate(float(d), float(low), float(high), p, confidence, "newcombe")


def _bootstrap_means(values: np.ndarray, *, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `resamples` resamples with replacement, drawn in chunks to bound memory."""
    n = values.size
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means


def mean_difference(treated: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray, *,
                    confidence: float = 0.95, method: str = "welch", resamples: int = 2000,
                    rng: np.random.Generator | None = None) -> Estimate:
    """mean(treated) − mean(control) with a Welch t or percentile-bootstrap interval; p-value from Welch's test.

    Fewer than two values on a side gives nan bounds and p None. The bootstrap generator defaults to seed 0 so
    the same data always give the same interval.
    """
    if method not in ("welch", "bootstrap"):
        raise ValueError(f"method must be 'welch' or 'bootstrap', got {method!r}")
    _z(confidence)  # validates it before any work
    t, c = np.asarray(treated, dtype=float).ravel(), np.asarray(control, dtype=float).ravel()
    if t.size == 0 or c.size == 0:
        return Estimate(math.nan, math.nan, math.nan, None, confidence, method)
    if t.size < 2 or c.size < 2:
        return Estimate(float(t.mean() - c.mean()), math.nan, math.nan, None, confidence, method)
    d, low, high, p = welch_from_moments(mean_t=t.mean(), var_t=t.var(ddof=1), n_t=t.size, mean_c=c.mean(),
                                         var_c=c.var(ddof=1), n_c=c.size, confidence=confidence)
    if method == "bootstrap":
        gen = rng if rng is not None else np.random.default_rng(0)
        diffs = (_bootstrap_means(t, resamples=resamples, rng=gen)
                 - _bootstrap_means(c, resamples=resamples, rng=gen))
        tail = (1.0 - confidence) / 2.0
        low, high = np.quantile(diffs, [tail, 1.0 - tail])
    return Estimate(float(d), float(low), float(high), float(p), confidence, method)


def sample_ratio_mismatch(observed: Mapping[str, int], expected_shares: Mapping[str, float], *,
                          threshold: float = 0.001) -> SrmResult:
    """Chi-square goodness of fit of observed group sizes to the planned shares; alarm when p < threshold.

    Shares are normalised; a group missing from either mapping counts as 0. A group with observations but a
    planned share of 0 is a certain mismatch (p = 0). With nothing observed there is no evidence (p = 1).
    """
    names = list(dict.fromkeys([*expected_shares, *observed]))
    shares = np.array([float(expected_shares.get(k, 0.0)) for k in names])
    counts = np.array([int(observed.get(k, 0)) for k in names])
    if (shares < 0).any() or shares.sum() <= 0 or (counts < 0).any():
        raise ValueError("expected shares must be non-negative with a positive sum, and counts non-negative")
    total = int(counts.sum())
    exp = shares / shares.sum() * total
    expected = {k: float(e) for k, e in zip(names, exp, strict=True)}
    observed_out = {k: int(v) for k, v in zip(names, counts, strict=True)}
    planned = shares > 0
    if total == 0 or planned.sum() < 2:
        p = 1.0 if total == 0 or counts[~planned].sum() == 0 else 0.0
    elif counts[~planned].sum() > 0:
        p = 0.0
    else:
        p = float(sps.chisquare(counts[planned], exp[planned]).pvalue)
    return SrmResult(p_value=p, alarm=p < threshold, observed=observed_out, expected=expected)
