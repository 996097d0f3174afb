"""The models' data contract (clear errors, the caller's data left alone) and the maximum-likelihood machinery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from winback.domain.errors import UserError
from winback.scoring import BetaGeoModel, ModelNotFittedError, ParetoNBDModel, ScoringDataError
from winback.scoring.base import maximise_likelihood


def _frame(**overrides) -> pd.DataFrame:
    data = {"customer_id": ["a", "b", "c"], "frequency": [2, 0, 5], "recency": [10.0, 0.0, 30.0],
            "T": [40.0, 35.0, 38.0]}
    data.update(overrides)
    return pd.DataFrame(data)


@pytest.mark.parametrize(("data", "message"), [
    (_frame().drop(columns="T"), r"needs columns customer_id, frequency, recency, T; missing: T \(found: "),
    (_frame(customer_id=["a", "b", "a"]),
     r"customer_id must be unique, but 1 ids appear more than once \(first: 'a'\)"),
    (_frame(recency=[10.0, 0.0, -1.0]), r"column 'recency' has 1 negative values \(first: customer_id 'c'\)"),
    (_frame(frequency=[2, -1, 5]), "column 'frequency' has 1 negative values"),
    (_frame(frequency=[2.5, 0, 5]),
     r"frequency counts repeat purchases and must be a whole number \(first: customer_id 'a'"),
    (_frame(recency=[50.0, 0.0, 30.0]), r"recency exceeds T for 1 customers \(first: customer_id 'a'\)"),
    (_frame(recency=[10.0, 3.0, 30.0]),
     r"1 customers have frequency 0 but a non-zero recency \(first: customer_id 'b'\)"),
    (_frame(T=[40.0, np.nan, 38.0]), r"column 'T' has 1 missing or infinite values \(first: customer_id 'b'\)"),
    (_frame(T=["40", "35", "38"]), "column 'T' must be numeric"),
    (_frame().iloc[0:0], "the data has no rows"),
])
def test_fit_explains_what_is_wrong(data, message):
    with pytest.raises(ScoringDataError, match=message) as caught:
        BetaGeoModel().fit(data)
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_other_inputs_are_refused():
    with pytest.raises(ScoringDataError, match="expected a pandas DataFrame or a pyarrow Table, got dict"):
        BetaGeoModel().fit({"frequency": [1]})


def test_arrow_tables_are_checked_the_same_way():
    table = pa.Table.from_pandas(_frame(customer_id=[1, 2, 1]), preserve_index=False)
    with pytest.raises(ScoringDataError, match=r"ids appear more than once \(first: 1\)"):
        BetaGeoModel().fit(table)
    with pytest.raises(ScoringDataError, match="missing or infinite"):
        BetaGeoModel().fit(pa.table({"customer_id": [1, 2], "frequency": [1, None], "recency": [1.0, 0.0],
                                     "T": [2.0, 2.0]}))


def test_predictions_check_values_but_not_ids():
    model = BetaGeoModel.from_params({"r": 0.2, "alpha": 4.0, "a": 0.8, "b": 2.4})
    assert len(model.probability_alive(_frame(customer_id=["a", "a", "a"]))) == 3
    with pytest.raises(ScoringDataError, match="recency exceeds T"):
        model.probability_alive(_frame(recency=[50.0, 0.0, 30.0]).drop(columns="customer_id"))
    with pytest.raises(ScoringDataError, match=r"\(first: row 0\)"):
        model.probability_alive(_frame(recency=[50.0, 0.0, 30.0]).drop(columns="customer_id"))
    with pytest.raises(ScoringDataError, match="horizon t must be ≥ 0"):
        model.expected_purchases(_frame(), -1.0)


def test_fit_leaves_the_callers_data_alone():
    data = _frame()
    before = data.copy()
    BetaGeoModel().fit(pd.concat([data] * 20, ignore_index=True).assign(customer_id=range(60)))
    BetaGeoModel.from_params({"r": 0.2, "alpha": 4.0, "a": 0.8, "b": 2.4}).expected_purchases(data, 10)
    pd.testing.assert_frame_equal(data, before)


def test_unfitted_models_say_so():
    with pytest.raises(ModelNotFittedError, match="call fit"):
        ParetoNBDModel().probability_alive(_frame())
    assert repr(ParetoNBDModel()) == "ParetoNBDModel(unfitted)"


def test_from_params_needs_exactly_the_papers_parameters():
    with pytest.raises(ScoringDataError, match="takes parameters r, alpha, a, b"):
        BetaGeoModel.from_params({"r": 1.0, "alpha": 1.0})
    with pytest.raises(ScoringDataError, match="positive and finite: alpha"):
        BetaGeoModel.from_params({"r": 1.0, "alpha": -1.0, "a": 1.0, "b": 1.0})
    model = BetaGeoModel.from_params({"r": 1.0, "alpha": 2.0, "a": 3.0, "b": 4.0})
    assert model.n_customers_ == 0 and np.isnan(model.log_likelihood_)
    assert "alpha=2" in repr(model)


def test_maximum_likelihood_gives_the_normal_mean_and_its_standard_error():
    # a normal sample's mean μ > 0: the MLE is the sample mean, its standard error σ/√n
    rng = np.random.default_rng(11)
    sample = rng.normal(5.0, 2.0, 400)

    def log_likelihood(theta):
        return -0.5 * ((sample - theta[0]) / 2.0) ** 2

    def value_and_gradient(theta):
        return float(log_likelihood(theta).sum()), np.array([((sample - theta[0]) / 4.0).sum()])

    for vg in (value_and_gradient, None):
        estimate = maximise_likelihood(log_likelihood, weights=np.ones(len(sample)), initial=np.array([1.0]),
                                       value_and_gradient=vg, owner="test")
        assert estimate.params[0] == pytest.approx(sample.mean(), rel=1e-8)
        assert estimate.standard_errors[0] == pytest.approx(2.0 / np.sqrt(len(sample)), rel=1e-4)


def test_a_likelihood_that_cannot_be_maximised_is_reported():
    from winback.scoring import ConvergenceError

    def log_likelihood(theta):
        return np.array([np.log(theta[0])])  # grows without bound

    with pytest.raises(ConvergenceError, match="ran to its bound"):
        maximise_likelihood(log_likelihood, weights=np.ones(1), initial=np.array([1.0]), owner="test")
