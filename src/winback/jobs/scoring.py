"""`winback score`: read the history, compute features and profiles as of a date, write them back."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc
import sqlalchemy as sa

from winback.features.execute import compute_features
from winback.features.source import read_history
from winback.jobs.workspace import Workspace
from winback.scoring.backtest import churn_labels
from winback.scoring.evidence import reason_evidence
from winback.scoring.profile import add_reasons, build_profiles, distribution
from winback.scoring.risk import RiskResult, risk_and_value
from winback.scoring.value import buyers
from winback.segments.lifecycle import StageRules, load_rules, transitions
from winback.store import tables as t
from winback.store.bulk import insert_rows
from winback.store.db import write_transaction

PROFILE_VALUE_COLUMNS = tuple(name for name, _ in t._PROFILE_COLUMNS)


def _risk(history: dict[str, Any], features: pd.DataFrame, *, as_of: datetime, horizon_days: int) -> RiskResult:
    """Train the churn model on the last completed horizon when the history reaches back that far."""
    orders = history["orders"]
    start = as_of - timedelta(days=horizon_days)
    first = pc.min(orders["ordered_at"]).as_py() if orders.num_rows else None
    before = churned = None
    if first is not None and first < start:
        before = buyers(compute_features(history, as_of=start)).reset_index(drop=True)
        churned = churn_labels(orders, before["customer_id"], as_of=start, horizon_days=horizon_days)
    return risk_and_value(features, before=before, churned_before=churned, horizon_days=horizon_days)


def score(ws: Workspace, *, as_of: datetime | None = None, rules: str | Path | None = None,
          horizon_days: int = 90) -> dict[str, Any]:
    """Score every customer as of a date (default now) and store profiles, history and stage changes."""
    engine = ws.ready_engine()
    as_of = as_of or ws.clock()
    stage_rules = load_rules(rules)
    started = ws.clock()
    history = read_history(engine)
    features = compute_features(history, as_of=as_of)
    profiles = build_profiles(features, rules=stage_rules, as_of=as_of)
    risk = _risk(history, features, as_of=as_of, horizon_days=horizon_days)
    profiles = profiles.merge(risk.scores, on="customer_id", how="left")
    for explanation, drivers in zip(profiles["explanation"], profiles.pop("churn_drivers"), strict=True):
        explanation["churn_drivers"] = drivers or []
    profiles = add_reasons(profiles, reason_evidence(history, as_of=as_of), features)
    run_id = uuid.uuid4().hex
    changes = _write(engine, profiles, run_id=run_id, as_of=as_of, rules=stage_rules, started=started,
                     finished=ws.clock())
    summary = {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "rules": stage_rules.name,
        "customers": len(profiles),
        "stage_changes": changes,
        "stages": distribution(profiles, "stage"),
        "segments": distribution(profiles, "rfm_segment"),
        "reasons": distribution(profiles, "churn_reason") if "churn_reason" in profiles else {},
        "dormancy_types": distribution(profiles, "dormancy_type"),
        "value_tiers": distribution(profiles, "value_tier"),
        "churn_probability": {"method": risk.method, "horizon_days": horizon_days,
                              "mean": _mean(profiles["p_churn"]), "transaction_model": risk.transaction_model,
                              "notes": risk.notes},
        "value_at_risk": _by_currency(profiles, features),
        "model_card": risk.model_card,
    }
    with write_transaction(engine) as conn:  # the run's summary and model card stay with the run
        conn.execute(t.score_runs.update().where(t.score_runs.c.run_id == run_id).values(summary=summary))
    return summary


def _by_currency(profiles: pd.DataFrame, features: pd.DataFrame) -> dict[str, float]:
    """Total value at risk per currency (amounts in different currencies are never added together)."""
    currency = profiles["customer_id"].map(features.set_index("customer_id")["currency"]).fillna("none")
    return {str(k): round(float(v), 2) for k, v in profiles.groupby(currency)["value_at_risk"].sum().items()}


def _mean(values: pd.Series) -> float | None:
    known = values.dropna()
    return round(float(known.mean()), 4) if len(known) else None


def _records(profiles: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    frame = profiles.reindex(columns=list(columns)).astype(object)
    frame = frame.where(pd.notna(frame), None)
    return frame.to_dict("records")


def _write(
    engine: sa.Engine, profiles: pd.DataFrame, *, run_id: str, as_of: datetime, rules: StageRules,
    started: datetime, finished: datetime,
) -> int:
    with write_transaction(engine) as conn:
        previous = pd.DataFrame(conn.execute(sa.select(t.profiles.c.customer_id, t.profiles.c.stage,
                                                       t.profiles.c.stage_since)).all(),
                                columns=["customer_id", "stage", "stage_since"])
        changed = transitions(previous, profiles)
        since = previous.set_index("customer_id")
        keep = profiles["customer_id"].map(since["stage"]) == profiles["stage"] if len(since) else None
        stage_since = [
            since.at[cid, "stage_since"] if keep is not None and keep.iat[i] else as_of
            for i, cid in enumerate(profiles["customer_id"])
        ]
        conn.execute(t.score_runs.insert().values(run_id=run_id, as_of=as_of, started_at=started,
                                                  finished_at=finished, rules=rules.model_dump(mode="json")))
        conn.execute(t.profiles.delete())
        rows = _records(profiles, ("customer_id", *PROFILE_VALUE_COLUMNS, "signals", "explanation"))
        for row, since_at in zip(rows, stage_since, strict=True):
            row.update(run_id=run_id, as_of=as_of, stage_since=since_at)
        _insert(conn, t.profiles, rows)
        history = _records(profiles, ("customer_id", *PROFILE_VALUE_COLUMNS))
        for row in history:
            row.update(run_id=run_id, as_of=as_of)
        _insert(conn, t.profile_history, history)
        _insert(conn, t.stage_transitions, [
            {"customer_id": r.customer_id, "run_id": run_id, "as_of": as_of,
             "from_stage": None if pd.isna(r.from_stage) else r.from_stage, "to_stage": r.to_stage}
            for r in changed.itertuples(index=False)
        ])
    return len(changed)


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], chunk: int = 20_000) -> None:
    if not rows:
        return
    columns = list(rows[0])
    for i in range(0, len(rows), chunk):
        insert_rows(conn, table, columns, [tuple(r[c] for c in columns) for r in rows[i:i + chunk]])
