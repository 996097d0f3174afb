"""Scoring: buy-till-you-die models (one per module), the transaction summary they read, and CLV."""

from winback.scoring.base import ConvergenceError, ModelNotFittedError, ScoringDataError
from winback.scoring.bg_nbd import BetaGeoModel
from winback.scoring.clv import customer_lifetime_value
from winback.scoring.gamma_gamma import GammaGammaModel, IndependenceCheck, frequency_spend_correlation
from winback.scoring.mbg_nbd import ModifiedBetaGeoModel
from winback.scoring.pareto_nbd import ParetoNBDModel
from winback.scoring.sbg import ShiftedBetaGeoModel
from winback.scoring.summary import calibration_and_holdout_data, summary_from_transactions

__all__ = [
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "IndependenceCheck",
    "ModelNotFittedError",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "ScoringDataError",
    "ShiftedBetaGeoModel",
    "calibration_and_holdout_data",
    "customer_lifetime_value",
    "frequency_spend_correlation",
    "summary_from_transactions",
]
