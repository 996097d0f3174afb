"""Gamma-Gamma: expected spend against lifetimes 0.11.3, the independence check, the gradient, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.scoring import GammaGammaModel, ScoringDataError, frequency_spend_correlation
from winback.scoring.gamma_gamma import _likelihood
from winback.scoring.special import Rows, collapse


@pytest.fixture
def model(reference_params) -> GammaGammaModel:
    return GammaGammaModel.from_params(reference_params["gg"])


def test_expected_spend_matches_lifetimes(model, cdnow_rows, lifetimes_reference):
    np.testing.assert_allclose(model.expected_spend(cdnow_rows), lifetimes_reference["gg"]["spend"], rtol=1e-9)


def test_customers_without_repeats_get_the_population_mean(model, reference_params):
    p, q, v = (reference_params["gg"][k] for k in ("p", "q", "v"))
    data = pd.DataFrame({"frequency": [0], "monetary_value": [0.0]})
    assert model.expected_spend(data)[0] == pytest.approx(p * v / (q - 1))
    assert model.expected_spend_new_customer() == pytest.approx(p * v / (q - 1))


def _spend_world(seed: int, n: int, *, coupling: float) -> pd.DataFrame:
    """Repeat customers whose mean spend is Gamma-Gamma, optionally scaled up with their frequency."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 15, n)
    nu = rng.gamma(4.0, 1 / 20.0, n)
    m = rng.gamma(6.0 * x, 1 / (nu * x)) * (1 + coupling * x)
    return pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "monetary_value": m})


def test_independence_check_passes_independent_spend():
    check = frequency_spend_correlation(_spend_world(1, 3000, coupling=0.0))
    assert abs(check.correlation) < 0.1 and not check.suspect and check.n_customers == 3000
    assert "no sign against" in check.message


def test_independence_check_flags_spend_that_grows_with_frequency():
    data = _spend_world(2, 3000, coupling=1.0)
    check = frequency_spend_correlation(data)
    assert check.correlation > 0.3 and check.suspect and "doubtful" in check.message
    fitted = GammaGammaModel().fit(data)
    assert fitted.independence_.suspect
    assert fitted.check_independence(data, threshold=0.99).suspect is False


def test_independence_check_ignores_customers_without_repeats():
    data = pd.DataFrame({"frequency": [0, 0, 1, 2, 3], "monetary_value": [0.0, 0.0, 10.0, 20.0, 30.0]})
    check = frequency_spend_correlation(data)
    assert check.n_customers == 3 and check.correlation == pytest.approx(1.0)


def test_analytic_gradient_matches_numerical(central_gradient):
    data = _spend_world(3, 500, coupling=0.0)
    rows = collapse(Rows.of(data["frequency"].to_numpy(np.float64), data["monetary_value"].to_numpy()))
    log_likelihood, value_and_gradient = _likelihood(rows)
    theta = np.array([5.0, 3.0, 15.0])
    total, gradient = value_and_gradient(theta)
    assert total == pytest.approx(float(rows.weights @ log_likelihood(theta)), rel=1e-12)
    numeric = central_gradient(lambda th: float(rows.weights @ log_likelihood(th)), theta)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6)


def test_fit_uses_repeat_customers_only():
    data = pd.concat([_spend_world(4, 2000, coupling=0.0),
                      pd.DataFrame({"customer_id": [-1, -2], "frequency": [0, 0], "monetary_value": [0.0, 0.0]})])
    model = GammaGammaModel().fit(data)
    assert model.n_customers_ == 2000
    assert model.params_["p"] == pytest.approx(6.0, rel=0.15)


def test_repeat_customers_need_a_positive_spend():
    data = pd.DataFrame({"customer_id": [1, 2, 3], "frequency": [1, 2, 3], "monetary_value": [5.0, 0.0, 7.0]})
    with pytest.raises(ScoringDataError, match=r"monetary_value 0 .*customer_id 2\)"):
        GammaGammaModel().fit(data)


def test_negative_spend_is_refused():
    data = pd.DataFrame({"customer_id": [1, 2], "frequency": [1, 2], "monetary_value": [5.0, -3.0]})
    with pytest.raises(ScoringDataError, match="negative"):
        GammaGammaModel().fit(data)
