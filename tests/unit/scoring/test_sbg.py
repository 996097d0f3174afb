"""Shifted-beta-geometric: the survival maths, the closed forms against direct sums, the fit's data contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.special import betaln

from winback.scoring import ModelNotFittedError, ScoringDataError, ShiftedBetaGeoModel

ALIVE = [1000, 631, 468, 382, 326, 289, 262, 241]  # F&H (2007) Table 1, regular segment


@pytest.fixture
def model() -> ShiftedBetaGeoModel:
    return ShiftedBetaGeoModel.from_params({"alpha": 0.704, "beta": 1.182})


def test_survival_churn_and_retention_agree(model):
    t = np.arange(1, 30)
    S = model.survival(np.arange(0, 30))
    assert S[0] == 1.0 and np.all(np.diff(S) < 0)
    np.testing.assert_allclose(model.churn_probability(t), S[:-1] - S[1:], rtol=1e-12)
    np.testing.assert_allclose(model.retention_rate(t), S[1:] / S[:-1], rtol=1e-12)
    assert np.all(np.diff(model.retention_rate(t)) > 0)  # the cohort sorts itself: retention rises


def test_survival_is_the_beta_function_ratio(model):
    assert model.survival(3)[()] == pytest.approx(np.exp(betaln(0.704, 1.182 + 3) - betaln(0.704, 1.182)))


def test_discounted_lifetimes_equal_their_sums(model):
    d, t = 0.1, np.arange(0, 5_000)
    S = model.survival(t)
    assert model.discounted_expected_lifetime(discount_rate=d) == pytest.approx(np.sum(S / (1 + d) ** t), rel=1e-9)
    for renewals in (0, 1, 4):
        n = renewals + 1
        k = t[t >= n]
        direct = np.sum(model.survival(k) / model.survival(n - 1) / (1 + d) ** (k - n))
        derl = model.discounted_expected_residual_lifetime(discount_rate=d, renewals=renewals)
        assert derl == pytest.approx(direct, rel=1e-9)


def test_expected_lifetime_is_infinite_below_alpha_one(model):
    assert model.expected_lifetime() == float("inf")
    finite = ShiftedBetaGeoModel.from_params({"alpha": 3.0, "beta": 2.0})
    assert finite.expected_lifetime() == pytest.approx(np.sum(finite.survival(np.arange(0, 200_000))), rel=1e-4)


def test_fit_from_a_table_equals_fit_from_counts():
    table = pd.DataFrame({"period": range(len(ALIVE))[::-1], "alive": ALIVE[::-1]})  # any row order
    a = ShiftedBetaGeoModel().fit(table)
    b = ShiftedBetaGeoModel().fit_retention(ALIVE)
    c = ShiftedBetaGeoModel().fit(pa.Table.from_pandas(table, preserve_index=False))
    assert a.params_ == pytest.approx(b.params_) == c.params_
    assert a.n_customers_ == 1000 and a.log_likelihood_ < 0


@pytest.mark.parametrize(("alive", "message"), [
    ([1000], "at least periods 0 and 1"),
    ([1000, 1100], "must not increase"),
    ([0, 0], "empty"),
    ([100, 50.5], "whole numbers"),
    ([100, -1], "whole numbers"),
])
def test_bad_survival_counts_are_refused(alive, message):
    with pytest.raises(ScoringDataError, match=message):
        ShiftedBetaGeoModel().fit_retention(alive)


def test_periods_must_run_from_zero_without_gaps():
    with pytest.raises(ScoringDataError, match=r"period must be 0, 1, …, n"):
        ShiftedBetaGeoModel().fit(pd.DataFrame({"period": [0, 2], "alive": [10, 5]}))
    with pytest.raises(ScoringDataError, match="needs columns period, alive"):
        ShiftedBetaGeoModel().fit(pd.DataFrame({"year": [0, 1], "alive": [10, 5]}))


def test_predictions_need_parameters_and_whole_periods(model):
    with pytest.raises(ModelNotFittedError):
        ShiftedBetaGeoModel().survival(1)
    with pytest.raises(ScoringDataError, match="whole numbers"):
        model.retention_rate(0)
    with pytest.raises(ScoringDataError, match="discount_rate"):
        model.discounted_expected_lifetime(discount_rate=0.0)
