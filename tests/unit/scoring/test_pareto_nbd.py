"""Pareto/NBD: predictions against lifetimes 0.11.3 and the likelihood against direct numerical integration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import gammaln

from winback.scoring import ParetoNBDModel
from winback.scoring.special import Rows


@pytest.fixture
def model(reference_params) -> ParetoNBDModel:
    return ParetoNBDModel.from_params(reference_params["pareto"])


def test_probability_alive_matches_lifetimes(model, cdnow_rows, lifetimes_reference):
    np.testing.assert_allclose(model.probability_alive(cdnow_rows), lifetimes_reference["pareto"]["p_alive"],
                               rtol=1e-9)


@pytest.mark.parametrize("t", [10, 52])
def test_conditional_expected_purchases_match_lifetimes(model, cdnow_rows, lifetimes_reference, t):
    np.testing.assert_allclose(model.expected_purchases(cdnow_rows, t), lifetimes_reference["pareto"][f"cond{t}"],
                               rtol=1e-9)


def test_expected_purchases_of_a_new_customer_match_lifetimes(model, lifetimes_reference):
    np.testing.assert_allclose(model.expected_purchases_new_customer([39.0, 78.0]),
                               lifetimes_reference["pareto"]["uncond_39_78"], rtol=1e-9)


def _likelihood_by_quadrature(r, alpha, s, beta, x, t_x, T):
    """L = Γ(r+x)α^r β^s/Γ(r) · [(α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ]."""
    integral, _ = quad(lambda tau: (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1), t_x, T, epsabs=0,
                       epsrel=1e-12)
    front = np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta))
    return front * ((alpha + T) ** -(r + x) * (beta + T) ** -s + s * integral)


@pytest.mark.parametrize("params", [(0.55, 10.58, 0.61, 11.67), (0.55, 11.67, 0.61, 10.58), (2.0, 3.0, 1.5, 3.0),
                                    (0.3, 50.0, 2.0, 0.5)], ids=["alpha<beta", "alpha>beta", "equal", "far apart"])
def test_likelihood_equals_direct_integration_on_both_branches(params):
    x = np.array([0.0, 1.0, 2.0, 7.0, 29.0, 3.0])
    t_x = np.array([0.0, 1.71, 30.43, 29.43, 37.71, 38.86])
    T = np.array([38.86, 38.86, 38.86, 38.86, 38.0, 38.86])
    ll = ParetoNBDModel()._log_likelihood(np.array(params), Rows.of(x, t_x, T))
    expected = [np.log(_likelihood_by_quadrature(*params, *row)) for row in zip(x, t_x, T, strict=True)]
    np.testing.assert_allclose(ll, expected, rtol=1e-9)


def test_s_equal_one_is_the_limit_of_the_expectation():
    data = pd.DataFrame({"frequency": [2], "recency": [20.0], "T": [38.0]})
    at_one = ParetoNBDModel.from_params({"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": 12.0})
    near = ParetoNBDModel.from_params({"r": 0.5, "alpha": 10.0, "s": 1.0 + 1e-7, "beta": 12.0})
    assert at_one.expected_purchases(data, 52)[0] == pytest.approx(near.expected_purchases(data, 52)[0], rel=1e-6)
    assert at_one.expected_purchases_new_customer(52.0) == pytest.approx(near.expected_purchases_new_customer(52.0),
                                                                         rel=1e-6)


def test_a_customer_seen_at_the_end_is_almost_surely_alive(model):
    data = pd.DataFrame({"frequency": [5, 5], "recency": [38.86, 1.0], "T": [38.86, 38.86]})
    p = model.probability_alive(data)
    assert p[0] == pytest.approx(1.0) and p[1] < 0.5
