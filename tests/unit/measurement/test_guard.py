"""The complaint-rate guard's decision: nothing under 0.08 % or under the minimum volume, an alert from 0.08 %, a
pause from 0.2 %."""

from __future__ import annotations

from datetime import timedelta

import pytest

from winback.measurement.guard import GuardLimits, decide


@pytest.mark.parametrize(("complaints", "action"), [(0, "none"), (7, "none"), (8, "alert"), (19, "alert"),
                                                    (20, "pause"), (300, "pause")])
def test_thresholds_on_ten_thousand_delivered(complaints, action):
    got = decide("shop.example", delivered=10_000, complaints=complaints)
    assert got.action == action
    assert got.rate == complaints / 10_000 and got.domain == "shop.example"
    assert not got.alerted and got.paused == []  # deciding writes nothing


def test_below_the_minimum_volume_nothing_happens():
    got = decide("shop.example", delivered=999, complaints=50)
    assert got.action == "none" and "fewer than 1,000" in got.reason
    assert decide("shop.example", delivered=0, complaints=0).rate is None


def test_limits_can_be_changed():
    limits = GuardLimits(alert_rate=0.01, pause_rate=0.05, min_delivered=10, window=timedelta(days=7))
    assert decide("d", delivered=100, complaints=1).action == "none"  # the defaults: too few delivered
    assert decide("d", delivered=100, complaints=1, limits=limits).action == "alert"
    assert decide("d", delivered=100, complaints=0, limits=limits).action == "none"
    assert decide("d", delivered=100, complaints=5, limits=limits).action == "pause"
    assert decide("d", delivered=1_000, complaints=1, limits=limits).action == "none"
