"""The mixture SPRT: always-valid p-values and confidence sequences, and picking a winner among variants."""

from __future__ import annotations

import numpy as np
import pytest

from winback.measurement.experiments import (
    DEFAULT_TAU2,
    auto_winner,
    mixture_p_values,
    pair_key,
    pairwise_tests,
    sequential_test,
)


def test_identical_arms_are_never_decided():
    previous = 1.0
    for n in range(10, 20_001, 10):
        result = sequential_test(n // 20, n, n // 20, n, previous_p=previous)
        previous = result.p_value
        assert not result.decided and result.winner is None
        assert result.low < 0 < result.high
    assert previous == 1.0


def test_a_large_true_difference_is_decided_for_the_better_arm():
    b_better = sequential_test(200, 2000, 400, 2000, names=("control", "variant"))
    assert b_better.decided and b_better.winner == "variant" and b_better.p_value < 1e-6
    assert 0 < b_better.low < 0.1 < b_better.high
    a_better = sequential_test(400, 2000, 200, 2000, names=("control", "variant"))
    assert a_better.winner == "control" and a_better.high < 0


def test_p_value_is_the_running_minimum_across_looks():
    rng = np.random.default_rng(3)
    x_a = np.cumsum(rng.binomial(50, 0.05, 100))
    x_b = np.cumsum(rng.binomial(50, 0.07, 100))
    n = 50 * np.arange(1, 101)
    previous, seen = 1.0, []
    for xa, xb, nn in zip(x_a, x_b, n, strict=True):
        result = sequential_test(int(xa), int(nn), int(xb), int(nn), previous_p=previous)
        previous = result.p_value
        seen.append(previous)
    assert (np.diff(seen) <= 0).all()
    assert 0.0 <= seen[-1] < seen[0] <= 1.0
    raw = mixture_p_values(x_a, n, x_b, n, tau2=DEFAULT_TAU2)
    assert seen[-1] == pytest.approx(raw.min())
    assert (np.diff(raw) > 0).any()  # the raw 1/Λ goes up and down; only the running minimum is monotone


def test_confidence_sequence_excludes_zero_exactly_when_decided():
    decisions = set()
    for x_b in range(60, 180, 7):
        result = sequential_test(100, 1000, x_b, 1000)
        assert result.decided == (not result.low <= 0 <= result.high), x_b
        assert result.low < x_b / 1000 - 0.1 < result.high
        decisions.add(result.decided)
    assert decisions == {True, False}


def test_the_confidence_sequence_is_wider_than_a_fixed_horizon_interval():
    # A 95 % Wald interval on 100/1000 vs 130/1000 has half-width 1.96 · 0.0141 = 0.028.
    result = sequential_test(100, 1000, 130, 1000)
    assert result.high - result.low > 2 * 0.028


def test_empty_arm_keeps_the_previous_p_value_and_bad_input_raises():
    kept = sequential_test(0, 0, 5, 50, previous_p=0.3)
    assert (kept.p_value, kept.low, kept.high, kept.decided) == (0.3, -1.0, 1.0, False)
    with pytest.raises(ValueError, match="tau2"):
        sequential_test(1, 10, 1, 10, tau2=0.0)
    with pytest.raises(ValueError, match="conversions"):
        sequential_test(11, 10, 1, 10)


def test_a_larger_mixing_variance_changes_the_evidence():
    small = sequential_test(100, 5000, 160, 5000, tau2=1e-6)
    default = sequential_test(100, 5000, 160, 5000)
    assert small.p_value != default.p_value and 0 < default.p_value < 1


def test_auto_winner_needs_enough_observations_and_a_clear_best():
    arms = {"a": (100, 1000), "b": (200, 1000), "c": (95, 1000)}
    assert auto_winner(arms) == "b"
    assert auto_winner(arms, min_per_arm=1001) is None
    assert auto_winner({"a": (100, 1000), "b": (200, 1000), "c": (205, 1000)}) is None
    assert auto_winner({"a": (100, 1000), "b": (100, 1000)}) is None
    assert auto_winner({"a": (100, 1000)}) is None


def test_auto_winner_corrects_for_the_number_of_pairs():
    two = {"a": (75, 750), "b": (148, 750)}
    p = sequential_test(75, 750, 148, 750).p_value
    assert 0.05 / 3 < p < 0.05  # decided alone, not at the Bonferroni level of three pairs
    assert auto_winner(two) == "b"
    assert auto_winner({**two, "c": (75, 750)}) is None


def test_pairwise_tests_carry_previous_p_values():
    arms = {"b": (120, 1000), "a": (100, 1000)}
    first = pairwise_tests(arms)
    assert list(first) == [pair_key("b", "a")] == ["a vs b"]
    later = pairwise_tests(arms, previous={"a vs b": 0.001})
    assert later["a vs b"].p_value == 0.001 and later["a vs b"].decided and later["a vs b"].winner == "b"
    assert auto_winner(arms, previous={"a vs b": 0.001}) == "b"
