"""Lifecycle stages: thresholds, the customer's own cadence, reactivation, presets and bad rule files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from winback.domain.errors import ConfigError
from winback.segments.lifecycle import assign_stages, load_rules, preset_names, transitions

NAN = float("nan")


def frame(**rows: dict) -> pd.DataFrame:
    base = {"n_orders": 3, "frequency": 2, "days_since_last_order": 10.0, "days_since_last_activity": 5.0,
            "tenure_days": 400.0, "t_days": 300.0, "cadence_days": 20.0, "gap_before_last_days": 20.0,
            "cancelled_subscriptions": 0, "active_subscriptions": 0}
    return pd.DataFrame([{"customer_id": cid, **base, **over} for cid, over in rows.items()])


def stages(df: pd.DataFrame, rules="retail") -> dict[str, str]:
    out = assign_stages(df, load_rules(rules))
    return dict(zip(out["customer_id"], out["stage"], strict=True))


def test_retail_thresholds():
    df = frame(a={"days_since_last_order": 30.0}, r={"days_since_last_order": 61.0},
               d={"days_since_last_order": 95.0}, c={"days_since_last_order": 200.0},
               n={"n_orders": 1, "frequency": 0, "t_days": 20.0, "days_since_last_order": 20.0, "cadence_days": NAN},
               p={"n_orders": 0, "frequency": 0, "days_since_last_order": NAN, "tenure_days": 10.0, "t_days": NAN,
                  "cadence_days": NAN})
    assert stages(df) == {"a": "active", "r": "at_risk", "d": "dormant", "c": "churned", "n": "new", "p": "new"}


def test_own_cadence_stretches_thresholds():
    df = frame(slow={"cadence_days": 150.0, "days_since_last_order": 120.0},
               fast={"cadence_days": 20.0, "days_since_last_order": 120.0},
               unknown={"frequency": 1, "cadence_days": 150.0, "days_since_last_order": 120.0})
    assert stages(df) == {"slow": "active", "fast": "dormant", "unknown": "dormant"}
    out = assign_stages(df, load_rules("retail")).set_index("customer_id")
    assert out.loc["slow", "dormant_after_days"] == pytest.approx(375.0)  # 2.5 x 150


def test_reactivated_after_a_long_gap():
    df = frame(back={"gap_before_last_days": 200.0, "days_since_last_order": 10.0},
               long_ago={"gap_before_last_days": 200.0, "days_since_last_order": 61.0})
    assert stages(df) == {"back": "reactivated", "long_ago": "at_risk"}


def test_subscription_preset_uses_activity_and_cancellation():
    df = frame(app={"days_since_last_order": 100.0, "days_since_last_activity": 3.0},
               gone={"cancelled_subscriptions": 1, "active_subscriptions": 0},
               idle={"days_since_last_order": 100.0, "days_since_last_activity": 40.0})
    assert stages(df, "subscription") == {"app": "active", "gone": "churned", "idle": "dormant"}


def test_signals_can_put_an_active_customer_at_risk():
    df = frame(x={}, y={})
    df["signals"] = [["complaints"], []]
    assert stages(df, "b2b") == {"x": "at_risk", "y": "active"}


def test_presets_and_rule_files(tmp_path):
    assert preset_names() == ["b2b", "retail", "subscription"]
    good = tmp_path / "rules.yaml"
    good.write_text("name: mine\nat_risk_days: 30\ndormant_days: 45\nchurned_days: 400\nuse_cadence: false\n")
    assert load_rules(good).churned_days == 400
    bad = tmp_path / "bad.yaml"
    bad.write_text("at_risk_days: 100\ndormant_days: 90\n")
    with pytest.raises(ConfigError, match="thresholds must grow"):
        load_rules(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("dormant_dayz: 90\n")
    with pytest.raises(ConfigError, match="dormant_dayz"):
        load_rules(typo)
    with pytest.raises(ConfigError, match="preset"):
        load_rules("wholesale")


def test_transitions_record_changes_and_newcomers():
    before = pd.DataFrame({"customer_id": ["a", "b"], "stage": ["active", "dormant"]})
    after = pd.DataFrame({"customer_id": ["a", "b", "c"], "stage": ["at_risk", "dormant", "new"]})
    moved = transitions(before, after).replace({np.nan: None})
    assert moved.to_dict("records") == [{"customer_id": "a", "from_stage": "active", "to_stage": "at_risk"},
                                        {"customer_id": "c", "from_stage": None, "to_stage": "new"}]


def test_rule_files_can_carry_an_rfm_grid(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rfm_segments:\n  - {segment: vip, r: [4, 5], fm: [4, 5]}\n"
                    "  - {segment: rest, r: [1, 5], fm: [1, 5]}\n")
    rules = load_rules(path)
    assert [r.segment for r in rules.rfm_segments] == ["vip", "rest"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rfm_segments:\n  - {segment: vip, r: 5}\n")
    with pytest.raises(ConfigError, match="rfm_segments"):
        load_rules(bad)
