"""`winback models …`: backtests over the store's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from winback.domain.errors import UserError
from winback.features.execute import compute_features
from winback.features.source import read_history
from winback.jobs.workspace import Workspace
from winback.scoring.backtest import backtest


def run_backtest(ws: Workspace, *, as_of: datetime, horizon_days: int, seed: int = 0) -> dict[str, Any]:
    if horizon_days < 1:
        raise UserError("--horizon must be at least 1 day")
    history = read_history(ws.ready_engine(), ("customers", "orders", "events", "feedback", "subscriptions"))
    if history["orders"].num_rows == 0:
        raise UserError("there are no orders in the store to backtest on")
    return backtest(lambda date: compute_features(history, as_of=date), history["orders"], as_of=as_of,
                    horizon_days=horizon_days, seed=seed)
