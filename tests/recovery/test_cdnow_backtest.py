"""The published CDNOW backtest: the default churn model beats every baseline on AUC and is calibrated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from winback.jobs.data import init_store, load_cdnow
from winback.jobs.models import run_backtest
from winback.jobs.workspace import Workspace
from winback.settings import Settings


@pytest.mark.slow
def test_cdnow_backtest_as_of_1997_09_30_horizon_273(tmp_path):
    ws = Workspace(settings=Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'cdnow.db'}"))
    init_store(ws)
    load_cdnow(ws)
    result = run_backtest(ws, as_of=datetime(1997, 9, 30, tzinfo=UTC), horizon_days=273)
    models = {m["name"]: m for m in result["models"]}
    assert set(models) == {"churn_model", "recency", "rfm_score", "bgnbd_expected_purchases"}
    default = [m for m in result["models"] if m["default"]]
    assert [m["name"] for m in default] == ["churn_model"] and not default[0]["baseline"]
    best_baseline = max(m["auc"] for m in result["models"] if m["baseline"])
    assert default[0]["auc"] >= best_baseline
    assert default[0]["ece"] <= 0.03
    for m in result["models"]:
        assert set(m) >= {"name", "auc", "pr_auc", "brier", "ece", "lift_top_decile", "baseline", "default"}
    assert result["customers"] == 23_570 and result["design"] == "cross_fitted"
    assert 0.6 < result["churn_rate"] < 0.8
    assert result["forecast"]["actual_purchases"] > 0 and result["forecast"]["expected_purchases"] > 0
    card = result["model_card"]
    assert card["seed"] == 0 and card["data_hash"] and card["horizon_days"] == 273
