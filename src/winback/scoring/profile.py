"""Profiles: everything winback knows about each customer as of a date, built from the features.

Pure: features (and optional text evidence and fitted models) in, one row per customer out. The jobs layer
reads the store and writes the result back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from winback.features.signals import signals_table
from winback.scoring.dormancy import dormancy_types
from winback.scoring.reasons import LABELS, ReasonClassifier, label_customers
from winback.scoring.rfm import DEFAULT_SEGMENTS, rfm_scores
from winback.segments.lifecycle import StageRules, assign_stages


def build_profiles(features: pd.DataFrame, *, rules: StageRules, as_of: datetime) -> pd.DataFrame:
    """Stage, RFM, signals and dormancy type per customer, with a short explanation of each."""
    f = features.reset_index(drop=True).copy()
    f["as_of"] = pd.Timestamp(as_of)
    signals = signals_table(f)
    f["signals"] = signals.map(lambda items: [s.code for s in items])
    stages = assign_stages(f, rules)
    rfm = rfm_scores(f, rules=rules.rfm_segments or DEFAULT_SEGMENTS)
    # "Quiet": at risk or dormant, or active only because their own long cycle stretched the thresholds.
    f["quiet"] = (stages["stage"].isin(["at_risk", "dormant"]) | (
        (stages["stage"] == "active") & (stages["silent_days"] >= rules.at_risk_days))).to_numpy()
    dormancy = dormancy_types(f, (stages["stage"] != "new").to_numpy())
    out = stages.merge(rfm, on="customer_id").merge(dormancy, on="customer_id")
    for col in ("n_orders", "revenue", "frequency", "recency_days", "t_days", "monetary_value",
                "days_since_last_order", "cadence_days", "overdue_ratio"):
        out[col] = f[col].to_numpy()
    out["signals"] = [[s.as_dict() for s in items] for items in signals]
    out["explanation"] = [_explain(row) for row in out.itertuples(index=False)]
    return out


def _explain(row: Any) -> dict[str, Any]:
    """Why this customer is where they are, in words."""
    stage_text = {
        "new": "first purchase recently",
        "active": "buying within their usual rhythm",
        "at_risk": f"silent {row.silent_days:.0f} days (at risk after {row.at_risk_after_days:.0f})",
        "dormant": f"silent {row.silent_days:.0f} days (dormant after {row.dormant_after_days:.0f})",
        "churned": f"silent {row.silent_days:.0f} days (churned after {row.churned_after_days:.0f})",
        "reactivated": "came back after a long silence",
    }[row.stage]
    return {
        "stage": stage_text,
        "signals": [s["text"] for s in row.signals],
        "dormancy": row.dormancy_evidence or [],
    }


def add_reasons(profiles: pd.DataFrame, evidence: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """churn_reason and its confidence per customer, with the evidence in the explanation."""
    profiles = profiles.copy()
    profiles["churn_reason"] = None
    profiles["churn_reason_confidence"] = None
    if evidence.empty:
        return profiles
    last_seen = features.set_index("customer_id")[["last_order_at", "last_activity_at"]].max(axis=1).dropna()
    labels = label_customers(evidence, classifier=reason_classifier(evidence),
                             last_activity=last_seen.to_dict()).set_index("customer_id")
    known = profiles["customer_id"].isin(labels.index)
    ids = profiles.loc[known, "customer_id"]
    profiles.loc[known, "churn_reason"] = labels.loc[ids, "reason"].to_numpy()
    profiles.loc[known, "churn_reason_confidence"] = labels.loc[ids, "confidence"].to_numpy(dtype=float)
    for i in profiles.index[known]:
        cid = profiles.at[i, "customer_id"]
        profiles.at[i, "explanation"]["reason"] = {"reason": labels.at[cid, "reason"],
                                                    "method": labels.at[cid, "method"],
                                                    "evidence": labels.at[cid, "evidence"]}
    return profiles


def reason_classifier(evidence: pd.DataFrame) -> ReasonClassifier:
    """Rules, or a text model trained on the store's own labelled answers when there are enough of them.

    A feedback row whose `category` is one of the reason labels (e.g. an exit survey where the customer or an
    agent picked "price") is a labelled example; the classifier switches to its trained model once it has at
    least 200 of them covering every label (see `ReasonClassifier`)."""
    classifier = ReasonClassifier()
    if "category" not in evidence:
        return classifier
    text = evidence["text"].fillna("").astype(str)
    labelled = evidence[evidence["category"].isin(LABELS) & (text.str.strip() != "")]
    if len(labelled):
        classifier.fit(labelled["text"].astype(str).tolist(), labelled["category"].tolist())
    return classifier


def distribution(profiles: pd.DataFrame, column: str) -> dict[str, int]:
    counts = profiles[column].fillna("none").value_counts()
    return {str(k): int(v) for k, v in counts.sort_index().items()}
