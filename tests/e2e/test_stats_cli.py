"""`winback stats validate` as a user runs it: no store needed, JSON keys, exit code on failed bounds."""

from __future__ import annotations

import json

from test_cli import winback

KEYS = {"runs", "seed", "confidence", "coverage", "coverage_rate_difference", "coverage_revenue",
        "peeking_false_positive_rate", "naive_peeking_false_positive_rate", "power_at_effect"}


def test_validate_json_keys_and_bounds(tmp_path):
    proc = winback("stats", "validate", "--runs", "200", "--json", home=tmp_path / "home")
    result = json.loads(proc.stdout)
    assert set(result) == KEYS and result["runs"] == 200 and result["seed"] == 7
    assert 0.93 <= result["coverage"] <= 0.97 and result["peeking_false_positive_rate"] <= 0.05
    assert result["naive_peeking_false_positive_rate"] > result["peeking_false_positive_rate"]
    assert not (tmp_path / "home").exists()  # no store was created


def test_validate_table_and_failure_line(tmp_path):
    table = winback("stats", "validate", "--runs", "200", "--seed", "7", home=tmp_path)
    assert "coverage_revenue" in table.stdout and "peeking_false_positive_rate" in table.stdout
    # Five runs pool ten intervals, so coverage is a multiple of 0.1 and can never fall in 0.93–0.97.
    failed = winback("stats", "validate", "--runs", "5", "--json", home=tmp_path, check=False)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["runs"] == 5
    assert "coverage" in failed.stderr and "outside 0.93–0.97" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    bad = winback("stats", "validate", "--runs", "0", home=tmp_path, check=False)
    assert bad.returncode == 2 and "--runs" in bad.stderr


def test_stats_help(tmp_path):
    proc = winback("stats", "validate", "--help", home=tmp_path)
    assert "--runs" in proc.stdout and "--seed" in proc.stdout and "--json" in proc.stdout
