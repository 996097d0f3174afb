"""The `winback` command as a user runs it: real processes, both stores, JSON contracts, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from winback.store.migrate import head_version

COMMANDS = [[], ["init"], ["status"], ["ingest"], ["entities"], ["demo"], ["score"], ["customers"],
            ["customers", "show"], ["datasets"], ["datasets", "load"], ["datasets", "generate"],
            ["datasets", "evaluate"], ["programs"], ["programs", "validate"], ["programs", "start"],
            ["programs", "pause"], ["programs", "resume"], ["programs", "stop"], ["programs", "status"], ["worker"],
            ["programs", "plan"], ["playbooks"], ["messages"], ["dkim"], ["bounces"], ["hygiene"], ["coupons"],
            ["tasks"], ["serve"], ["report"], ["report", "guard"], ["stats"], ["stats", "validate"], ["apikeys"],
            ["users"], ["dashboard"]]


def winback(*args: str, home: Path, url: str | None = None, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WINBACK_HOME": str(home), "COLUMNS": "200", **(env or {})}
    env.pop("WINBACK_DATABASE_URL", None)
    if url:
        env["WINBACK_DATABASE_URL"] = url
    proc = subprocess.run([sys.executable, "-m", "winback.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"winback {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def test_the_command_line_starts_and_lists_every_command(tmp_path):
    proc = winback("--help", home=tmp_path)
    assert all(f" {c[0]} " in proc.stdout for c in COMMANDS if c), proc.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "winback")
def test_every_command_has_help(command, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from winback.cli.main import app

    monkeypatch.setenv("WINBACK_HOME", str(tmp_path))  # in-process: the subcommands' help, without a start-up each
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.strip().splitlines()) > 3


def test_cdnow_counts_and_status_json(store_url, tmp_path):
    winback("init", home=tmp_path, url=store_url)
    loaded = json.loads(winback("datasets", "load", "cdnow", "--json", home=tmp_path, url=store_url).stdout)
    assert loaded["orders"]["inserted"] == 69_659 and loaded["orders"]["quarantined"] == 0
    status = json.loads(winback("status", "--json", home=tmp_path, url=store_url).stdout)
    assert (status["customers"], status["orders"]) == (23_570, 69_659)
    assert status["schema_version"] == head_version()
    for entity in ("order_items", "products", "events", "feedback", "subscriptions", "suppressions", "consents"):
        assert status[entity] == 0
    again = json.loads(winback("datasets", "load", "cdnow", "--json", home=tmp_path, url=store_url).stdout)
    assert [(s["inserted"], s["updated"]) for s in again.values()] == [(0, 0), (0, 0)]
    shown = json.loads(winback("customers", "show", "3", "--json", home=tmp_path, url=store_url).stdout)
    assert shown["counts"]["orders"] == 6 and shown["customer"]["attributes"] == {"dataset": "cdnow"}
    assert shown["totals"]["revenue"] == {"USD": pytest.approx(156.46)}
    assert shown["totals"]["first_order_at"].startswith("1997-01-02")


def test_ingest_json_summary_keys(tmp_path):
    winback("init", home=tmp_path)
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email\nA1,a@example.com\nA2,not-an-email\n")
    out = json.loads(winback("ingest", "customers", str(path), "--json", home=tmp_path).stdout)
    assert {k: out[k] for k in ("inserted", "updated", "unchanged", "quarantined")} == \
        {"inserted": 1, "updated": 0, "unchanged": 0, "quarantined": 1}
    human = winback("ingest", "customers", str(path), home=tmp_path).stdout
    assert "nothing changed" in human and "quarantine.csv" in human


@pytest.mark.parametrize(("args", "message"), [
    (["ingest", "orders", "/no/such/file.csv"], "no such file"),
    (["ingest", "widgets", "x.csv"], "unknown entity"),
    (["customers", "show", "nobody"], "no customer"),
    (["datasets", "load", "/no/such/folder"], "no <entity>.csv files"),
    (["datasets", "generate", "--customers", "0"], "at least 1"),
])
def test_user_mistakes_are_one_line_and_non_zero(args, message, tmp_path):
    winback("init", home=tmp_path)
    proc = winback(*args, home=tmp_path, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_uninitialised_store_and_bad_settings_are_clear(tmp_path):
    proc = winback("customers", "show", "x", home=tmp_path, check=False)
    assert proc.returncode == 1 and "winback init" in proc.stderr and "Traceback" not in proc.stderr
    env_bad = winback("status", home=tmp_path, url="mysql://nope", check=False)
    assert env_bad.returncode != 0 and "Traceback" not in env_bad.stderr and "unsupported database" in env_bad.stderr


def test_init_is_idempotent(store_url, tmp_path):
    first = json.loads(winback("init", "--json", home=tmp_path, url=store_url).stdout)
    second = json.loads(winback("init", "--json", home=tmp_path, url=store_url).stdout)
    assert first["created"] and not second["created"] and not second["upgraded"]
    assert first["schema_version"] == second["schema_version"] == head_version()


def test_generated_world_loads_clean(store_url, tmp_path):
    winback("init", home=tmp_path, url=store_url)
    out = json.loads(winback("datasets", "generate", "--customers", "300", "--seed", "3", "--load", "--json",
                             home=tmp_path, url=store_url).stdout)
    loaded = out["loaded"]
    assert set(loaded) == {"customers", "products", "orders", "order_items", "events", "feedback",
                           "subscriptions", "consents", "suppressions"}
    assert all(s["quarantined"] == 0 for s in loaded.values()), {e: s["quarantine_reasons"] for e, s in loaded.items()}
    assert loaded["customers"]["inserted"] == 300
    assert Path(out["truth"], "truth.csv").exists()
    assert not Path(out["directory"], "truth.csv").exists()  # the answers are kept apart from the data


def test_entities_markdown_documents_every_column(tmp_path):
    from winback.domain.entities import ENTITIES

    text = winback("entities", "--markdown", home=tmp_path).stdout
    for entity in ENTITIES.values():
        assert f"### `{entity.name}`" in text
        for column in entity.columns:
            assert f"| `{column.name}` |" in text


def test_environment_problems_are_one_line(tmp_path):
    unreachable = winback("status", home=tmp_path, url="postgresql://postgres@127.0.0.1:1/test", check=False)
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert "cannot use the store" in unreachable.stderr and len(unreachable.stderr.strip().splitlines()) == 1
    blocked = tmp_path / "file"
    blocked.write_text("")
    unwritable = winback("init", home=blocked / "home", check=False)
    assert unwritable.returncode == 1 and "Traceback" not in unwritable.stderr
    assert len(unwritable.stderr.strip().splitlines()) == 1


def test_score_stores_profiles_history_and_stage_changes(store_url, tmp_path):
    winback("init", home=tmp_path, url=store_url)
    winback("datasets", "generate", "--customers", "400", "--seed", "5", "--load", home=tmp_path, url=store_url)
    first = json.loads(winback("score", "--as-of", "2026-09-30", "--json", home=tmp_path, url=store_url).stdout)
    assert first["customers"] == 400 and sum(first["stages"].values()) == 400
    assert first["stage_changes"] == 400  # every customer enters the history
    again = json.loads(winback("score", "--as-of", "2026-09-30", "--json", home=tmp_path, url=store_url).stdout)
    assert again["stage_changes"] == 0 and again["stages"] == first["stages"]
    later = json.loads(winback("score", "--as-of", "2027-03-31", "--json", home=tmp_path, url=store_url).stdout)
    assert later["stage_changes"] > 0 and later["stages"].get("churned", 0) > first["stages"].get("churned", 0)
    shown = json.loads(winback("customers", "show", "C000001", "--json", home=tmp_path, url=store_url).stdout)
    assert shown["profile"]["stage"] in {"new", "active", "at_risk", "dormant", "churned", "reactivated"}
    assert shown["profile"]["as_of"].startswith("2027-03-31")
    assert 1 <= len(shown["stage_history"]) <= 2
    evaluation = json.loads(winback("datasets", "evaluate", "--json", home=tmp_path, url=store_url).stdout)
    assert evaluation["customers"] == 400 and 0 <= evaluation["dormancy_type_accuracy"] <= 1


def test_score_rejects_bad_dates_and_rules(tmp_path):
    winback("init", home=tmp_path)
    for args, message in ((["score", "--as-of", "yesterday"], "not a date"),
                          (["score", "--rules", "wholesale"], "preset")):
        proc = winback(*args, home=tmp_path, check=False)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_models_backtest_json_on_a_generated_world(tmp_path):
    winback("init", home=tmp_path)
    winback("datasets", "generate", "--customers", "600", "--seed", "8", "--load", home=tmp_path)
    out = json.loads(winback("models", "backtest", "--as-of", "2026-06-30", "--horizon", "90", "--json",
                             home=tmp_path).stdout)
    assert out["design"] == "temporal" and out["horizon_days"] == 90
    assert [m["name"] for m in out["models"] if m["default"]] == ["churn_model"]
    for m in out["models"]:
        assert 0.5 <= m["auc"] <= 1 and 0 <= m["ece"] <= 1
    bad = winback("models", "backtest", "--as-of", "2026-06-30", "--horizon", "0", home=tmp_path, check=False)
    assert bad.returncode == 1 and "at least 1 day" in bad.stderr


def test_score_run_keeps_its_summary_and_model_card(tmp_path):
    import sqlalchemy as sa

    from winback.store import tables as t
    from winback.store.db import create_store_engine

    winback("init", home=tmp_path)
    winback("datasets", "generate", "--customers", "500", "--seed", "9", "--load", home=tmp_path)
    out = json.loads(winback("score", "--as-of", "2026-09-30", "--json", home=tmp_path).stdout)
    assert out["churn_probability"]["method"].startswith("calibrated LightGBM")
    assert out["model_card"]["horizon_days"] == 90 and out["model_card"]["data_hash"]
    engine = create_store_engine(f"sqlite:///{tmp_path / 'winback.db'}")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(t.score_runs.c.summary).where(t.score_runs.c.run_id == out["run_id"])).scalar()
    engine.dispose()
    assert stored["model_card"] == out["model_card"] and stored["stages"] == out["stages"]
