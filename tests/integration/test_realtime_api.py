"""The real-time API over HTTP against real stores: keys, scopes, validation as in file import, all-or-nothing
writes, idempotence, coupons and purchase exits through the worker, provider webhooks, limits."""

from __future__ import annotations

import hashlib
import json
import textwrap
import warnings
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from winback.api.keys import KeyCache, RateLimiter, create_key, list_keys, parse_key, revoke_key, verify_key
from winback.api.realtime import (
    MAX_BODY_BYTES,
    ApiRuntime,
    record_validator,
    router,
    store_records,
    validate_records,
)
from winback.campaigns.scheduler import schedule
from winback.domain.entities import ENTITIES
from winback.ingest.load import ingest_file
from winback.jobs import programmes as jobs
from winback.jobs.workspace import Workspace
from winback.messaging.coupons import display, make_code
from winback.messaging.inbound import sign_provider_webhook
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t
from winback.store.db import create_store_engine
from winback.store.migrate import upgrade

with warnings.catch_warnings():
    # Starlette's test client asks for `httpx2` and warns when it falls back to `httpx`, which is what is installed.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`", category=UserWarning)
    from fastapi.testclient import TestClient

START = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PROVIDER_SECRET = "acme-webhook-secret-0123456789"
ADDRESS = "Example Shop, 1 Example Street, 10115 Berlin"
ORDER = {"order_id": "A-1", "customer_id": "c1", "ordered_at": "2026-10-01T09:30:00+02:00", "amount": 42.5,
         "currency": "eur", "status": "Complete", "coupon_code": None, "channel": "web"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Ticker:
    """A monotonic timer the test moves by hand."""

    def __init__(self) -> None:
        self.at = 1_000.0

    def __call__(self) -> float:
        return self.at


class Api:
    def __init__(self, client: TestClient, app: FastAPI, engine: sa.Engine, clock: Clock) -> None:
        self.client, self.app, self.engine, self.clock = client, app, engine, clock
        self.key = create_key(engine, name="shop", now=clock())

    def post(self, path: str, body: object = None, *, key: str | None = "default", **kwargs: object):
        key = self.key if key == "default" else key
        headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if body is not None:
            kwargs["json"] = body
        return self.client.post(f"/api/v1/{path}", headers=headers, **kwargs)

    def rows(self, table: sa.Table) -> list[dict]:
        key = list(table.primary_key.columns)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table).order_by(*key)).mappings()]


def _customers(engine: sa.Engine, n: int = 5) -> None:
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
             "name": f"Customer {i}", "row_hash": "x", "updated_at": START} for i in range(n)])


@pytest.fixture
def api(engine, tmp_path):
    """An app with only the real-time router, on the store, a movable clock, no rate limit."""
    app = FastAPI()
    app.state.engine = engine
    app.state.settings = Settings(home=tmp_path, provider_webhook_secrets=f"acme:{PROVIDER_SECRET}", api_rate=0)
    clock = Clock(START)
    app.state.clock = clock
    app.include_router(router)
    _customers(engine)
    with TestClient(app) as client:
        yield Api(client, app, engine, clock)


# --- keys ------------------------------------------------------------------------------------------------------------

def test_keys_are_stored_hashed_and_verified(engine):
    key = create_key(engine, name="billing", scopes=["orders:write"], now=START)
    key_id, secret = parse_key(key)
    assert key.startswith(f"wbk_{key_id}_") and len(secret) >= 43
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.api_keys)).mappings().one()
    assert secret not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["scopes"] == ["orders:write"]
    found = verify_key(engine, key, now=START)
    assert found is not None and found.allows("orders:write") and not found.allows("events:write")
    assert verify_key(engine, key[:-1] + ("A" if key[-1] != "A" else "B"), now=START) is None
    assert verify_key(engine, "wbk_0000000000000000_" + secret, now=START) is None


def test_last_used_is_written_at_most_once_a_minute(engine):
    key = create_key(engine, name="shop", now=START)
    for seconds in (0, 20, 59):
        verify_key(engine, key, now=START + timedelta(seconds=seconds))
    assert list_keys(engine)[0].last_used_at == START
    verify_key(engine, key, now=START + timedelta(seconds=61))
    assert list_keys(engine)[0].last_used_at == START + timedelta(seconds=61)


def test_revoked_keys_are_refused_and_revoking_twice_changes_nothing(engine):
    key = create_key(engine, name="shop", now=START)
    key_id, _ = parse_key(key)
    first = revoke_key(engine, key_id, now=START + timedelta(hours=1))
    again = revoke_key(engine, key, now=START + timedelta(hours=2))  # the full key is accepted too
    assert first.revoked_at == again.revoked_at == START + timedelta(hours=1)
    assert verify_key(engine, key, now=START + timedelta(hours=3)) is None


# --- authentication ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer wbk_nonsense",
                                           "Bearer wbk_0123456789abcdef_" + "x" * 43])
def test_no_or_bad_key_is_401(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    res = api.post("orders", ORDER, key=None, headers=headers)
    assert res.status_code == 401 and res.headers["WWW-Authenticate"] == "Bearer"
    assert res.json()["errors"][0]["code"] == "unauthorized"
    assert api.rows(t.orders) == []


def test_revoked_key_is_401(api):
    revoke_key(api.engine, api.key, now=START)
    res = api.post("orders", ORDER)
    assert res.status_code == 401 and api.rows(t.orders) == []


def test_a_cached_key_stops_working_when_its_cache_entry_expires(api):
    ticker = Ticker()
    api.app.state.realtime_api = ApiRuntime(keys=KeyCache(30, timer=ticker))
    assert api.post("orders", ORDER).status_code == 200
    revoke_key(api.engine, api.key, now=START)
    ticker.at += 29
    assert api.post("orders", ORDER).status_code == 200  # still cached: the documented delay
    ticker.at += 2
    assert api.post("orders", ORDER).status_code == 401


def test_wrong_scope_is_403(api):
    events_only = create_key(api.engine, name="tracker", scopes=["events:write"], now=START)
    res = api.post("orders", ORDER, key=events_only)
    assert res.status_code == 403 and res.json()["errors"][0]["code"] == "forbidden"
    assert api.rows(t.orders) == []
    event = {"customer_id": "c1", "occurred_at": "2026-10-01T11:00:00Z", "type": "page_view"}
    assert api.post("events", event, key=events_only).status_code == 200


def test_rate_limit_per_key_answers_429_with_retry_after(api):
    ticker = Ticker()
    api.app.state.realtime_api = ApiRuntime(limiter=RateLimiter(0.5, 2, timer=ticker))
    other = create_key(api.engine, name="other", now=START)
    assert [api.post("orders", ORDER).status_code for _ in range(2)] == [200, 200]
    limited = api.post("orders", ORDER)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert api.post("orders", ORDER, key=other).status_code == 200  # each key has its own bucket
    ticker.at += 2
    assert api.post("orders", ORDER).status_code == 200


# --- records -------------------------------------------------------------------------------------------------------

def test_an_order_is_stored_exactly_as_a_file_import_stores_it(api, tmp_path):
    res = api.post("orders", ORDER)
    assert res.status_code == 200
    assert res.json() == {"received": 1, "inserted": 1, "updated": 0, "unchanged": 0}
    [via_api] = api.rows(t.orders)
    assert via_api["import_id"] is None and via_api["updated_at"] == START
    assert (via_api["currency"], via_api["status"], via_api["ordered_at"]) == ("EUR", "completed",
                                                                               datetime(2026, 10, 1, 7, 30, tzinfo=UTC))
    with api.engine.begin() as conn:
        conn.execute(t.orders.delete())
    path = tmp_path / "orders.jsonl"
    path.write_text(json.dumps(ORDER) + "\n")
    summary = ingest_file(api.engine, "orders", path, now=START, default_currency="USD")
    assert summary.inserted == 1
    [via_file] = api.rows(t.orders)
    assert via_file.pop("import_id") == summary.import_id
    via_api.pop("import_id")
    assert via_api == via_file
    again = api.post("orders", ORDER).json()
    assert again == {"received": 1, "inserted": 0, "updated": 0, "unchanged": 1}


def test_a_batch_with_one_bad_record_is_refused_whole(api):
    good = [{**ORDER, "order_id": f"B-{i}"} for i in range(3)]
    bad = [good[0], {**good[1], "amount": -5, "ordered_at": "not a date"}, good[2]]
    res = api.post("orders", bad)
    assert res.status_code == 422
    assert sorted((e["index"], e["field"], e["code"]) for e in res.json()["errors"]) == [
        (1, "amount", "range"), (1, "ordered_at", "bad_date")]
    unknown_customer = [good[0], {**good[1], "customer_id": "nobody"}, {**good[2], "amount": "lots"}]
    res = api.post("orders", unknown_customer)  # what the store knows and what validation finds, in one answer
    assert res.status_code == 422
    assert [(e["index"], e["field"], e["code"]) for e in res.json()["errors"]] == [
        (1, "customer_id", "unknown_customer"), (2, "amount", "type")]
    res = api.post("orders", [good[0], {**good[1], "totl": 3}, "not an object"])
    assert [(e["index"], e["field"], e["code"]) for e in res.json()["errors"]] == [
        (1, "totl", "unknown_field"), (2, None, "format")]
    assert api.rows(t.orders) == []
    assert api.post("orders", good).json()["inserted"] == 3


def test_reposting_is_idempotent_and_changes_say_so(api):
    batch = [{**ORDER, "order_id": "I-1"}, {**ORDER, "order_id": "I-2"}]
    assert api.post("orders", batch).json() == {"received": 2, "inserted": 2, "updated": 0, "unchanged": 0}
    before = api.rows(t.orders)
    api.clock.now = START + timedelta(minutes=5)
    assert api.post("orders", batch).json() == {"received": 2, "inserted": 0, "updated": 0, "unchanged": 2}
    assert api.rows(t.orders) == before  # not even updated_at moved
    changed = [{**batch[0], "amount": "42.50"}, {**batch[1], "status": "refunded"}]  # 42.5 == 42.50: unchanged
    assert api.post("orders", changed).json() == {"received": 2, "inserted": 0, "updated": 1, "unchanged": 1}
    after = {r["order_id"]: r for r in api.rows(t.orders)}
    assert after["I-2"]["status"] == "refunded" and after["I-2"]["updated_at"] == START + timedelta(minutes=5)
    assert after["I-1"]["updated_at"] == START
    repeat = api.post("orders", [batch[0], batch[0]]).json()
    assert repeat == {"received": 2, "inserted": 0, "updated": 0, "unchanged": 2}
    conflict = api.post("orders", [{**ORDER, "order_id": "I-3"}, {**ORDER, "order_id": "I-3", "amount": 1}])
    assert conflict.status_code == 422
    assert [(e["index"], e["code"]) for e in conflict.json()["errors"]] == [(1, "duplicate_id")]
    assert "first at index 0" in conflict.json()["errors"][0]["problem"]
    assert len(api.rows(t.orders)) == 2


def test_events_feedback_and_subscriptions(api):
    event = {"customer_id": "c2", "occurred_at": "2026-10-01T11:00:00Z", "type": "cart_add", "sku": "S1",
             "properties": {"cart": 3}}
    res = api.post("events", [event, event])
    assert res.json() == {"received": 2, "inserted": 1, "updated": 0, "unchanged": 1}
    [stored] = api.rows(t.events)
    assert stored["event_id"].startswith("h") and stored["properties"] == {"cart": 3, "sku": "S1"}
    feedback = {"feedback_id": "F1", "customer_id": "c2", "kind": "ticket", "rating": 2, "text": "late",
                "opened_at": "2026-09-30T08:00:00Z", "resolved_at": "2026-09-29T08:00:00Z"}
    res = api.post("feedback", feedback)
    assert res.status_code == 422 and res.json()["errors"][0]["field"] == "resolved_at"
    del feedback["resolved_at"]
    assert api.post("feedback", feedback).json()["inserted"] == 1
    sub = {"subscription_id": "S1", "customer_id": "c3", "plan": "pro", "status": "active", "amount": 10,
           "started_at": "2026-01-01T00:00:00Z", "renews_at": "2026-11-01T00:00:00Z"}
    assert api.post("subscriptions", sub).json()["inserted"] == 1
    cancelled = {**sub, "status": "canceled", "cancelled_at": "2026-10-01T10:00:00Z", "cancel_reason": "price"}
    assert api.post("subscriptions", cancelled).json()["updated"] == 1
    [row] = api.rows(t.subscriptions)
    assert (row["status"], row["cancel_reason"], row["currency"]) == ("cancelled", "price", "USD")


def test_body_limits(api):
    big = json.dumps([{**ORDER, "order_id": f"L-{i}", "channel": "x" * 100} for i in range(5_000)]).encode()
    assert len(big) > MAX_BODY_BYTES
    res = api.post("orders", content=big, headers={"Content-Type": "application/json"})
    assert res.status_code == 413 and res.json()["errors"][0]["code"] == "too_large"

    def chunks():  # no Content-Length: refused while it streams
        for i in range(0, len(big), 65_536):
            yield big[i:i + 65_536]

    res = api.post("orders", content=chunks(), headers={"Content-Type": "application/json"})
    assert res.status_code == 413
    many = [{**ORDER, "order_id": f"M-{i}"} for i in range(1_001)]
    res = api.post("orders", many)
    assert res.status_code == 422 and res.json()["errors"][0]["code"] == "too_many"
    assert api.post("orders", content=b"{not json").status_code == 400
    assert api.post("orders", []).status_code == 422
    assert api.rows(t.orders) == []


def test_a_concurrent_insert_of_the_same_id_is_retried_once(postgres_url):
    """PostgreSQL only: SQLite takes the write lock at BEGIN, so two writers never interleave there."""
    engine, rival = create_store_engine(postgres_url), create_store_engine(postgres_url)
    upgrade(engine)
    _customers(engine)
    orders = ENTITIES["orders"]

    def records(order: dict) -> tuple:
        validator = record_validator(orders, now=START, default_currency="USD")
        valid, errors = validate_records(orders, [order], validator=validator)
        assert errors == []
        return validator, valid

    raced: list[dict] = []

    def rival_inserts_after_our_lookup(conn, cursor, statement, *args):
        if not raced and statement.startswith("SELECT") and "row_hash" in statement and "orders" in statement:
            validator, valid = records(ORDER)
            raced.append(store_records(rival, orders, validator=validator, records=valid, now=START).as_dict())

    sa.event.listen(engine, "after_cursor_execute", rival_inserts_after_our_lookup)
    try:
        mine = {**ORDER, "amount": 50}
        validator, valid = records(mine)
        summary = store_records(engine, orders, validator=validator, records=valid, now=START)
        assert raced and raced[0]["inserted"] == 1  # the rival's insert landed between our lookup and our insert
        assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 0)
        with engine.connect() as conn:
            assert conn.execute(sa.select(t.orders.c.amount)).scalars().all() == [50]
    finally:
        engine.dispose()
        rival.dispose()


# --- what the worker does with orders written here -------------------------------------------------------------

def test_an_order_with_a_coupon_redeems_it_at_the_next_scheduler_pass(api):
    code = make_code(Random(7))
    with api.engine.begin() as conn:
        conn.execute(t.coupons.insert().values(code=code, programme_id="p", kind="percent", value=10, state="issued",
                                               customer_id="c1", created_at=START, issued_at=START,
                                               expires_at=START + timedelta(days=14)))
    api.clock.now = START + timedelta(hours=1)
    order = {**ORDER, "order_id": "C-1", "ordered_at": "2026-10-01T12:30:00Z", "coupon_code": display(code).lower()}
    assert api.post("orders", order).json()["inserted"] == 1
    schedule(api.engine, now=START + timedelta(hours=2))
    [coupon] = api.rows(t.coupons)
    assert (coupon["state"], coupon["order_id"]) == ("redeemed", "C-1")


PROGRAMME = """
    programme: comeback
    audience: "customer_id in ['c1', 'c2', 'c3']"
    holdout: 0
    steps:
      - id: first
        send: {template: winback/reminder, subject: Hello}
      - wait: 7d
      - id: second
        send: {template: winback/whats-new, subject: Again}
"""


def test_an_order_for_an_enrolled_customer_ends_the_enrolment_at_the_next_worker_tick(api, store_url, tmp_path):
    clock = Clock(START)
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS), clock=clock)
    try:
        path = tmp_path / "comeback.yaml"
        path.write_text(textwrap.dedent(PROGRAMME))
        assert jobs.start(ws, str(path))["enrolled"] == 3
        jobs.run(ws, until_idle=True, simulate=False, transport=MemoryTransport(), seed=1)
        api.clock.now = START + timedelta(hours=1)
        order = {**ORDER, "order_id": "W-1", "customer_id": "c2", "ordered_at": "2026-10-01T12:45:00Z"}
        assert api.post("orders", order).json()["inserted"] == 1
        clock.now = START + timedelta(hours=2)
        report = jobs.run(ws, until_idle=True, simulate=False, transport=MemoryTransport(), seed=1)
        assert report.exited == {"comeback": 1}
        state = {e["customer_id"]: (e["state"], e["outcome"]) for e in api.rows(t.enrolments)}
        assert state == {"c1": ("active", None), "c2": ("exited", "reactivated"), "c3": ("active", None)}
    finally:
        ws.close()


# --- provider webhooks -------------------------------------------------------------------------------------------

def _signed(body: bytes, *, secret: str = PROVIDER_SECRET, at: datetime = START) -> dict[str, str]:
    ts = int(at.timestamp())
    return {"X-Winback-Timestamp": str(ts), "X-Winback-Signature": sign_provider_webhook(secret, body, ts),
            "Content-Type": "application/json"}


WEBHOOK_EVENTS = [{"id": "ev1", "type": "bounce", "email": "c1@example.com", "status": "5.1.1"},
                  {"id": "ev2", "type": "complaint", "email": "c2@example.com"},
                  {"id": "ev3", "type": "delivered", "email": "c3@example.com"}]


def test_provider_webhook_with_a_good_signature_is_applied_once(api):
    body = json.dumps(WEBHOOK_EVENTS).encode()
    res = api.post("webhooks/acme", content=body, headers=_signed(body))
    assert res.status_code == 200
    assert res.json() == {"received": 3, "processed": 3}
    assert {(r["address_key"], r["basis"]) for r in api.rows(t.suppressions)} == {
        ("c1@example.com", "hard_bounce"), ("c2@example.com", "complaint")}
    assert {r["source"] for r in api.rows(t.inbound_messages)} == {"webhook:acme"}
    again = api.post("webhooks/acme", content=body, headers=_signed(body))
    assert again.json() == {"received": 3, "duplicate": 3}


def test_provider_webhook_with_a_bad_signature_writes_nothing(api):
    body = json.dumps(WEBHOOK_EVENTS).encode()
    for headers in ({"Content-Type": "application/json"}, _signed(body, secret="not-the-secret"),
                    _signed(body, at=START - timedelta(hours=1)), _signed(body + b" ")):
        res = api.post("webhooks/acme", content=body, headers=headers)
        assert res.status_code == 401 and res.json()["errors"][0]["code"] == "bad_signature"
    assert api.post("webhooks/other", content=body, headers=_signed(body)).status_code == 404
    assert api.post("webhooks/acme", content=body, headers=_signed(body), key=None).status_code == 401
    no_webhooks = create_key(api.engine, name="shop", scopes=["orders:write"], now=START)
    assert api.post("webhooks/acme", content=body, headers=_signed(body), key=no_webhooks).status_code == 403
    for table in (t.suppressions, t.inbound_messages, t.engagements, t.address_bounces):
        assert api.rows(table) == []
