"""A/B tests on conversion rates that may be looked at after every observation: the mixture SPRT.

The difference θ = p_b − p_a is estimated by θ̂ = x_b/n_b − x_a/n_a with variance V = Σ p̃(1 − p̃)/n. With a
normal mixing distribution θ ~ N(θ0, τ²) over the alternative, the mixture likelihood ratio against θ = θ0 is

    Λ(θ0) = sqrt(V / (V + τ²)) · exp(τ² (θ̂ − θ0)² / (2 V (V + τ²)))

(Johari, Koomen, Pekelis & Walsh 2017, eq. 7 with the two-stream normal model of section 4; Johari, Pekelis &
Walsh 2022, Operations Research 70(3)). Its running minimum of 1/Λ(0) is an always-valid p-value, and
{θ0 : Λ(θ0) < 1/α} is an always-valid confidence sequence: under H0 the chance that either ever errs, however
often it is looked at, is at most α.

References
----------
Johari R, Koomen P, Pekelis L, Walsh D (2017). Peeking at A/B tests: why it matters, and what to do about it. KDD '17.
Johari R, Koomen P, Pekelis L, Walsh D (2022). Always valid inference: continuous monitoring of A/B tests.
Operations Research 70(3):1806-1821.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np

__all__ = [
    "DEFAULT_TAU2",
    "SequentialResult",
    "auto_winner",
    "mixture_p_values",
    "pair_key",
    "pairwise_tests",
    "sequential_test",
]

# Mixing variance of the difference of rates: τ = 0.01, i.e. effects of about one percentage point, the size
# win-back variants typically differ by at conversion rates of 1–20 %. Smaller τ² is slower to detect large
# effects; larger τ² is slower for small ones. Validity holds for any fixed τ².
DEFAULT_TAU2 = 1e-4


@dataclass(frozen=True)
class SequentialResult:
    """The always-valid p-value and confidence sequence for p_b − p_a at one look."""

    p_value: float
    low: float
    high: float
    decided: bool
    winner: str | None

    def as_dict(self) -> dict[str, float | bool | str | None]:
        return {"p_value": self.p_value, "low": self.low, "high": self.high, "decided": self.decided,
                "winner": self.winner}


def _moments(x_a: np.ndarray, n_a: np.ndarray, x_b: np.ndarray,
             n_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """θ̂ and its variance; rates for the variance are shrunk by half a success so V > 0 with no conversions."""
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = x_b / n_b - x_a / n_a
        pa, pb = (x_a + 0.5) / (n_a + 1.0), (x_b + 0.5) / (n_b + 1.0)
        v = pa * (1 - pa) / n_a + pb * (1 - pb) / n_b
    return theta, v


def mixture_p_values(x_a: np.ndarray, n_a: np.ndarray, x_b: np.ndarray, n_b: np.ndarray, *,
                     tau2: float = DEFAULT_TAU2) -> np.ndarray:
    """1 / Λ(0) at each look, vectorised, capped at 1 (1 where an arm is empty); not yet the running minimum."""
    x_a, n_a, x_b, n_b = (np.asarray(v, dtype=float) for v in (x_a, n_a, x_b, n_b))
    theta, v = _moments(x_a, n_a, x_b, n_b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = 0.5 * np.log(v / (v + tau2)) + tau2 * theta ** 2 / (2.0 * v * (v + tau2))
        p = np.exp(-log_lr)
    empty = (n_a <= 0) | (n_b <= 0)
    return np.where(empty, 1.0, np.clip(p, 0.0, 1.0))


def sequential_test(conversions_a: int, n_a: int, conversions_b: int, n_b: int, *, alpha: float = 0.05,
                    tau2: float | None = None, names: tuple[str, str] = ("a", "b"),
                    previous_p: float = 1.0) -> SequentialResult:
    """mSPRT on p_b − p_a at this look; pass the last look's p-value as `previous_p` to keep the running minimum."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    for x, n in ((conversions_a, n_a), (conversions_b, n_b)):
        if n < 0 or x < 0 or x > n:
            raise ValueError(f"need 0 <= conversions <= n, got {x} of {n}")
    t2 = DEFAULT_TAU2 if tau2 is None else float(tau2)
    if t2 <= 0:
        raise ValueError(f"tau2 must be positive, got {tau2}")
    if n_a == 0 or n_b == 0:
        p = min(1.0, previous_p)
        return SequentialResult(p, -1.0, 1.0, p <= alpha, None)
    p_now = float(mixture_p_values(conversions_a, n_a, conversions_b, n_b, tau2=t2))
    p = max(0.0, min(1.0, previous_p, p_now))
    theta, v = (float(a) for a in _moments(*np.array([conversions_a, n_a, conversions_b, n_b], dtype=float)))
    # Λ(θ0) < 1/α  ⇔  (θ̂ − θ0)² < V(V + τ²)/τ² · (2 log(1/α) + log((V + τ²)/V)).
    half = math.sqrt(v * (v + t2) / t2 * (2.0 * math.log(1.0 / alpha) + math.log((v + t2) / v)))
    low, high = max(-1.0, theta - half), min(1.0, theta + half)
    decided = p <= alpha
    winner = None
    if decided and theta != 0:
        winner = names[1] if theta > 0 else names[0]
    return SequentialResult(p, low, high, decided, winner)


def pair_key(first: str, second: str) -> str:
    """The key of a pair of variants in `pairwise_tests` and `previous`: the two names sorted, 'a vs b'."""
    a, b = sorted((first, second))
    return f"{a} vs {b}"


def pairwise_tests(arms: Mapping[str, tuple[int, int]], *, alpha: float = 0.05,
                   previous: Mapping[str, float] | None = None) -> dict[str, SequentialResult]:
    """Every pair of arms (conversions, n) tested at α / pairs (Bonferroni), keyed by `pair_key`."""
    names = sorted(arms)
    pairs = list(combinations(names, 2))
    level = alpha / max(1, len(pairs))
    before = previous or {}
    results = {}
    for a, b in pairs:
        key = pair_key(a, b)
        (x_a, n_a), (x_b, n_b) = arms[a], arms[b]
        results[key] = sequential_test(x_a, n_a, x_b, n_b, alpha=level, names=(a, b),
                                       previous_p=before.get(key, 1.0))
    return results


def auto_winner(arms: Mapping[str, tuple[int, int]], *, alpha: float = 0.05, min_per_arm: int = 100,
                previous: Mapping[str, float] | None = None) -> str | None:
    """The arm that beats every other arm with the sequential test (Bonferroni across pairs), or None.

    None while any arm has fewer than `min_per_arm` observations. `previous` maps `pair_key` to the last
    look's p-value; take it from `pairwise_tests` to keep p-values always valid across looks.
    """
    if len(arms) < 2 or any(n < min_per_arm for _, n in arms.values()):
        return None
    wins: dict[str, int] = {}
    for result in pairwise_tests(arms, alpha=alpha, previous=previous).values():
        if result.winner is not None:
            wins[result.winner] = wins.get(result.winner, 0) + 1
    best = [name for name, count in wins.items() if count == len(arms) - 1]
    return best[0] if best else None
