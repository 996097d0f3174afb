"""Fixtures for the scoring unit tests: a few CDNOW customers and the values lifetimes 0.11.3 gives for them.

The reference numbers were computed once with lifetimes 0.11.3 (BetaGeoFitter, ModifiedBetaGeoFitter,
ParetoNBDFitter, GammaGammaFitter with `params_` set to the parameters below, on these rows of its
`cdnow_customers_summary_with_transactions.csv`) and pasted here; the tests do not import lifetimes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

# ID, x, t_x, T (weeks), zbar: customers 1, 3, 6, 17, 18, 21, 157 of the CDNOW 1/10 sample (39-week calibration)
CDNOW_ROWS = [
    (1, 2, 30.43, 38.86, 22.35),
    (3, 0, 0.00, 38.86, 0.00),
    (6, 7, 29.43, 38.86, 73.74),
    (17, 10, 34.14, 38.86, 24.24),
    (18, 1, 4.86, 38.86, 9.99),
    (21, 2, 14.57, 38.71, 32.30),
    (157, 29, 37.71, 38.00, 26.26),
]

BG_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005), rounded as published
MBG_PARAMS = {"r": 0.5248, "alpha": 6.183, "a": 0.8914, "b": 1.614}  # lifetimes' MBG/NBD fit on CDNOW, rounded
PARETO_PARAMS = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}  # FHL (2005), as published
GG_PARAMS = {"p": 6.25, "q": 3.74, "v": 15.44}  # FHL (2005, "RFM and CLV"), as published

LIFETIMES = {
    "bg": {
        "p_alive": [0.726578570080673, 1.0, 0.6417563459461072, 0.8153021539783064, 0.3107825653963674,
                    0.40684625066862984, 0.9691295181593396],
        "cond10": [0.3569733602656501, 0.05429984838044943, 1.0027225865863933, 1.7951443961683384,
                   0.0852572395780726, 0.20054663018602237, 6.162868637319848],
        "cond52": [1.5587208064320972, 0.2520730222824504, 4.198855584925059, 7.449789634589906,
                   0.38070828769782483, 0.8752861913051997, 25.06032082808327],
        "uncond_39_78": [1.1967231933207985, 1.8605190579427455],
        "clv": [36.28921112559952, 8.369004358920185, 283.5327763170908, 173.89884786293683, 6.350332597057609,
                27.12109167583634, 625.3341503463334],
    },
    "mbg": {
        "p_alive": [0.7061177324453506, 0.38972279165330515, 0.622629398938287, 0.8025208173215821,
                    0.25583082809006163, 0.36625057601833694, 0.9658416020498938],
        "cond10": [0.3729123557857063, 0.04359177234647402, 0.9651717590548841, 1.7336507978449582,
                   0.08218950993602021, 0.19403283576740443, 5.91395461868792],
        "cond52": [1.596769851896141, 0.19761699135118568, 3.9635619783980407, 7.053288786245833,
                   0.35953206439073687, 0.8304237879089369, 23.548619487609297],
        "uncond_39_78": [1.182166163730731, 1.8034481237396163],
    },
    "pareto": {
        "p_alive": [0.8684109171320921, 0.29377395046742055, 0.7482541636443177, 0.9007725084082663,
                    0.2500676042806464, 0.42257365942596403, 0.9961006562817996],
        "cond10": [0.42341705211483155, 0.03089433576039591, 1.0801870914920957, 1.817065036774216,
                   0.07411259514692971, 0.20663185299522055, 5.722558706180392],
        "cond52": [1.8442418805808989, 0.1345638480960331, 4.704879652443306, 7.914436661963863,
                   0.322805969116795, 0.8996680935032125, 24.87063230596268],
        "uncond_39_78": [1.2023523628319928, 1.8899983705311565],
        "clv": [42.93767720226241, 4.473704980853623, 317.4186890962128, 184.54341704275637, 5.387291000790723,
                27.877261667988815, 619.6761215451988],
    },
    "gg": {
        "spend": [24.663713910761157, 35.21897810218978, 71.46967089696707, 24.701103617412628, 17.6793659621802,
                  32.824803149606296, 26.39341812055003],
    },
}


@pytest.fixture
def cdnow_rows() -> pd.DataFrame:
    """Seven CDNOW customers in the canonical columns (times in weeks)."""
    return pd.DataFrame(CDNOW_ROWS, columns=["customer_id", "frequency", "recency", "T", "monetary_value"])


@pytest.fixture
def lifetimes_reference() -> dict[str, dict[str, list[float]]]:
    return LIFETIMES


@pytest.fixture
def reference_params() -> dict[str, dict[str, float]]:
    """The parameters the lifetimes reference values were computed with, by model."""
    return {"bg": BG_PARAMS, "mbg": MBG_PARAMS, "pareto": PARETO_PARAMS, "gg": GG_PARAMS}


@pytest.fixture
def central_gradient() -> Callable[[Callable[[np.ndarray], float], np.ndarray], np.ndarray]:
    """Central-difference gradient of a scalar function, to check analytic gradients against."""

    def gradient(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        steps = np.eye(len(theta)) * h * np.maximum(np.abs(theta), 1.0)
        return np.array([(f(theta + e) - f(theta - e)) / (2 * e.max()) for e in steps])

    return gradient
