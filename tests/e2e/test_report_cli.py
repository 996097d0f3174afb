"""`winback report` as a user runs it: JSON keys, a self-contained HTML page, formula-safe CSV, the guard, and a
clear error for an unknown programme — on both stores."""

from __future__ import annotations

import csv
import json
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_cli import winback

from winback.store import tables as t
from winback.store.db import create_store_engine

ENTERED = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
INJECTED = "=cmd|' /C calc'!A0"

PROGRAMME = """
    programme: report-cli
    audience: "customer_id in ['nobody']"
    holdout: 0.2
    steps:
      - id: hello
        send: {template: winback/reminder, subject: Hello}
"""


@pytest.fixture
def store(store_url, tmp_path):
    """A store with the programme and 30 enrolments (every fifth held out), sends, orders and profiles."""
    home = tmp_path / "home"
    url = store_url if store_url.startswith("postgresql") else None
    winback("init", home=home, url=url)
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PROGRAMME))
    winback("programs", "start", str(path), home=home, url=url)
    engine = create_store_engine(url or f"sqlite:///{home / 'winback.db'}")
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [{"customer_id": f"c{i}", "row_hash": "x", "updated_at": ENTERED}
                                            for i in range(30)])
        conn.execute(t.enrolments.insert(), [
            {"programme_id": "report-cli", "version": 1, "customer_id": f"c{i}", "cycle": 1, "holdout": i % 5 == 0,
             "state": "completed", "entered_at": ENTERED} for i in range(30)])
        ids = dict(conn.execute(sa.select(t.enrolments.c.customer_id, t.enrolments.c.enrolment_id)).all())
        conn.execute(t.ledger.insert(), [
            {"enrolment_id": ids[f"c{i}"], "step": "hello", "programme_id": "report-cli", "version": 1,
             "customer_id": f"c{i}", "kind": "send", "channel": "email", "state": "sent", "attempts": 1, "fence": 1,
             "created_at": ENTERED + timedelta(hours=1), "updated_at": ENTERED} for i in range(30) if i % 5])
        conn.execute(t.orders.insert(), [
            {"order_id": f"o{i}", "customer_id": f"c{i}", "ordered_at": ENTERED + timedelta(days=2), "amount": 40,
             "currency": "USD", "status": "completed", "row_hash": "x", "updated_at": ENTERED} for i in (1, 2, 3, 5)])
        conn.execute(t.profiles.insert(), [
            {"customer_id": f"c{i}", "run_id": "r", "as_of": ENTERED, "rfm_segment": INJECTED,
             "churn_reason": None if i in (1, 2, 3) else "<script>alert(1)</script>"} for i in range(30)])
    engine.dispose()
    return home, url


def test_json_report_has_the_documented_keys(store):
    home, url = store
    r = json.loads(winback("report", "report-cli", "--json", "--as-of", "2026-10-01", home=home, url=url).stdout)
    for key in ("programme", "as_of", "groups", "funnel", "lift", "roi", "attribution", "experiments", "srm",
                "failure_analysis", "costs"):
        assert key in r
    assert r["as_of"].startswith("2026-10-01T00:00") and (r["groups"]["treated"], r["groups"]["holdout"]) == (24, 6)
    for measure in ("conversion_rate", "revenue_per_customer"):
        assert set(r["lift"][measure]) >= {"estimate", "low", "high", "p_value", "method"}
    assert r["lift"]["conversion_rate"]["estimate"] == pytest.approx(3 / 24 - 1 / 6)
    assert r["funnel"][0]["step"] == "hello" and r["funnel"][0]["sent"] == 24
    assert "formula" in r["roi"]


def test_html_is_self_contained_and_escaped(store, tmp_path):
    home, url = store
    out = tmp_path / "report.html"
    human = winback("report", "report-cli", "--html", str(out), home=home, url=url).stdout
    assert "funnel" in human and f"HTML written to {out}" in human.replace("\n", "")
    page = out.read_text()
    assert page.count("<svg") == 3 and "Content-Security-Policy" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, flags=re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "&lt;script&gt;" in page


def test_csv_files_are_safe_from_formula_injection(store, tmp_path):
    home, url = store
    folder = tmp_path / "csv"
    winback("report", "report-cli", "--csv", str(folder), home=home, url=url)
    assert {p.name for p in folder.iterdir()} >= {"funnel.csv", "failure.csv", "lift.csv", "attribution.csv"}
    with open(folder / "failure.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    segments = [r["value"] for r in rows if r["dimension"] == "segment"]
    assert segments == ["'" + INJECTED]
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    negative = [r["vs_average"] for r in rows if r["vs_average"].startswith("-")]
    assert negative and all(float(v) < 0 for v in negative)  # numbers stay numbers


def test_unknown_programme_is_one_line_and_exit_1(store):
    home, url = store
    proc = winback("report", "nope", home=home, url=url, check=False)
    assert proc.returncode == 1 and "no programme 'nope'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    bad = winback("report", "report-cli", "--as-of", "yesterday", home=home, url=url, check=False)
    assert bad.returncode == 1 and "--as-of" in bad.stderr


def test_guard_by_hand(store):
    home, url = store
    out = json.loads(winback("report", "guard", "--json", home=home, url=url,
                             env={"WINBACK_MAIL_FROM": "Shop <news@Shop.Example>"}).stdout)
    (domain,) = out["domains"]
    assert domain["domain"] == "shop.example" and domain["action"] == "none" and domain["delivered"] == 0
    assert out["limits"]["alert_rate"] == 0.0008


def test_report_show_is_the_same_command(store, tmp_path: Path):
    home, url = store
    plain = json.loads(winback("report", "show", "report-cli", "--json", "--as-of", "2026-10-01", home=home,
                               url=url).stdout)
    assert plain["programme"] == "report-cli" and plain["groups"]["enrolled"] == 30
