"""`winback segments` as a user runs it: counts on both stores, the field list, one-line mistakes."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from test_cli import winback

from winback.segments import FIELDS, FUNCTIONS


def count(*args: str, home, url=None) -> int:
    out = json.loads(winback("segments", "count", *args, "--json", home=home, url=url).stdout)
    assert out["segment"] == args[0]
    assert abs(datetime.fromisoformat(out["as_of"]) - datetime.now(UTC)) < timedelta(minutes=10)
    return out["count"]


def test_counts_on_a_small_ingested_store(store_url, tmp_path):
    winback("init", home=tmp_path, url=store_url)
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,email,plan,email_status\n"
                         "A1,a1@example.com,gold,subscribed\n"
                         "A2,a2@example.com,silver,unsubscribed\n"
                         "A3,,gold,\n"
                         "A4,a4@example.com,,subscribed\n")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,ordered_at,amount,status\n"
                      "O1,A1,2024-01-05,10.00,completed\n"
                      "O2,A1,2024-02-05,30.00,completed\n"
                      "O3,A2,2024-03-01,99.00,refunded\n"
                      "O4,A3,2024-03-02,5.50,paid\n")
    for entity, path in (("customers", customers), ("orders", orders)):
        winback("ingest", entity, str(path), home=tmp_path, url=store_url)
    for text, expected in [
        ("true", 4),
        ("attribute('plan') == 'gold'", 2),
        ("attribute('plan') == null", 1),
        ("orders() >= 2 and revenue() == 40", 1),
        ("orders() == 0", 2),  # A2's only order was refunded
        ("revenue() > 5 and revenue() < 6", 1),
        ("days_since('last_order') > 365", 2),
        ("consented('email') and not suppressed('email')", 2),
        ("not scored()", 4),  # nobody has been scored
        ("clv > 0", 0),
        ("customer_id in ['A1', 'A4', \"'; DROP TABLE customers; --\"]", 2),
    ]:
        assert count(text, home=tmp_path, url=store_url) == expected, text
    status = json.loads(winback("status", "--json", home=tmp_path, url=store_url).stdout)
    assert status["customers"] == 4
    human = winback("segments", "count", "orders() > 0", home=tmp_path, url=store_url).stdout
    assert human.startswith("2 customers as of ")


def test_counts_on_cdnow_agree_with_the_raw_file(store_url, tmp_path):
    from winback.datasets.cdnow import cdnow_transactions

    n_orders: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for cid, _day, _cds, value in cdnow_transactions():
        n_orders[cid] += 1
        revenue[cid] += Decimal(value)
    loyal = sum(1 for cid in n_orders if n_orders[cid] >= 6 and revenue[cid] > 100)
    winback("init", home=tmp_path, url=store_url)
    winback("datasets", "load", "cdnow", home=tmp_path, url=store_url)
    assert count("attribute('dataset') == 'cdnow'", home=tmp_path, url=store_url) == 23_570
    assert count("orders() >= 6 and revenue() > 100", home=tmp_path, url=store_url) == loyal
    # created_at is the first purchase, and everything happened in 1997-98
    assert count("days_since('signup') == days_since('first_order') and days_since('last_order') > 365 "
                 "and orders(days=365) == 0", home=tmp_path, url=store_url) == 23_570


@pytest.mark.parametrize(("text", "column", "says"), [
    ("cvl > 200", 1, "unknown field 'cvl'; did you mean 'clv'?"),
    ("stage == 'at_risk' and", 23, "expected a value"),
    ("stage = 'at_risk'", 7, "write =="),
    ("__import__('os').system('ls')", 17, "no attribute access"),
])
def test_mistakes_are_one_line_and_exit_1(text, column, says, tmp_path):
    winback("init", home=tmp_path)
    proc = winback("segments", "count", text, home=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: segment, column {column}: ") and says in lines[0]
    assert proc.stdout == ""


def test_a_mistake_is_reported_before_the_store_is_needed(tmp_path):
    proc = winback("segments", "count", "cvl > 1", home=tmp_path, check=False)
    assert proc.returncode == 1 and "unknown field 'cvl'" in proc.stderr
    proc = winback("segments", "count", "clv > 1", home=tmp_path, check=False)
    assert proc.returncode == 1 and "winback init" in proc.stderr


def test_fields_lists_every_field_and_function(tmp_path):
    listed = json.loads(winback("segments", "fields", "--json", home=tmp_path).stdout)
    assert [f["name"] for f in listed["fields"]] == list(FIELDS)
    assert [f["name"] for f in listed["functions"]] == list(FUNCTIONS)
    assert all(f["description"] and f["type"] in ("number", "text") for f in listed["fields"])
    human = winback("segments", "fields", home=tmp_path).stdout
    for name in [*FIELDS, *FUNCTIONS]:
        assert name in human


@pytest.mark.parametrize("command", [["segments"], ["segments", "count"], ["segments", "fields"]])
def test_segment_commands_have_help(command, tmp_path):
    proc = winback(*command, "--help", home=tmp_path)
    assert "Usage:" in proc.stdout and len(proc.stdout.strip().splitlines()) > 3
