"""Coupons against real stores (SQLite and PostgreSQL): the pool, idempotent issue, concurrent claims, redemption
by orders, the export, the CLI, and the engine issuing a code per incentive step that a retry renders again."""

from __future__ import annotations

import csv
import email
import json
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from winback.campaigns.scheduler import schedule
from winback.cli import coupons as coupons_cli
from winback.jobs import programmes as jobs
from winback.jobs.workspace import Workspace
from winback.messaging import coupons as cp
from winback.messaging.transports.base import Delivery
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t
from winback.store.db import create_store_engine, write_transaction

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ADDRESS = "Example Shop, 1 Example Street, 10115 Berlin"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def customers(engine):
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
             "name": f"Customer {i}", "locale": "en", "time_zone": "UTC", "row_hash": "x", "updated_at": NOW}
            for i in range(10)] + [
            {"customer_id": "=cmd|' /C calc'!A0", "email": "x@example.com", "email_key": "x@example.com",
             "name": "X", "locale": "en", "time_zone": "UTC", "row_hash": "x", "updated_at": NOW}])
    return engine


def _issue(conn, enrolment_id: int, customer_id: str = "c1", step: str = "offer", **kw):
    args = {"programme_id": "p", "enrolment_id": enrolment_id, "step": step, "customer_id": customer_id,
            "kind": "percent", "value": 15.0, "expires_at": NOW + timedelta(days=7), "now": NOW, **kw}
    return cp.issue(conn, **args)


def _states(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(t.coupons.c.code, t.coupons.c.state)).all())


def test_the_pool_is_claimed_first_and_issue_is_idempotent(customers) -> None:
    engine = customers
    with write_transaction(engine) as conn:
        pool = cp.generate_pool(conn, programme_id="p", count=2, kind="percent", value=15, now=NOW)
        cp.generate_pool(conn, programme_id="p", count=3, kind="amount", value=5, now=NOW)
    assert len(pool) == 2 and all(cp.valid_code(code) for code in pool)
    with write_transaction(engine) as conn:
        first = _issue(conn, 1, "c1")
        again = _issue(conn, 1, "c1")
        second = _issue(conn, 2, "c2")
        third = _issue(conn, 3, "c3")  # the pool of this kind and value is empty now: a fresh code
    assert first.code == again.code and first.code in pool and second.code in pool and first.code != second.code
    assert third.code not in pool and cp.valid_code(third.code)
    assert (first.state, first.customer_id, first.expires_at) == ("issued", "c1", NOW + timedelta(days=7))
    assert first.as_context() == {"code": first.code, "kind": "percent", "value": 15.0,
                                  "expires_at": NOW + timedelta(days=7)}
    with engine.connect() as conn:
        counts = {(r["state"]): r["count"] for r in cp.counts(conn, programme_id="p")}
    assert counts == {"available": 3, "issued": 3}


def test_concurrent_claims_from_a_pool_of_one_never_share_a_code(customers, store_url) -> None:
    with write_transaction(customers) as conn:
        [pooled] = cp.generate_pool(conn, programme_id="p", count=1, kind="percent", value=15, now=NOW)
    barrier = threading.Barrier(2)
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def claim(enrolment_id: int) -> None:
        engine = create_store_engine(store_url)  # a connection (and engine) of its own
        try:
            barrier.wait()
            with write_transaction(engine) as conn:
                results[enrolment_id] = _issue(conn, enrolment_id, f"c{enrolment_id}").code
                time.sleep(0.3)  # hold the claim while the other transaction tries
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=claim, args=(i,)) for i in (1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    codes = list(results.values())
    assert len(codes) == 2 and len(set(codes)) == 2 and codes.count(pooled) == 1
    assert all(cp.valid_code(code) for code in codes)
    with customers.connect() as conn:
        rows = conn.execute(sa.select(t.coupons.c.code, t.coupons.c.enrolment_id, t.coupons.c.state)).all()
    assert sorted(r.enrolment_id for r in rows) == [1, 2] and {r.state for r in rows} == {"issued"}


def _order(order_id: str, customer_id: str, at: datetime, code: str | None) -> dict:
    return {"order_id": order_id, "customer_id": customer_id, "ordered_at": at, "amount": 20, "currency": "EUR",
            "status": "completed", "coupon_code": code, "row_hash": "x", "updated_at": at}


def test_orders_redeem_their_customers_codes_within_the_expiry(customers) -> None:
    engine = customers
    with write_transaction(engine) as conn:
        good, shared, late, lower = (_issue(conn, i, f"c{i}") for i in (1, 2, 3, 4))
    with engine.begin() as conn:
        conn.execute(t.orders.insert(), [
            _order("o0", "c1", NOW - timedelta(days=1), good.code),  # before the code was sent: not a redemption
            _order("o1", "c1", NOW + timedelta(days=1), cp.display(good.code)),  # hyphens are fine
            _order("o1b", "c1", NOW + timedelta(days=2), good.code),  # a second use changes nothing
            _order("o2", "c5", NOW + timedelta(days=1), shared.code),  # somebody else's code
            _order("o3", "c3", NOW + timedelta(days=9), late.code),  # after expiry
            _order("o4", "c4", NOW + timedelta(days=3), lower.code.lower()),
            _order("o5", "c6", NOW + timedelta(days=1), "NOTOURS"),
            _order("o6", "c6", NOW + timedelta(days=1), None),
        ])
    with write_transaction(engine) as conn:
        report = cp.redeem_orders(conn, now=NOW + timedelta(days=10))
        expired = cp.expire(conn, NOW + timedelta(days=10))
    assert (report.redeemed, report.other_customer, report.after_expiry, report.unknown) == (2, 1, 1, 1)
    assert report.before_issue == 1
    assert int(report) == 2 and expired == 2
    states = _states(engine)
    assert states[good.code] == states[lower.code] == "redeemed"
    assert states[shared.code] == states[late.code] == "expired"
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.coupons).where(t.coupons.c.code == good.code)).one()
    assert (row.order_id, row.redeemed_at) == ("o1", NOW + timedelta(days=10))
    with write_transaction(engine) as conn:  # idempotent
        assert cp.redeem_orders(conn, now=NOW + timedelta(days=11)).redeemed == 0


def test_an_order_imported_after_expiry_still_redeems_a_code_used_in_time(customers) -> None:
    engine = customers
    with write_transaction(engine) as conn:
        coupon = _issue(conn, 1, "c1")
        cp.expire(conn, NOW + timedelta(days=8))
    with engine.begin() as conn:
        conn.execute(t.orders.insert(), [{**_order("o1", "c1", NOW + timedelta(days=6), coupon.code),
                                          "updated_at": NOW + timedelta(days=8, hours=1)}])
    schedule(engine, now=NOW + timedelta(days=8, hours=2))  # the scheduler pass redeems recent orders
    assert _states(engine)[coupon.code] == "redeemed"


def test_export_neutralises_formula_cells(customers, tmp_path) -> None:
    engine = customers
    with write_transaction(engine) as conn:
        coupon = _issue(conn, 1, "=cmd|' /C calc'!A0")
        cp.generate_pool(conn, programme_id="other", count=2, kind="free_shipping", value=0, now=NOW)
    path = tmp_path / "codes.csv"
    with engine.connect() as conn:
        assert cp.export_csv(conn, path, programme_id="p") == 1
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["code", "kind", "value", "expires_at", "customer_id", "state"]
    assert rows[1][0] == coupon.code and rows[1][4] == "'=cmd|' /C calc'!A0" and rows[1][5] == "issued"
    with engine.connect() as conn:
        assert cp.export_csv(conn, path, state="available") == 2


def test_cli(customers, store_url, tmp_path) -> None:
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS), clock=Clock(NOW))
    app = typer.Typer()
    coupons_cli.register(app)

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = ws

    runner = CliRunner(env={"COLUMNS": "250"})
    try:
        made = runner.invoke(app, ["coupons", "generate", "--programme", "p", "--count", "5", "--kind", "percent",
                                   "--value", "10", "--json"])
        assert made.exit_code == 0, made.output
        assert json.loads(made.output)["generated"] == 5
        listed = json.loads(runner.invoke(app, ["coupons", "list", "--json"]).output)
        assert listed["counts"] == [{"programme": "p", "state": "available", "count": 5}]
        assert "available" in runner.invoke(app, ["coupons", "list", "--programme", "p"]).output
        out = tmp_path / "out.csv"
        exported = runner.invoke(app, ["coupons", "export", str(out), "--state", "available"])
        assert exported.exit_code == 0 and len(out.read_text().splitlines()) == 6
        redeemed = runner.invoke(app, ["coupons", "redeem", "--json"])
        assert redeemed.exit_code == 0 and json.loads(redeemed.output)["redeemed"] == 0
        bad = runner.invoke(app, ["coupons", "generate", "--programme", "p", "--count", "1", "--kind", "bogus"])
        assert bad.exit_code != 0
    finally:
        ws.close()


INCENTIVE = """
    programme: offers
    audience: "customer_id in ['c1', 'c2', 'c3']"
    holdout: 0
    retries: {max_attempts: 3, backoff: 1m}
    steps:
      - id: offer
        send:
          template: winback/incentive
          subject: A little something
          incentive: {kind: percent, value: 15, expires: 7d}
"""


def _text(payload: bytes) -> str:
    msg = email.message_from_bytes(payload, policy=policy.default)
    return msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()


def test_the_engine_renders_an_issued_code_and_a_retry_renders_the_same_one(customers, store_url, tmp_path) -> None:
    engine = customers
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS), clock=Clock(NOW))
    with write_transaction(engine) as conn:
        [pooled] = cp.generate_pool(conn, programme_id="offers", count=1, kind="percent", value=15, now=NOW)
    path = tmp_path / "offers.yaml"
    path.write_text(textwrap.dedent(INCENTIVE))
    tries: dict[str, list[bytes]] = {}

    def respond(message):
        tries.setdefault(message.customer_id, []).append(message.payload)
        if message.customer_id == "c1" and len(tries["c1"]) == 1:
            return Delivery("soft_failed", "451 4.7.1 try later", "4.7.1")
        return Delivery("sent")

    try:
        jobs.start(ws, str(path))
        jobs.run(ws, until_idle=True, simulate=True, transport=MemoryTransport(respond), seed=1)
    finally:
        ws.close()
    with engine.connect() as conn:
        issued = {r.customer_id: r for r in conn.execute(sa.select(t.coupons))}
    assert set(issued) == {"c1", "c2", "c3"} and pooled in {r.code for r in issued.values()}
    assert len({r.code for r in issued.values()}) == 3
    assert len(tries["c1"]) == 2
    for cid, payloads in tries.items():
        code = issued[cid].code
        assert all(code in _text(p) for p in payloads), cid
        assert issued[cid].step == "offer" and issued[cid].state == "issued"
        assert issued[cid].expires_at == issued[cid].issued_at + timedelta(days=7)
    assert "15%" in _text(tries["c2"][0])


def test_an_orders_import_redeems_the_codes_it_carries(customers, store_url, tmp_path) -> None:
    from winback.jobs import data

    engine = customers
    with write_transaction(engine) as conn:
        coupon = _issue(conn, 1, "c1")
    orders = tmp_path / "orders.csv"
    at = (NOW + timedelta(days=2)).isoformat()
    orders.write_text(f"order_id,customer_id,ordered_at,amount,coupon_code\nx1,c1,{at},30,{cp.display(coupon.code)}\n"
                      f"x2,c2,{at},30,\n", encoding="utf-8")
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS),
                   clock=Clock(NOW + timedelta(days=3)))
    try:
        data.ingest(ws, "orders", orders, currency="EUR")
    finally:
        ws.close()
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.coupons).where(t.coupons.c.code == coupon.code)).one()
    assert (row.state, row.order_id) == ("redeemed", "x1")
