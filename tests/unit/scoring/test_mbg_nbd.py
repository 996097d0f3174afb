"""MBG/NBD: predictions against lifetimes 0.11.3, P(alive) < 1 without repeat purchases, the analytic gradient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.scoring import BetaGeoModel, ModifiedBetaGeoModel
from winback.scoring.special import Rows, collapse


@pytest.fixture
def model(reference_params) -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoModel.from_params(reference_params["mbg"])


def test_probability_alive_matches_lifetimes(model, cdnow_rows, lifetimes_reference):
    np.testing.assert_allclose(model.probability_alive(cdnow_rows), lifetimes_reference["mbg"]["p_alive"], rtol=1e-9)


@pytest.mark.parametrize("t", [10, 52])
def test_conditional_expected_purchases_match_lifetimes(model, cdnow_rows, lifetimes_reference, t):
    np.testing.assert_allclose(model.expected_purchases(cdnow_rows, t), lifetimes_reference["mbg"][f"cond{t}"],
                               rtol=1e-9)


def test_expected_purchases_of_a_new_customer_match_lifetimes(model, lifetimes_reference):
    np.testing.assert_allclose(model.expected_purchases_new_customer([39.0, 78.0]),
                               lifetimes_reference["mbg"]["uncond_39_78"], rtol=1e-9)


def test_probability_alive_is_below_one_without_repeat_purchases(model, reference_params):
    # the MBG/NBD lets a customer drop out right after the first purchase; BG/NBD does not
    data = pd.DataFrame({"frequency": [0, 0, 0], "recency": [0.0, 0.0, 0.0], "T": [0.0, 10.0, 100.0]})
    p = model.probability_alive(data)
    a, b = reference_params["mbg"]["a"], reference_params["mbg"]["b"]
    assert p[0] == pytest.approx(b / (a + b))  # at T = 0 only the drop-out at time 0 counts
    assert np.all(p < 1) and p[0] > p[1] > p[2]
    assert np.all(BetaGeoModel.from_params(reference_params["mbg"]).probability_alive(data) == 1.0)


def test_analytic_gradient_matches_numerical(cdnow_rows, central_gradient):
    model = ModifiedBetaGeoModel()
    rows = collapse(Rows.of(*(cdnow_rows[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))))
    theta = np.array([0.6, 7.0, 0.9, 1.5])
    total, gradient = model._log_likelihood_and_gradient(theta, rows)
    assert total == pytest.approx(rows.weights @ model._log_likelihood(theta, rows), rel=1e-12)
    numeric = central_gradient(lambda th: float(rows.weights @ model._log_likelihood(th, rows)), theta)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-8)
