"""`winback programs plan` on a generated, scored world, on both stores: the JSON contract, its numbers agreeing
with each other, the tables for people, a one-line error, every shipped playbook — and the store untouched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from test_cli import winback
from typer.testing import CliRunner

from winback.campaigns.playbooks import playbook_names
from winback.cli.plan import register
from winback.jobs.workspace import Workspace
from winback.settings import Settings

NOW = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)  # the generated world ends on 2026-09-30
EXPECTED_KEYS = {"baseline_conversions", "incremental_conversions", "incremental_conversions_low",
                 "incremental_conversions_high", "incremental_revenue", "incremental_revenue_low",
                 "incremental_revenue_high", "method"}
REASONS = ["unknown_customer", "invalid_address", "suppressed", "no_consent", "already_enrolled", "capped", "holdout"]


def _app() -> typer.Typer:
    """The `programs` group with `plan` registered, on a workspace from the environment and a frozen clock."""
    app = typer.Typer()
    programs = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = Workspace(settings=Settings(), clock=lambda: NOW)
        ctx.call_on_close(ctx.obj.close)

    register(programs)
    app.add_typer(programs, name="programs")
    return app


@pytest.fixture
def world(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    winback("init", home=tmp_path, url=store_url)
    winback("datasets", "generate", "--customers", "800", "--seed", "5", "--load", home=tmp_path, url=store_url)
    winback("score", "--as-of", "2026-09-30", home=tmp_path, url=store_url)
    monkeypatch.setenv("WINBACK_HOME", str(tmp_path))
    monkeypatch.setenv("WINBACK_DATABASE_URL", store_url)
    monkeypatch.setenv("WINBACK_FREQUENCY_CAPS", "email=2/7d")
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def plan_in_process(source: str) -> dict:
    """The plan at the frozen NOW (the world's last day), so trigger programmes find last month's events."""
    result = CliRunner().invoke(_app(), ["programs", "plan", source, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def check_consistent(out: dict) -> None:
    assert {"programme", "audience", "exclusions", "eligible", "holdout", "treated", "sends_per_day", "expected",
            "costs", "assumptions"} <= set(out)
    assert list(out["exclusions"]) == REASONS
    assert out["eligible"] == out["audience"] - sum(n for r, n in out["exclusions"].items() if r != "holdout")
    assert out["treated"] + out["holdout"] == out["eligible"] and out["holdout"] == out["exclusions"]["holdout"]
    assert all(n >= 0 for n in out["exclusions"].values()) and out["treated"] >= 0
    assert all(set(row) == {"date", "step", "channel", "count"} and row["count"] > 0 for row in out["sends_per_day"])
    assert sum(r["count"] for r in out["sends_per_day"]) == sum(out["sends_total"].values())
    e = out["expected"]
    assert set(e) >= EXPECTED_KEYS
    assert e["incremental_conversions_low"] <= e["incremental_conversions"] <= e["incremental_conversions_high"]
    assert e["incremental_revenue_low"] <= e["incremental_revenue"] <= e["incremental_revenue_high"]
    assert 0 <= e["incremental_conversions"] <= e["relative_lift"] * e["baseline_conversions"] + 0.01
    c = out["costs"]
    assert {"incentive", "sending", "total"} <= set(c)
    assert c["total"] == pytest.approx(c["incentive"] + c["sending"], abs=0.011)
    assert out["assumptions"] and any("real numbers lower" in a for a in out["assumptions"])


def test_plans_of_playbooks_and_files_json_tables_and_nothing_written(world, store_url):
    def run(*args: str, check: bool = True):
        return winback("programs", "plan", *args, home=world, url=store_url, check=check)

    before = json.loads(winback("status", "--json", home=world, url=store_url).stdout)

    out = json.loads(run("four-email-winback", "--json").stdout)  # as a user runs it: a process, the real clock
    check_consistent(out)
    assert out["programme"] == "four-email-winback" and out["basis"] == "segment"
    assert out["audience"] > 100 and out["treated"] > 0 and out["holdout"] > 0
    assert out["expected"]["baseline_conversions"] > 0 and out["expected"]["method"]
    steps = json.loads(winback("programs", "validate", "four-email-winback", "--json", home=world).stdout)["steps"]
    assert {row["step"] for row in out["sends_per_day"]} <= set(steps)
    assert out["costs"]["incentive"] > 0  # the four-email playbook carries an offer

    human = run("four-email-winback").stdout
    for heading in ("audience", "not sent to, and why", "sends per day", "expected effect", "costs", "assumptions"):
        assert heading in human
    assert f"{out['treated']:,}" in human and "make the real numbers lower" in human

    path = world / "mine.yaml"
    path.write_text("programme: mine\naudience: \"stage in ['at_risk', 'dormant']\"\nholdout: 0\n"
                    "forecast: {relative_lift: 0.1, lift_low: 0.1, lift_high: 0.1}\n"
                    "steps:\n  - send: {template: winback/reminder}\n  - wait: 3d\n"
                    "  - send: {template: winback/whats-new, channel: sms}\n")
    mine = json.loads(run(str(path), "--json").stdout)
    check_consistent(mine)
    assert mine["holdout"] == 0 and mine["treated"] == mine["eligible"]
    assert {row["channel"] for row in mine["sends_per_day"]} == {"email", "sms"}
    e = mine["expected"]
    assert e["incremental_conversions_low"] < e["incremental_conversions"] < e["incremental_conversions_high"]

    bad = run("no-such-playbook", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "no playbook" in bad.stderr

    entries = {}
    for name in playbook_names():  # every shipped playbook plans, and its numbers agree
        got = plan_in_process(name)
        check_consistent(got)
        if got["basis"] == "trigger_last_30_days":
            assert got["trigger"]["event"] and got["trigger"]["customers_last_30_days"] >= got["audience"]
            entries[name] = got["audience"]
    assert entries.get("welcome-back", 0) > 0  # reactivations in the world's last month: next month's entries

    after = json.loads(winback("status", "--json", home=world, url=store_url).stdout)
    assert after == before  # nothing was written: every table's count is the same
