"""BG/NBD: predictions against lifetimes 0.11.3, the analytic gradient, and the prediction contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from winback.scoring import BetaGeoModel
from winback.scoring.special import Rows, collapse


@pytest.fixture
def model(reference_params) -> BetaGeoModel:
    return BetaGeoModel.from_params(reference_params["bg"])


def test_probability_alive_matches_lifetimes(model, cdnow_rows, lifetimes_reference):
    np.testing.assert_allclose(model.probability_alive(cdnow_rows), lifetimes_reference["bg"]["p_alive"], rtol=1e-9)


@pytest.mark.parametrize("t", [10, 52])
def test_conditional_expected_purchases_match_lifetimes(model, cdnow_rows, lifetimes_reference, t):
    np.testing.assert_allclose(model.expected_purchases(cdnow_rows, t), lifetimes_reference["bg"][f"cond{t}"],
                               rtol=1e-9)


def test_expected_purchases_of_a_new_customer_match_lifetimes(model, lifetimes_reference):
    np.testing.assert_allclose(model.expected_purchases_new_customer([39.0, 78.0]),
                               lifetimes_reference["bg"]["uncond_39_78"], rtol=1e-9)


def test_a_customer_without_repeat_purchases_is_alive(model):
    data = pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [1.0, 500.0]})
    np.testing.assert_array_equal(model.probability_alive(data), [1.0, 1.0])


def test_longer_silence_means_lower_probability_alive(model):
    data = pd.DataFrame({"frequency": [3, 3, 3], "recency": [30.0, 20.0, 5.0], "T": [38.0, 38.0, 38.0]})
    p = model.probability_alive(data)
    assert p[0] > p[1] > p[2]


def test_expected_purchases_grow_with_the_horizon_from_zero(model, cdnow_rows):
    assert np.all(model.expected_purchases(cdnow_rows, 0.0) == 0.0)
    e10, e52 = model.expected_purchases(cdnow_rows, 10), model.expected_purchases(cdnow_rows, 52)
    assert np.all(e52 > e10) and np.all(e10 > 0)


def test_predictions_follow_row_order_and_repeat_for_equal_rows(model, cdnow_rows):
    base = model.probability_alive(cdnow_rows)
    shuffled = cdnow_rows.iloc[[6, 0, 5, 1, 4, 2, 3, 0, 0]]
    np.testing.assert_array_equal(model.probability_alive(shuffled), base[[6, 0, 5, 1, 4, 2, 3, 0, 0]])


def test_arrow_input_gives_the_same_predictions(model, cdnow_rows):
    table = pa.Table.from_pandas(cdnow_rows, preserve_index=False)
    np.testing.assert_array_equal(model.expected_purchases(table, 52), model.expected_purchases(cdnow_rows, 52))


def test_predictions_need_no_customer_id_and_ignore_extra_columns(model, cdnow_rows):
    bare = cdnow_rows[["frequency", "recency", "T"]].assign(segment="x")
    np.testing.assert_array_equal(model.probability_alive(bare), model.probability_alive(cdnow_rows))


def test_analytic_gradient_matches_numerical(cdnow_rows, central_gradient):
    model = BetaGeoModel()
    rows = collapse(Rows.of(*(cdnow_rows[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))))
    theta = np.array([0.3, 5.0, 0.8, 2.5])
    total, gradient = model._log_likelihood_and_gradient(theta, rows)
    assert total == pytest.approx(rows.weights @ model._log_likelihood(theta, rows), rel=1e-12)
    numeric = central_gradient(lambda th: float(rows.weights @ model._log_likelihood(th, rows)), theta)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-8)


def test_fit_recovers_the_parameters_it_simulated_with_small_data():
    # a quick sanity fit; the precise recovery checks live in tests/recovery
    rng = np.random.default_rng(7)
    n, T = 4000, 40.0
    lam, p = rng.gamma(0.5, 1 / 5.0, n), rng.beta(1.0, 3.0, n)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(rng.geometric(p), arrivals)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    data = pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": T})
    model = BetaGeoModel().fit(data)
    assert model.n_customers_ == n
    assert set(model.params_) == {"r", "alpha", "a", "b"} == set(model.standard_errors_)
    assert model.params_["r"] == pytest.approx(0.5, rel=0.2)
    assert model.params_["alpha"] == pytest.approx(5.0, rel=0.3)
    assert np.isfinite(model.log_likelihood_) and all(se > 0 for se in model.standard_errors_.values())
