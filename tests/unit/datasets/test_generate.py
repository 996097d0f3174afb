"""The generated world: deterministic, well-formed, consistent across files, and labelled with every type and reason."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from winback.datasets.generate import generate_world
from winback.domain.errors import UserError

START, END = date(2024, 10, 1), date(2026, 9, 30)
END_AT = datetime(END.year, END.month, END.day, tzinfo=UTC)
START_AT = datetime(START.year, START.month, START.day, tzinfo=UTC)
FILES = ("customers.csv", "products.csv", "orders.csv", "order_items.csv", "events.csv", "feedback.csv",
         "subscriptions.csv", "consents.csv", "suppressions.csv", "truth/truth.csv")
HEADERS = {
    "customers.csv": ["customer_id", "email", "phone", "name", "locale", "time_zone", "created_at", "email_status",
                      "tier", "city"],
    "products.csv": ["sku", "name", "category", "price", "launched_at"],
    "orders.csv": ["order_id", "customer_id", "ordered_at", "amount", "currency", "status", "coupon_code", "channel"],
    "order_items.csv": ["order_id", "sku", "quantity", "unit_price"],
    "events.csv": ["event_id", "customer_id", "occurred_at", "type", "properties"],
    "feedback.csv": ["feedback_id", "customer_id", "kind", "rating", "text", "status", "opened_at", "resolved_at",
                     "category"],
    "subscriptions.csv": ["subscription_id", "customer_id", "plan", "status", "amount", "currency", "started_at",
                          "renews_at", "cancelled_at", "cancel_reason", "paused_until"],
    "consents.csv": ["customer_id", "channel", "status", "basis", "source", "at"],
    "suppressions.csv": ["channel", "address", "basis", "source", "at"],
    "truth/truth.csv": ["customer_id", "dropped_out", "dropout_at", "churn_reason", "dormancy_type", "purchase_rate",
                        "locale"],
}
DATETIMES = {
    "customers.csv": ("created_at",), "products.csv": ("launched_at",), "orders.csv": ("ordered_at",),
    "events.csv": ("occurred_at",), "feedback.csv": ("opened_at", "resolved_at"),
    "subscriptions.csv": ("started_at", "cancelled_at"), "consents.csv": ("at",), "suppressions.csv": ("at",),
    "truth/truth.csv": ("dropout_at",),
}
TYPES = {"natural_cycle", "content_fatigue", "bad_experience", "channel_shift"}
REASONS = {"price", "missing_feature", "service", "product_quality", "competitor", "no_longer_needed", "other"}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("world")
    return out, generate_world(out, customers=2_000, seed=20240601, start=START, end=END)


def rows(out: Path, name: str) -> list[dict[str, str]]:
    with (out / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() == timedelta(0), text
    return value


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate_world(tmp_path / name, customers=300, seed=seed)
    for name in (*FILES, "truth/world.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in ("customers.csv", "orders.csv", "events.csv", "truth/truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name


def test_returned_row_counts_match_the_files(world: tuple[Path, dict[str, int]]) -> None:
    out, counts = world
    assert set(counts) == set(FILES)
    for name in FILES:
        assert counts[name] == len(rows(out, name)), name
    assert counts["customers.csv"] == counts["truth/truth.csv"] == 2_000
    assert 60 <= counts["products.csv"] <= 200
    assert 2 <= counts["orders.csv"] / 2_000 <= 6.5
    assert 10 <= counts["events.csv"] / 2_000 <= 40


def test_every_header_is_exactly_as_specified(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    for name, header in HEADERS.items():
        with (out / name).open(encoding="utf-8", newline="") as handle:
            assert next(csv.reader(handle)) == header, name


def test_emails_are_unique_and_only_on_reserved_domains(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    emails = [r["email"] for r in rows(out, "customers.csv")]
    assert len({e.lower() for e in emails}) == len(emails)
    for email in emails:
        domain = email.rsplit("@", 1)[1]
        assert domain in {"example.com", "example.net", "example.org"} or domain.endswith(".test"), email
    suppressed = {r["address"] for r in rows(out, "suppressions.csv")}
    assert suppressed and suppressed <= set(emails)


def test_no_timestamp_falls_outside_the_window_except_future_allowed_columns(
    world: tuple[Path, dict[str, int]],
) -> None:
    out, _ = world
    for name, columns in DATETIMES.items():
        for row in rows(out, name):
            for column in columns:
                if row[column]:
                    assert START_AT <= parse(row[column]) <= END_AT, (name, column, row[column])
    future = [parse(r[c]) for r in rows(out, "subscriptions.csv") for c in ("renews_at", "paused_until") if r[c]]
    assert any(t > END_AT for t in future)  # those columns may look ahead, and do


def test_order_items_add_up_to_the_order_amount(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    products = {r["sku"]: parse(r["launched_at"]) for r in rows(out, "products.csv")}
    orders = {r["order_id"]: r for r in rows(out, "orders.csv")}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    skus: dict[str, list[str]] = defaultdict(list)
    for item in rows(out, "order_items.csv"):
        assert re.fullmatch(r"\d+\.\d\d", item["unit_price"]) and int(item["quantity"]) >= 1
        assert products[item["sku"]] <= parse(orders[item["order_id"]]["ordered_at"])  # on sale when bought
        totals[item["order_id"]] += Decimal(item["unit_price"]) * int(item["quantity"])
        skus[item["order_id"]].append(item["sku"])
    for order_id, order in orders.items():
        assert re.fullmatch(r"\d+\.\d\d", order["amount"])
        assert Decimal(order["amount"]) == totals[order_id], order_id
        assert 1 <= len(skus[order_id]) == len(set(skus[order_id])) <= 3
    assert {o["currency"] for o in orders.values()} == {"CNY", "USD", "GBP"}


def test_every_reference_names_an_existing_row(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    customers = {r["customer_id"] for r in rows(out, "customers.csv")}
    for name in ("orders.csv", "events.csv", "feedback.csv", "subscriptions.csv", "consents.csv"):
        assert {r["customer_id"] for r in rows(out, name)} <= customers, name
    order_ids = {r["order_id"] for r in rows(out, "orders.csv")}
    assert {r["order_id"] for r in rows(out, "order_items.csv")} <= order_ids


def test_truth_labels_every_customer_with_all_types_and_reasons(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    truth = rows(out, "truth/truth.csv")
    assert [r["customer_id"] for r in truth] == [r["customer_id"] for r in rows(out, "customers.csv")]
    for row in truth:
        assert row["dormancy_type"] in TYPES | {""}
        dropped = row["dropped_out"] == "true"
        assert row["dropped_out"] in {"true", "false"}
        assert (row["churn_reason"] in REASONS) == dropped == bool(row["dropout_at"])
        assert not (dropped and row["dormancy_type"] in {"", "natural_cycle"})
        assert 0 < float(row["purchase_rate"]) < 1
    assert {r["dormancy_type"] for r in truth} - {""} == TYPES
    assert {r["churn_reason"] for r in truth} - {""} == REASONS
    assert 0.4 <= sum(bool(r["dormancy_type"]) for r in truth) / len(truth) <= 0.6
    assert 0.4 <= sum(r["locale"] == "zh-CN" for r in truth) / len(truth) <= 0.6


def test_most_leavers_say_why_in_words(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    truth = {r["customer_id"]: r for r in rows(out, "truth/truth.csv")}
    said = {r["customer_id"] for r in rows(out, "feedback.csv") if r["kind"] != "review" or r["rating"] in ("1", "2")}
    said |= {r["customer_id"] for r in rows(out, "subscriptions.csv") if r["cancel_reason"]}
    leavers = [c for c, r in truth.items() if r["dropped_out"] == "true"]
    assert sum(c in said for c in leavers) / len(leavers) >= 0.9


def test_bad_experience_leaves_negative_feedback_just_before_the_last_visit(
    world: tuple[Path, dict[str, int]],
) -> None:
    out, _ = world
    truth = {r["customer_id"]: r for r in rows(out, "truth/truth.csv")}
    last_seen: dict[str, datetime] = {}
    for r in rows(out, "events.csv"):
        if '"machine": true' not in r["properties"]:
            last_seen[r["customer_id"]] = max(last_seen.get(r["customer_id"], START_AT), parse(r["occurred_at"]))
    negative = defaultdict(list)
    for r in rows(out, "feedback.csv"):
        unresolved = r["kind"] == "ticket" and r["status"] in ("open", "pending") and not r["resolved_at"]
        if r["rating"] in ("1", "2") or r["kind"] == "complaint" or unresolved:
            negative[r["customer_id"]].append(parse(r["opened_at"]))
    bad = [c for c, r in truth.items() if r["dormancy_type"] == "bad_experience"]
    assert bad
    for c in bad:
        assert last_seen[c] == parse(truth[c]["dropout_at"])  # silence after the last visit
        assert any(timedelta(0) <= last_seen[c] - at <= timedelta(days=30) for at in negative[c]), c


def test_chinese_customers_write_chinese_and_files_are_valid_utf8(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    for name in FILES:
        (out / name).read_bytes().decode("utf-8")  # strict: raises on a bad byte
    locale = {r["customer_id"]: r["locale"] for r in rows(out, "customers.csv")}
    feedback = rows(out, "feedback.csv")
    zh = [r["text"] for r in feedback if locale[r["customer_id"]] == "zh-CN"]
    en = [r["text"] for r in feedback if locale[r["customer_id"]] != "zh-CN"]
    assert zh and all(CJK.search(t) for t in zh)
    assert en and not any(CJK.search(t) for t in en)
    assert any(CJK.search(r["name"]) for r in rows(out, "customers.csv"))


def test_events_carry_json_object_properties_and_some_machine_opens(world: tuple[Path, dict[str, int]]) -> None:
    out, _ = world
    kinds: Counter[str] = Counter()
    machine: Counter[bool] = Counter()
    for r in rows(out, "events.csv"):
        props = json.loads(r["properties"])
        assert isinstance(props, dict)
        kinds[r["type"]] += 1
        if r["type"] == "email_open":
            machine[props["machine"]] += 1
    assert set(kinds) == {"page_view", "app_session", "login", "feature_use", "cart_add", "cart_abandon", "search",
                          "email_open", "email_click", "sms_click"}
    assert machine[True] > 0 and machine[False] > machine[True]


@pytest.mark.parametrize(("customers", "end"), [(0, END), (10, date(2025, 3, 1))])
def test_refuses_an_empty_world_or_a_short_window(tmp_path: Path, customers: int, end: date) -> None:
    with pytest.raises(UserError):
        generate_world(tmp_path, customers=customers, seed=1, start=START, end=end)
