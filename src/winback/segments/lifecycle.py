"""Lifecycle stages under configurable dormancy rules: new, active, at_risk, dormant, churned, reactivated.

Rules live in YAML (presets for retail, subscription and B2B ship in `presets/`). The silence that counts is
days since the last order (`basis: orders`) or since the last activity of any kind (`basis: activity`).
With `use_cadence`, a customer's own purchase cycle stretches the thresholds: someone who buys every 150 days
is not dormant after 90 silent days, but is after 2.5 of their own cycles. A customer is `reactivated` when
the silence before their latest order was long enough to have made them dormant, for `reactivated_days`
after it. The stage depends only on data up to the as-of date, so history can be recomputed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from winback.domain.errors import ConfigError
from winback.scoring.rfm import SegmentRule

STAGES = ("new", "active", "at_risk", "dormant", "churned", "reactivated")


class CadenceMultipliers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at_risk: float = Field(1.5, gt=0)
    dormant: float = Field(2.5, gt=0)
    churned: float = Field(4.0, gt=0)


class StageRules(BaseModel):
    """Thresholds in days; see the module docstring."""

    model_config = ConfigDict(extra="forbid")
    name: str = "custom"
    description: str = ""
    basis: Literal["orders", "activity"] = "orders"
    new_days: int = Field(60, ge=0)
    at_risk_days: int = Field(60, ge=1)
    dormant_days: int = Field(90, ge=1)
    churned_days: int = Field(180, ge=1)
    reactivated_days: int = Field(60, ge=1)
    use_cadence: bool = True
    min_repeat_purchases_for_cadence: int = Field(2, ge=1)
    cadence_multipliers: CadenceMultipliers = Field(default_factory=CadenceMultipliers)
    cancelled_subscription_is_churned: bool = False
    at_risk_on_signals: list[str] = Field(default_factory=list)
    rfm_segments: list[SegmentRule] | None = Field(
        default=None, description="RFM segment grid, first match wins (default: the 11-segment grid)")

    @model_validator(mode="after")
    def _ordered(self) -> StageRules:
        if not self.at_risk_days < self.dormant_days < self.churned_days:
            raise ValueError("thresholds must grow: at_risk_days < dormant_days < churned_days")
        return self


def preset_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in _presets().iterdir() if p.name.endswith(".yaml"))


def _presets():  # type: ignore[no-untyped-def]
    return resources.files("winback.segments") / "presets"


def load_rules(source: str | Path | None = None) -> StageRules:
    """A preset by name (retail, subscription, b2b) or a YAML file; default retail."""
    if source is None:
        source = "retail"
    if isinstance(source, str) and source in preset_names():
        text = (_presets() / f"{source}.yaml").read_text(encoding="utf-8")
        where = f"preset {source}"
    else:
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"no stage rules {str(source)!r}: give a preset ({', '.join(preset_names())}) "
                              "or a YAML file")
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        return StageRules.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{where}: {_first_error(exc)}") from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "rules"
        return f"{where}: {err['msg']}"
    return str(exc).splitlines()[0]


def assign_stages(features: pd.DataFrame, rules: StageRules) -> pd.DataFrame:
    """Stage per customer, with the thresholds that applied and a one-line reason.

    `features` has the columns of `winback.features.customer.customer_features` (and optionally `signals`,
    a list of signal codes per customer).
    """
    f = features
    silence = _silence(f, rules)
    thresholds = _thresholds(f, rules)
    has_orders = f["n_orders"].fillna(0).to_numpy() > 0
    tenure = f["tenure_days"].to_numpy(dtype=float)
    first_order_age = f["t_days"].to_numpy(dtype=float)

    stage = np.full(len(f), "active", dtype=object)
    at_risk = silence >= thresholds["at_risk"]
    dormant = silence >= thresholds["dormant"]
    churned = silence >= thresholds["churned"]
    stage[at_risk] = "at_risk"
    stage[dormant] = "dormant"
    stage[churned] = "churned"
    if rules.at_risk_on_signals and "signals" in f:
        flagged = f["signals"].map(lambda codes: bool(set(codes or ()) & set(rules.at_risk_on_signals))).to_numpy()
        stage[(stage == "active") & flagged] = "at_risk"
    if rules.cancelled_subscription_is_churned:
        gone = (f["cancelled_subscriptions"].to_numpy() > 0) & (f["active_subscriptions"].to_numpy() == 0)
        stage[gone] = "churned"
    reactivated = _reactivated(f, rules, thresholds["dormant"]) & ~at_risk
    stage[reactivated] = "reactivated"
    new = np.where(has_orders, first_order_age <= rules.new_days, tenure <= rules.new_days) & ~at_risk
    stage[new & ~reactivated] = "new"

    return pd.DataFrame({
        "customer_id": f["customer_id"].to_numpy(),
        "stage": stage,
        "silent_days": silence,
        "at_risk_after_days": thresholds["at_risk"],
        "dormant_after_days": thresholds["dormant"],
        "churned_after_days": thresholds["churned"],
    })


def _silence(f: pd.DataFrame, rules: StageRules) -> np.ndarray:
    """Days of silence: since the last order (or signup, for customers who never ordered), or, with
    `basis: activity`, since the last order or activity, whichever is later."""
    column = "days_since_last_order" if rules.basis == "orders" else "days_since_last_activity"
    since = f[column].to_numpy(dtype=float)
    tenure = f["tenure_days"].to_numpy(dtype=float)
    return np.nan_to_num(np.where(np.isnan(since), tenure, since), nan=0.0)


def _thresholds(f: pd.DataFrame, rules: StageRules) -> dict[str, np.ndarray]:
    n = len(f)
    base = {k: np.full(n, float(getattr(rules, f"{k}_days"))) for k in ("at_risk", "dormant", "churned")}
    if not rules.use_cadence:
        return base
    cadence = f["cadence_days"].to_numpy(dtype=float)
    known = (f["frequency"].fillna(0).to_numpy() >= rules.min_repeat_purchases_for_cadence) & ~np.isnan(cadence)
    m = rules.cadence_multipliers
    return {k: np.where(known, np.maximum(base[k], getattr(m, k) * np.nan_to_num(cadence)), base[k])
            for k in base}


def _reactivated(f: pd.DataFrame, rules: StageRules, dormant_after: np.ndarray) -> np.ndarray:
    if "gap_before_last_days" not in f:
        return np.zeros(len(f), dtype=bool)
    gap = f["gap_before_last_days"].to_numpy(dtype=float)
    since = f["days_since_last_order"].to_numpy(dtype=float)
    return (np.nan_to_num(gap) >= dormant_after) & (np.nan_to_num(since, nan=np.inf) <= rules.reactivated_days)


def transitions(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Rows whose stage changed between two runs: customer_id, from_stage (None when new), to_stage."""
    merged = current[["customer_id", "stage"]].merge(
        previous[["customer_id", "stage"]].rename(columns={"stage": "from_stage"}), on="customer_id", how="left")
    changed = merged[merged["from_stage"] != merged["stage"]]
    return changed.rename(columns={"stage": "to_stage"})[["customer_id", "from_stage", "to_stage"]]
