"""The public names of winback.scoring."""

from __future__ import annotations

import winback.scoring as scoring


def test_every_public_name_is_exported_and_exists():
    assert sorted(scoring.__all__) == scoring.__all__
    for name in scoring.__all__:
        assert getattr(scoring, name) is not None
    assert {"BetaGeoModel", "ModifiedBetaGeoModel", "ParetoNBDModel", "GammaGammaModel", "ShiftedBetaGeoModel",
            "summary_from_transactions", "calibration_and_holdout_data", "customer_lifetime_value"} <= set(
        scoring.__all__)


def test_errors_belong_to_the_winback_tree():
    from winback.domain.errors import UserError

    for name in ("ScoringDataError", "ModelNotFittedError", "ConvergenceError"):
        assert issubclass(getattr(scoring, name), UserError)
