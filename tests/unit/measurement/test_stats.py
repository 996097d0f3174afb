"""Wilson, Newcombe, Welch, bootstrap and sample-ratio checks against published numbers and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from winback.measurement.stats import (
    Estimate,
    mean_difference,
    rate_difference,
    sample_ratio_mismatch,
    wilson_interval,
)

# Newcombe RG (1998), Statistics in Medicine 17:873-890, Table II, method 10 (score interval, no continuity
# correction): (x1, n1, x2, n2) -> (low, high) of p1 − p2 to four decimals.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "bounds"), NEWCOMBE_TABLE_II, ids=lambda v: str(v))
def test_newcombe_method_10_matches_table_ii(counts, bounds):
    result = rate_difference(*counts)
    assert result.estimate == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert (result.low, result.high) == pytest.approx(bounds, abs=5e-5)
    assert result.method == "newcombe" and result.confidence == 0.95


def test_wilson_matches_published_values():
    # Newcombe (1998a), Statistics in Medicine 17:857-872, Table I, method 3: 0/10 -> 0 to 0.2775.
    zero = wilson_interval(0, 10)
    assert (zero.estimate, zero.low, zero.high, zero.p_value) == (0.0, 0.0, pytest.approx(0.2775, abs=5e-5), None)
    half = wilson_interval(5, 10)
    assert (half.low, half.high) == pytest.approx((0.2366, 0.7634), abs=5e-5)
    # A narrower interval at lower confidence, same centre.
    narrow = wilson_interval(5, 10, confidence=0.8)
    assert half.low < narrow.low < 0.5 < narrow.high < half.high


def test_empty_groups_give_nan_not_errors():
    empty = wilson_interval(0, 0)
    assert math.isnan(empty.estimate) and math.isnan(empty.low) and empty.p_value is None
    for args in ((0, 0, 3, 10), (3, 10, 0, 0)):
        result = rate_difference(*args)
        assert all(math.isnan(v) for v in (result.estimate, result.low, result.high))
        assert result.p_value is None


def test_rate_difference_p_value_is_the_pooled_z_test():
    result = rate_difference(120, 1000, 90, 1000)
    chi2 = sps.chi2_contingency([[120, 880], [90, 910]], correction=False)
    assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    assert 0.01 < result.p_value < 0.05 and result.low > 0


def test_rate_difference_uses_fisher_when_an_expected_cell_is_small():
    result = rate_difference(6, 7, 2, 7)
    assert result.p_value == pytest.approx(sps.fisher_exact([[6, 1], [2, 5]]).pvalue)


def test_bad_counts_and_confidence_raise():
    with pytest.raises(ValueError, match="successes"):
        rate_difference(11, 10, 1, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=95)
    with pytest.raises(ValueError, match="method"):
        mean_difference([1.0, 2.0], [1.0, 2.0], method="median")


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_welch_matches_scipy(confidence):
    rng = np.random.default_rng(20261001)
    treated, control = rng.lognormal(3.0, 1.0, 400), rng.lognormal(2.9, 1.3, 150)
    result = mean_difference(treated, control, confidence=confidence)
    reference = sps.ttest_ind(treated, control, equal_var=False)
    ci = reference.confidence_interval(confidence_level=confidence)
    assert result.estimate == pytest.approx(treated.mean() - control.mean())
    assert (result.low, result.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.method == "welch"


def test_bootstrap_roughly_matches_welch_on_normal_data():
    rng = np.random.default_rng(11)
    treated, control = rng.normal(10.5, 3.0, 800), rng.normal(10.0, 3.0, 600)
    welch = mean_difference(treated, control)
    boot = mean_difference(treated, control, method="bootstrap", resamples=4000, rng=np.random.default_rng(5))
    width = welch.high - welch.low
    assert boot.method == "bootstrap" and boot.estimate == welch.estimate and boot.p_value == welch.p_value
    assert abs(boot.low - welch.low) < 0.05 * width and abs(boot.high - welch.high) < 0.05 * width


def test_bootstrap_is_reproducible_without_a_generator():
    values = np.arange(50.0)
    first = mean_difference(values, values[::-1] * 0.9, method="bootstrap", resamples=500)
    again = mean_difference(values, values[::-1] * 0.9, method="bootstrap", resamples=500)
    assert first == again and first.low < first.estimate < first.high


def test_revenue_with_zeros_for_non_buyers():
    treated = np.r_[np.zeros(950), np.full(50, 40.0)]
    control = np.r_[np.zeros(970), np.full(30, 40.0)]
    result = mean_difference(treated, control)
    assert result.estimate == pytest.approx(0.8)
    assert result.low < 0.8 < result.high


def test_mean_difference_small_and_constant_samples():
    single = mean_difference([3.0], [1.0, 2.0])
    assert single.estimate == pytest.approx(1.5) and math.isnan(single.low) and single.p_value is None
    assert math.isnan(mean_difference([], [1.0, 2.0]).estimate)
    flat = mean_difference([2.0, 2.0, 2.0], [1.0, 1.0])
    assert (flat.estimate, flat.low, flat.high, flat.p_value) == (1.0, 1.0, 1.0, 0.0)
    same = mean_difference([0.0, 0.0], [0.0, 0.0, 0.0])
    assert (same.low, same.high, same.p_value) == (0.0, 0.0, 1.0)


def test_estimate_is_frozen_and_serialisable():
    result = rate_difference(5, 50, 2, 50)
    with pytest.raises(AttributeError):
        result.low = 0.0  # type: ignore[misc]
    assert Estimate(**result.as_dict()) == result


def test_srm_alarms_on_a_skewed_split():
    skewed = sample_ratio_mismatch({"treated": 5000, "holdout": 4700}, {"treated": 0.5, "holdout": 0.5})
    # chi-square = 2 · 150² / 4850 = 9.278 on 1 degree of freedom.
    assert skewed.p_value == pytest.approx(sps.chi2.sf(2 * 150**2 / 4850, 1))
    assert skewed.expected == {"treated": 4850.0, "holdout": 4850.0}
    assert skewed.observed == {"treated": 5000, "holdout": 4700}
    # p = 0.0023: an alarm at the 0.01 level, not at the default 0.001.
    assert sample_ratio_mismatch(skewed.observed, {"treated": 1, "holdout": 1}, threshold=0.01).alarm
    assert not skewed.alarm
    assert sample_ratio_mismatch({"treated": 5000, "holdout": 4600}, {"treated": 0.5, "holdout": 0.5}).alarm


def test_srm_no_alarm_on_a_fair_split():
    fair = sample_ratio_mismatch({"treated": 5000, "holdout": 4990}, {"treated": 0.5, "holdout": 0.5})
    assert not fair.alarm and fair.p_value > 0.9


def test_srm_unequal_shares_and_edge_cases():
    planned = {"treated": 0.9, "holdout": 0.1}
    assert not sample_ratio_mismatch({"treated": 9030, "holdout": 970}, planned).alarm
    assert sample_ratio_mismatch({"treated": 9300, "holdout": 700}, planned).alarm
    stray = sample_ratio_mismatch({"treated": 10, "holdout": 10, "other": 1}, {"treated": 0.5, "holdout": 0.5})
    assert stray.p_value == 0.0 and stray.alarm and stray.expected["other"] == 0.0
    nothing = sample_ratio_mismatch({}, planned)
    assert nothing.p_value == 1.0 and not nothing.alarm and nothing.observed == {"treated": 0, "holdout": 0}
