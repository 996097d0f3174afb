"""`winback score`: read the history, compute features and profiles as of a date, write them back."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from winback.features.customer import customer_features
from winback.features.source import read_history
from winback.jobs.workspace import Workspace
from winback.scoring.profile import build_profiles, distribution
from winback.segments.lifecycle import StageRules, load_rules, transitions
from winback.store import tables as t
from winback.store.bulk import insert_rows
from winback.store.db import write_transaction

PROFILE_VALUE_COLUMNS = tuple(name for name, _ in t._PROFILE_COLUMNS)


def compute_features(history: dict[str, pa.Table], *, as_of: datetime) -> pd.DataFrame:
    """The feature table, executed in-process by DuckDB."""
    con = ibis.duckdb.connect()
    try:
        tables = {name: con.create_table(name, data) for name, data in history.items()}
        return customer_features(tables, as_of=as_of).to_pyarrow().to_pandas()
    finally:
        con.disconnect()


def score(ws: Workspace, *, as_of: datetime | None = None, rules: str | Path | None = None) -> dict[str, Any]:
    """Score every customer as of a date (default now) and store profiles, history and stage changes."""
    engine = ws.ready_engine()
    as_of = as_of or ws.clock()
    stage_rules = load_rules(rules)
    started = ws.clock()
    features = compute_features(read_history(engine), as_of=as_of)
    profiles = build_profiles(features, rules=stage_rules, as_of=as_of)
    run_id = uuid.uuid4().hex
    changes = _write(engine, profiles, run_id=run_id, as_of=as_of, rules=stage_rules, started=started,
                     finished=ws.clock())
    return {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "rules": stage_rules.name,
        "customers": len(profiles),
        "stage_changes": changes,
        "stages": distribution(profiles, "stage"),
        "segments": distribution(profiles, "rfm_segment"),
        "reasons": distribution(profiles, "churn_reason") if "churn_reason" in profiles else {},
        "dormancy_types": distribution(profiles, "dormancy_type"),
    }


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
