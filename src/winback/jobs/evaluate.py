"""`winback datasets evaluate`: score a generated world as of its end and compare with its ground truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from winback.domain.errors import UserError
from winback.features.execute import compute_features
from winback.features.source import read_history
from winback.jobs.workspace import Workspace
from winback.scoring.evidence import reason_evidence
from winback.scoring.profile import add_reasons, build_profiles
from winback.segments.lifecycle import load_rules


def latest_world(ws: Workspace) -> Path:
    worlds = sorted((ws.home / "datasets").glob("world-*/truth/truth.csv"), key=lambda p: p.stat().st_mtime)
    if not worlds:
        raise UserError("no generated world found: run `winback datasets generate --load` first, or name its folder")
    return worlds[-1].parent.parent


def _confusion(truth: pd.Series, predicted: pd.Series) -> dict[str, dict[str, int]]:
    table = pd.crosstab(truth.fillna("none"), predicted.fillna("none"))
    return {str(t): {str(p): int(n) for p, n in row.items() if n} for t, row in table.iterrows()}


def evaluate_world(ws: Workspace, directory: Path | None = None, *, rules: str | None = None) -> dict[str, Any]:
    """Dormancy-type and churn-reason accuracy of the scores against the world's ground truth."""
    directory = directory or latest_world(ws)
    truth_path = directory / "truth" / "truth.csv"
    if not truth_path.exists():
        raise UserError(f"{directory}: no truth/truth.csv (is it a folder written by `winback datasets generate`?)")
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False).replace({"": None})
    meta = json.loads((directory / "truth" / "world.json").read_text())
    as_of = datetime.fromisoformat(meta["observed_until"].replace("Z", "+00:00")).astimezone(UTC)

    history = read_history(ws.ready_engine())
    features = compute_features(history, as_of=as_of)
    features = features[features["customer_id"].isin(truth["customer_id"])]
    if len(features) < len(truth):
        raise UserError(f"{len(truth) - len(features)} of the world's customers are not in the store: "
                        f"load it first (winback datasets load {directory})")
    profiles = build_profiles(features, rules=load_rules(rules), as_of=as_of)
    profiles = add_reasons(profiles, reason_evidence(history, as_of=as_of), features)
    merged = truth.merge(profiles, on="customer_id", suffixes=("_true", ""))

    typed = merged[merged["dormancy_type_true"].notna()]
    untyped = merged[merged["dormancy_type_true"].isna()]
    result: dict[str, Any] = {
        "world": str(directory),
        "as_of": as_of.isoformat(),
        "customers": len(merged),
        "dormancy_type_accuracy": round(float((typed["dormancy_type_true"] == typed["dormancy_type"]).mean()), 4),
        "dormancy_typed_customers": len(typed),
        "dormancy_false_type_rate": round(float(untyped["dormancy_type"].isin(
            ["natural_cycle", "content_fatigue", "bad_experience", "channel_shift"]).mean()), 4),
        "dormancy_confusion": _confusion(typed["dormancy_type_true"], typed["dormancy_type"]),
    }
    if "churn_reason" in profiles:
        left = merged[merged["dropped_out"] == "true"]
        labelled = left[left["churn_reason"].notna()]
        result.update({
            "reason_accuracy": round(float((labelled["churn_reason_true"] == labelled["churn_reason"]).mean()), 4)
            if len(labelled) else None,
            "reason_labelled_customers": len(labelled),
            "reason_coverage": round(len(labelled) / len(left), 4) if len(left) else None,
            "reason_confusion": _confusion(labelled["churn_reason_true"], labelled["churn_reason"]),
        })
    return result
