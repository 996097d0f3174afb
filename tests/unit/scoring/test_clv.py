"""Discounted CLV against lifetimes 0.11.3 (`GammaGammaFitter.customer_lifetime_value`, time=12 months, 1 %)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from winback.scoring import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    ScoringDataError,
    customer_lifetime_value,
)

WEEKS_PER_MONTH = 4.345  # lifetimes' factor for freq="W"


@pytest.fixture
def spend(reference_params) -> GammaGammaModel:
    return GammaGammaModel.from_params(reference_params["gg"])


@pytest.mark.parametrize(("name", "cls"), [("bg", BetaGeoModel), ("pareto", ParetoNBDModel)])
def test_clv_matches_lifetimes(name, cls, spend, cdnow_rows, reference_params, lifetimes_reference):
    model = cls.from_params(reference_params[name])
    clv = customer_lifetime_value(model, spend, cdnow_rows, horizon=12, discount_rate=0.01,
                                  period_length=WEEKS_PER_MONTH)
    np.testing.assert_allclose(clv, lifetimes_reference[name]["clv"], rtol=1e-9)


def test_without_discount_clv_is_spend_times_expected_purchases(spend, cdnow_rows, reference_params):
    model = BetaGeoModel.from_params(reference_params["bg"])
    clv = customer_lifetime_value(model, spend, pa.Table.from_pandas(cdnow_rows), horizon=6, discount_rate=0.0,
                                  period_length=10.0)
    expected = spend.expected_spend(cdnow_rows) * model.expected_purchases(cdnow_rows, 60.0)
    np.testing.assert_allclose(clv, expected, rtol=1e-12)


def test_discounting_lowers_the_value(spend, cdnow_rows, reference_params):
    model = BetaGeoModel.from_params(reference_params["bg"])
    low, high = (customer_lifetime_value(model, spend, cdnow_rows, horizon=24, discount_rate=d, period_length=4.0)
                 for d in (0.05, 0.0))
    assert np.all(low < high) and np.all(low > 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"horizon": 0, "discount_rate": 0.01, "period_length": 4.0}, "horizon"),
    ({"horizon": 2.5, "discount_rate": 0.01, "period_length": 4.0}, "horizon"),
    ({"horizon": 12, "discount_rate": -0.1, "period_length": 4.0}, "discount_rate"),
    ({"horizon": 12, "discount_rate": 0.01, "period_length": 0.0}, "period_length"),
])
def test_bad_arguments_are_refused(kwargs, message, spend, cdnow_rows, reference_params):
    model = BetaGeoModel.from_params(reference_params["bg"])
    with pytest.raises(ScoringDataError, match=message):
        customer_lifetime_value(model, spend, cdnow_rows, **kwargs)


def test_data_needs_monetary_value(spend, cdnow_rows, reference_params):
    model = BetaGeoModel.from_params(reference_params["bg"])
    with pytest.raises(ScoringDataError, match="missing: monetary_value"):
        customer_lifetime_value(model, spend, cdnow_rows.drop(columns="monetary_value"), horizon=12,
                                discount_rate=0.01, period_length=4.345)
