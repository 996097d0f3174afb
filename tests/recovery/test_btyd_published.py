"""The buy-till-you-die models reproduce the published CDNOW and retention numbers.

Data in ./data (copied from ../shared/data): the papers' CDNOW calibration summary, the 1/10 sample's
transactions, and Fader & Hardie (2007)'s survival table. Numbers marked "lifetimes 0.11.3" were computed once with
that package on the same data and pasted here; the tests do not import it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from winback.scoring import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    calibration_and_holdout_data,
    summary_from_transactions,
)
from winback.scoring.special import Rows

DATA = Path(__file__).parent / "data"


def significant(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    """The papers' 39-week calibration summary (weeks), ID renamed to the canonical customer_id."""
    return pd.read_csv(DATA / "cdnow_customers_summary.csv").rename(columns={"ID": "customer_id"})


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    """The 1/10 sample's transactions; the papers' customer is the sample id."""
    names = ["customer", "sample_id", "date", "cds", "value"]
    return pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None, names=names, dtype={"date": str})


@pytest.fixture(scope="module")
def calibration_summary(cdnow_transactions) -> pd.DataFrame:
    """Our summary of the calibration period, 1997-01-01 … 1997-09-30, in weeks of 7 days."""
    return summary_from_transactions(cdnow_transactions, customer_id_col="sample_id", datetime_col="date",
                                     datetime_format="%Y%m%d", monetary_value_col="value",
                                     observation_period_end="1997-09-30", freq="D", freq_multiplier=7)


def test_bg_nbd_reproduces_fader_hardie_lee_2005(cdnow_summary):
    model = BetaGeoModel().fit(cdnow_summary)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert {k: significant(v, 3) for k, v in model.params_.items()} == {
        k: significant(v, 3) for k, v in published.items()}
    assert round(model.log_likelihood_, 1) == -9582.4
    assert model.n_customers_ == 2357
    # lifetimes 0.11.3 BetaGeoFitter standard errors (same delta method, autograd Hessian)
    lifetimes_se = {"r": 0.012557320698193175, "alpha": 0.3782214570439264, "a": 0.18571907191208892,
                    "b": 0.7053453435331155}
    for name, se in lifetimes_se.items():
        assert model.standard_errors_[name] == pytest.approx(se, rel=1e-4)


def test_pareto_nbd_reproduces_fader_hardie_lee_2005(cdnow_summary):
    model = ParetoNBDModel().fit(cdnow_summary)
    published = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    assert {k: round(v, 2) for k, v in model.params_.items()} == published
    assert round(model.log_likelihood_, 1) == -9595.0


def test_mbg_nbd_matches_lifetimes(cdnow_summary):
    model = ModifiedBetaGeoModel().fit(cdnow_summary)
    # lifetimes 0.11.3 ModifiedBetaGeoFitter().fit(frequency, recency, T) on this file
    lifetimes = {"r": 0.5248377255676623, "alpha": 6.182988479133949, "a": 0.8913562809311403,
                 "b": 1.6140000256721425}
    for name, value in lifetimes.items():
        assert model.params_[name] == pytest.approx(value, rel=1e-4)
    # and no worse an optimum than lifetimes' own
    x, t_x, T = (cdnow_summary[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    at_lifetimes = ModifiedBetaGeoModel()._log_likelihood(np.array(list(lifetimes.values())), Rows.of(x, t_x, T))
    assert model.log_likelihood_ >= at_lifetimes.sum() - 1e-9
    lifetimes_se = {"r": 0.08326394529766962, "alpha": 0.6955971916027849, "a": 0.15478532069900933,
                    "b": 0.5374723507888486}
    for name, se in lifetimes_se.items():
        assert model.standard_errors_[name] == pytest.approx(se, rel=1e-3)
    assert np.all(model.probability_alive(cdnow_summary[cdnow_summary["frequency"] == 0]) < 1)


def test_our_summary_reproduces_the_papers_calibration_summary(calibration_summary, cdnow_summary):
    ours = calibration_summary.set_index("customer_id").sort_index()
    theirs = cdnow_summary.set_index("customer_id").sort_index()
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_array_equal(ours["frequency"], theirs["frequency"])
    # the file rounds weeks (days / 7) to 2 decimals
    np.testing.assert_array_equal(ours["recency"].round(2), theirs["recency"])
    np.testing.assert_array_equal(ours["T"].round(2), theirs["T"])


def test_gamma_gamma_reproduces_fader_hardie_lee_2005_rfm_and_clv(calibration_summary):
    model = GammaGammaModel().fit(calibration_summary)
    assert model.n_customers_ == 946
    assert {k: round(v, 2) for k, v in model.params_.items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
    assert round(model.independence_.correlation, 2) == 0.11  # FHL (2005) report 0.11
    assert not model.independence_.suspect


def test_summary_matches_lifetimes_on_the_whole_sample(cdnow_transactions):
    # lifetimes 0.11.3 summary_data_from_transaction_data(..., observation_period_end="1998-06-30", freq=...)
    daily = summary_from_transactions(cdnow_transactions, customer_id_col="sample_id", datetime_col="date",
                                      datetime_format="%Y%m%d", monetary_value_col="value",
                                      observation_period_end="1998-06-30")
    assert (len(daily), daily["frequency"].sum(), daily["recency"].sum(), daily["T"].sum()) == (
        2357, 4339, 307464.0, 1183240.0)
    assert daily["monetary_value"].sum() == pytest.approx(40758.44137790224, rel=1e-12)
    row = daily.set_index("customer_id").loc[157]
    assert (row["frequency"], row["recency"], row["T"]) == (43, 520.0, 539.0)
    assert row["monetary_value"] == pytest.approx(25.853488, rel=1e-6)
    weekly = summary_from_transactions(cdnow_transactions, customer_id_col="sample_id", datetime_col="date",
                                       datetime_format="%Y%m%d", observation_period_end="1998-06-30", freq="W")
    assert (weekly["frequency"].sum(), weekly["recency"].sum(), weekly["T"].sum()) == (4004, 43920.0, 169671.0)


def test_calibration_and_holdout_match_lifetimes(cdnow_transactions):
    # lifetimes 0.11.3 calibration_and_holdout_data(..., "1997-09-30", "1998-06-30", freq="D")
    ch = calibration_and_holdout_data(cdnow_transactions, customer_id_col="sample_id", datetime_col="date",
                                      datetime_format="%Y%m%d", monetary_value_col="value",
                                      calibration_period_end="1997-09-30", observation_period_end="1998-06-30")
    assert (len(ch), ch["frequency_cal"].sum(), ch["recency_cal"].sum(), ch["T_cal"].sum()) == (
        2357, 2457, 112949.0, 539779.0)
    assert ch["monetary_value_cal"].sum() == pytest.approx(33183.643766870584, rel=1e-12)
    assert ch["frequency_holdout"].sum() == 1882 and set(ch["duration_holdout"]) == {273.0}
    # lifetimes averages raw holdout transactions (sum 24901.08); we average occasions, like the calibration
    assert ch["monetary_value_holdout"].sum() == pytest.approx(25495.94028183697, rel=1e-12)


@pytest.mark.parametrize(("segment", "alpha", "beta"), [("regular", 0.704, 1.182), ("high_end", 0.668, 3.806)])
def test_sbg_reproduces_fader_hardie_2007(segment, alpha, beta):
    table = pd.read_csv(DATA / "retention.csv")
    model = ShiftedBetaGeoModel().fit(table.rename(columns={"year": "period", f"{segment}_alive": "alive"}))
    assert (round(model.params_["alpha"], 3), round(model.params_["beta"], 3)) == (alpha, beta)
    assert model.n_customers_ == 1000
