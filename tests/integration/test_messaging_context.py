"""The personalisation context built from the store, on SQLite and PostgreSQL, with exact expected values."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from winback.cli import messages
from winback.domain.errors import UserError
from winback.jobs.workspace import Workspace
from winback.messaging.context import CONTEXT_VARIABLES, build_contexts
from winback.settings import Settings
from winback.store import tables as t


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


AUDIT = {"row_hash": "h", "updated_at": at("2026-01-01")}
PRODUCTS = [  # sku, name, category, price, launched
    ("tea", "Green tea", "drinks", "5", "2025-01-01"), ("pot", "Glass teapot", "kitchen", "30", "2025-01-01"),
    ("cup", "Cups", "kitchen", "8", "2025-01-01"), ("kettle", "Kettle", "kitchen", "45", "2026-08-01"),
    ("oolong", "Oolong", "drinks", "7", "2026-07-01"), ("matcha", "Matcha", "drinks", "12", "2026-09-01"),
    ("future", "Not yet", "drinks", "9", "2026-12-01"), ("coffee", "Coffee", "drinks", "6", "2025-01-01"),
]
ORDERS = [  # order, customer, day, amount, currency, status, [(sku, qty, unit)]
    ("o1", "c1", "2026-03-01", "35", "GBP", "completed", [("tea", 1, "5"), ("pot", 1, "30")]),
    ("o2", "c1", "2026-06-01", "8", "GBP", "completed", [("cup", 1, "8")]),
    ("o3", "c1", "2026-09-01", "45", "GBP", "cancelled", [("kettle", 1, "45")]),
    ("o4", "c2", "2026-05-01", "50", "CNY", "completed", [("tea", 10, "5")]),
    ("o5", "c5", "2026-09-05", "41", "GBP", "completed", [("tea", 1, "5"), ("pot", 1, "30"), ("coffee", 1, "6")]),
]


@pytest.fixture
def store(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        conn.execute(sa.insert(t.customers), [
            {"customer_id": "c1", "email": "ann.lee@example.com", "email_key": "ann.lee@example.com",
             "name": "Ann Lee", "locale": "en-GB", "attributes": {"tier": "gold", "points": 120}, **AUDIT},
            {"customer_id": "c2", "email": "wang.fang@example.cn", "email_key": "wang.fang@example.cn", "name": None,
             "locale": "zh-CN", "attributes": None, **AUDIT},
            {"customer_id": "c3", "email": None, "email_key": None, "name": "  ", "locale": "zh-TW",
             "attributes": {"tier": "bronze"}, **AUDIT},
            {"customer_id": "c5", "email": "c5@example.com", "email_key": "c5@example.com", "name": "Bo",
             "locale": None, "attributes": {}, **AUDIT},
        ])
        conn.execute(sa.insert(t.products), [
            {"sku": s, "name": n, "category": c, "price": Decimal(p), "launched_at": at(d), **AUDIT}
            for s, n, c, p, d in PRODUCTS])
        conn.execute(sa.insert(t.orders), [
            {"order_id": o, "customer_id": c, "ordered_at": at(d), "amount": Decimal(a), "currency": cur,
             "status": st, **AUDIT} for o, c, d, a, cur, st, _ in ORDERS])
        conn.execute(sa.insert(t.order_items), [
            {"order_id": o, "sku": s, "quantity": q, "unit_price": Decimal(u), **AUDIT}
            for o, *_, items in ORDERS for s, q, u in items])
        conn.execute(sa.insert(t.profiles), [
            {"customer_id": "c1", "run_id": "r1", "as_of": at("2026-09-30"), "churn_reason": "price",
             "dormancy_type": "natural_cycle"}])
    return engine


def product(sku: str) -> dict[str, object]:
    s, n, c, p, _ = next(row for row in PRODUCTS if row[0] == sku)
    return {"sku": s, "name": n, "category": c, "price": Decimal(p).quantize(Decimal("0.01")), "url": None}


def test_contexts(store: sa.Engine, now: datetime) -> None:
    with store.connect() as conn:
        ctx = build_contexts(conn, ["c1", "c2", "c3", "nobody"], now=now, currency_default="USD")
    assert set(ctx) == {"c1", "c2", "c3"}
    assert ctx["c1"] == {
        "customer_id": "c1", "name": "Ann Lee", "first_name": "Ann", "greeting_name": "Ann",
        "locale": "en-GB", "lang": "en", "currency": "GBP",
        "last_purchase": {"product": "Cups", "category": "kitchen", "date": at("2026-06-01"),
                          "amount": Decimal("8.00"), "currency": "GBP"},
        "purchase_history": [product("cup"), product("pot"), product("tea")],
        "days_since_last_purchase": 122,
        "member_benefits": {"tier": "gold", "points": 120},
        "whats_new": [product("matcha") | {"launched_at": at("2026-09-01")},
                      product("kettle") | {"launched_at": at("2026-08-01")},
                      product("oolong") | {"launched_at": at("2026-07-01")}],
        "recommendations": [product("coffee")],
        "churn_reason": "price", "dormancy_type": "natural_cycle",
    }
    c2 = ctx["c2"]
    assert (c2["name"], c2["first_name"], c2["greeting_name"], c2["lang"]) == ("wang.fang", "wang.fang",
                                                                             "wang.fang", "zh")
    assert c2["last_purchase"] == {"product": "Green tea", "category": "drinks", "date": at("2026-05-01"),
                                   "amount": Decimal("50.00"), "currency": "CNY"}
    assert c2["days_since_last_purchase"] == 153
    assert [p["sku"] for p in c2["recommendations"]] == ["pot", "coffee", "cup"]  # pot: 2 co-buyers, then ties
    assert [p["sku"] for p in c2["whats_new"]] == ["matcha", "oolong"]  # drinks only; "future" is not out yet
    assert c2["member_benefits"] == {"tier": None, "points": None}
    assert (c2["churn_reason"], c2["dormancy_type"]) == (None, None)
    c3 = ctx["c3"]
    assert (c3["name"], c3["greeting_name"], c3["lang"], c3["currency"]) == ("朋友", "朋友", "zh", "USD")
    assert c3["last_purchase"] is None and c3["days_since_last_purchase"] is None
    assert c3["purchase_history"] == c3["whats_new"] == c3["recommendations"] == []


def test_every_context_key_is_documented(store: sa.Engine, now: datetime) -> None:
    with store.connect() as conn:
        ctx = build_contexts(conn, ["c1"], now=now, currency_default="USD")
    assert set(ctx["c1"]) <= set(CONTEXT_VARIABLES)


# --- `winback messages preview / check` on the same store --------------------------------------------------------

@pytest.fixture
def cli(store: sa.Engine, store_url: str, tmp_path: Path, now: datetime):
    app = typer.Typer()
    messages.register(app)

    @app.callback()
    def main(ctx: typer.Context) -> None:
        settings = Settings(home=tmp_path, database_url=store_url, postal_address="1 Harbour Road, Leith",
                            mail_from="Teahouse <news@tea.example>", public_url="https://t.example")
        ctx.obj = Workspace(settings=settings, clock=lambda: now)
        ctx.call_on_close(ctx.obj.close)

    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_preview_html_in_the_customers_language(cli) -> None:
    result = cli("messages", "preview", "--programme", "winback-by-reason", "--step", "coupon", "--customer", "c2")
    assert result.exit_code == 0, result.output
    assert "wang.fang，您好" in result.output and "PREVIEW-CODE" in result.output
    assert "https://t.example/u/preview" in result.output and "1 Harbour Road, Leith" in result.output
    assert "立减 15%" in result.output and "2026年10月15日" in result.output  # now + 14 days, in Chinese


def test_preview_text_and_eml(cli) -> None:
    text = cli("messages", "preview", "--programme", "winback-by-reason", "--step", "coupon", "--customer", "c1",
               "--format", "text")
    assert text.exit_code == 0, text.output
    assert text.output.startswith("Subject: Your personal coupon: 15% off your next order\n\nHi Ann,")
    eml = cli("messages", "preview", "--programme", "winback-by-reason", "--step", "coupon", "--customer", "c1",
              "--format", "eml")
    assert eml.exit_code == 0, eml.output
    msg = email.message_from_bytes(eml.stdout_bytes, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["From"] == "Teahouse <news@tea.example>"
    zh = cli("messages", "preview", "--programme", "winback-by-reason", "--step", "coupon", "--customer", "c2",
             "--format", "eml")
    msg = email.message_from_bytes(zh.stdout_bytes, policy=email.policy.default)
    assert msg["Subject"] == "您的专属优惠券：下单立享八五折"
    assert "wang.fang，您好" in msg.get_body(("plain",)).get_content()


def test_preview_mistakes_are_user_errors(cli) -> None:
    result = cli("messages", "preview", "--programme", "winback-by-reason", "--step", "nope", "--customer", "c1")
    assert isinstance(result.exception, UserError) and "has no step 'nope'" in str(result.exception)
    result = cli("messages", "preview", "--programme", "winback-by-reason", "--step", "route", "--customer", "c1")
    assert isinstance(result.exception, UserError) and "sends nothing" in str(result.exception)
    result = cli("messages", "preview", "--programme", "winback-by-reason", "--step", "coupon", "--customer", "zz")
    assert isinstance(result.exception, UserError) and "no customer 'zz'" in str(result.exception)


def test_check(cli, tmp_path: Path) -> None:
    ok = cli("messages", "check", "four-email-winback", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["problems"] == 0
    programme = tmp_path / "p.yaml"
    programme.write_text("programme: p\naudience: \"stage == 'dormant'\"\nsteps:\n"
                         "  - send: {template: winback/reminder, subject: 'Hi {{ nickname }}'}\n"
                         "  - send: {template: nowhere/missing}\n", encoding="utf-8")
    bad = cli("messages", "check", str(programme), "--json")
    assert bad.exit_code == 1
    found = json.loads(bad.output)
    assert found["templates"][0]["problems"] == ["subject: unknown variable 'nickname'"]
    assert "no nowhere/missing.html" in found["templates"][1]["problems"][0]
