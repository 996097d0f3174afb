"""Reports and the complaint-rate guard against real stores (SQLite and PostgreSQL): a small programme run written
row by row, its report's numbers checked by hand; alerts once a day, pauses at the limit."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from winback.domain.errors import NotFoundError
from winback.jobs import guard as guard_jobs
from winback.jobs import programmes as programme_jobs
from winback.jobs import report as jobs
from winback.jobs.workspace import Workspace
from winback.measurement.guard import GuardLimits
from winback.settings import Settings
from winback.store import tables as t

START = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ENTERED = START - timedelta(days=10)

PROGRAMME = """
    programme: lift-test
    audience: "customer_id in ['nobody']"
    holdout: 0.5
    goal: {within: 30d}
    costs: {email: 0.001, margin: 0.3}
    steps:
      - id: first
        send: {template: winback/reminder, variants: [{name: a}, {name: b}], incentive: {kind: amount, value: 5}}
"""


@pytest.fixture
def ws(engine, store_url, tmp_path):
    workspace = Workspace(Settings(home=tmp_path, database_url=store_url,
                                   mail_from="Shop <news@shop.example>"), clock=lambda: START)
    yield workspace
    workspace.close()


def _insert(engine: sa.Engine, table: sa.Table, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)


@pytest.fixture
def run(engine, ws, tmp_path):
    """The programme with 10 treated (c0…c9) and 10 held out (c10…c19) enrolments, sends, engagements, orders."""
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PROGRAMME))
    programme_jobs.start(ws, str(path))
    _insert(engine, t.customers, [{"customer_id": f"c{i}", "email": f"c{i}@example.com", "row_hash": "x",
                                   "updated_at": START} for i in range(20)])
    _insert(engine, t.enrolments, [
        {"enrolment_id": i + 1, "programme_id": "lift-test", "version": 1, "customer_id": f"c{i}", "cycle": 1,
         "holdout": i >= 10, "state": "holdout" if i >= 10 else "completed", "entered_at": ENTERED}
        for i in range(20)])
    _insert(engine, t.ledger, [
        {"enrolment_id": i + 1, "step": "first", "programme_id": "lift-test", "version": 1, "customer_id": f"c{i}",
         "kind": "send", "channel": "email", "variant": "ab"[i % 2], "state": "sent", "attempts": 1, "fence": 1,
         "created_at": ENTERED + timedelta(hours=i), "updated_at": ENTERED} for i in range(10)])
    day = timedelta(days=1)
    _insert(engine, t.engagements, [
        {"customer_id": "c0", "enrolment_id": 1, "step": "first", "kind": "open", "at": ENTERED + day,
         "machine": False},
        {"customer_id": "c0", "enrolment_id": 1, "step": "first", "kind": "click", "at": ENTERED + day,
         "machine": False},
        {"customer_id": "c1", "enrolment_id": 2, "step": "first", "kind": "open", "at": ENTERED + day,
         "machine": True},
        {"customer_id": "c2", "enrolment_id": 3, "step": "first", "kind": "complaint", "at": ENTERED + day,
         "machine": False}])

    def order(oid: str, cid: str, at: datetime, amount: float, status: str = "completed",
              code: str | None = None) -> dict:
        return {"order_id": oid, "customer_id": cid, "ordered_at": at, "amount": amount, "currency": "USD",
                "status": status, "coupon_code": code, "row_hash": "x", "updated_at": START}

    _insert(engine, t.orders, [
        order("o0", "c0", ENTERED + 2 * day, 100.0),  # after a human click: attributed by click
        order("o1", "c1", ENTERED + 3 * day, 50.0, code="WB-ONE"),  # redeemed the coupon
        order("o2", "c2", ENTERED + 3 * day, 70.0, status="cancelled"),
        order("o10", "c10", ENTERED + 5 * day, 30.0),  # a holdout customer buys anyway
        order("o11", "c11", ENTERED - 10 * day, 90.0),  # before entering
    ])
    _insert(engine, t.coupons, [{"code": "WB-ONE", "programme_id": "lift-test", "kind": "amount", "value": 5.0,
                                 "state": "redeemed", "customer_id": "c1", "enrolment_id": 2, "step": "first",
                                 "created_at": ENTERED, "issued_at": ENTERED, "redeemed_at": ENTERED + 3 * day,
                                 "order_id": "o1"}])
    _insert(engine, t.profiles, [{"customer_id": f"c{i}", "run_id": "r", "as_of": ENTERED,
                                  "dormancy_type": "lapsed" if i < 5 else "seasonal", "stage": "dormant"}
                                 for i in range(10)])


def test_report_numbers_from_the_store(ws, run):
    r = jobs.report(ws, "lift-test")
    assert r["as_of"] == START.isoformat() and r["state"] == "running"
    assert (r["groups"]["treated"], r["groups"]["holdout"]) == (10, 10)
    assert (r["totals"]["treated_conversions"], r["totals"]["holdout_conversions"]) == (2, 1)
    assert r["lift"]["conversion_rate"]["estimate"] == pytest.approx(0.2 - 0.1)
    assert r["lift"]["revenue_per_customer"]["estimate"] == pytest.approx(15.0 - 3.0)
    assert r["lift"]["incremental_revenue"]["estimate"] == pytest.approx(120.0)
    assert r["costs"]["sending"] == 0.01 and r["costs"]["incentive"] == 5.0
    assert r["roi"]["roi"] == pytest.approx(round((120 * 0.3 - 5.01) / 5.01, 4))
    (first, a, b) = r["funnel"]
    assert (first["step"], first["sent"], first["delivered"], first["opens"], first["clicks"]) == \
        ("first", 10, 10, 1, 1)
    assert (first["machine_opens"], first["complaints"], first["conversions"], first["revenue"]) == (1, 1, 2, 150.0)
    assert (a["variant"], a["sent"], a["conversions"], b["variant"], b["conversions"]) == ("a", 5, 1, "b", 1)
    by = {(x["step"], x["variant"]): x for x in r["attribution"]["by_step"]}
    assert by[("first", "a")]["click_orders"] == 1 and by[("first", "b")]["coupon_orders"] == 1
    assert r["attribution"]["revenue"] == 150.0
    assert r["experiments"][0]["winner"] is None  # far fewer than 100 per arm
    assert r["srm"]["holdout"]["alarm"] is False
    dormancy = {x["value"]: x for x in r["failure_analysis"]["dimensions"]["dormancy_type"]}
    assert (dormancy["lapsed"]["size"], dormancy["lapsed"]["conversion_rate"]) == (3, 0.4)
    assert dormancy["seasonal"]["size"] == 5


def test_machine_opens_count_when_asked_and_as_of_moves_the_cut(ws, run):
    assert jobs.report(ws, "lift-test", include_machine=True)["funnel"][0]["opens"] == 2
    early = jobs.report(ws, "lift-test", as_of=ENTERED + timedelta(days=2, hours=12))
    assert (early["totals"]["treated_conversions"], early["totals"]["holdout_conversions"]) == (1, 0)


def test_unknown_programme(ws, run):
    with pytest.raises(NotFoundError, match="no programme 'nope'"):
        jobs.report(ws, "nope")


def _mail(engine: sa.Engine, n: int, *, complaints: int) -> None:
    """n emails sent in the last days and `complaints` complaints, on one enrolment of the programme."""
    _insert(engine, t.customers, [{"customer_id": "g", "email": "g@example.com", "row_hash": "x",
                                   "updated_at": START}])
    _insert(engine, t.enrolments, [{"enrolment_id": 100, "programme_id": "lift-test", "version": 1,
                                    "customer_id": "g", "cycle": 1, "holdout": False, "state": "active",
                                    "entered_at": START - timedelta(days=5)}])
    _insert(engine, t.ledger, [
        {"enrolment_id": 100, "step": f"s{i}", "programme_id": "lift-test", "version": 1, "customer_id": "g",
         "kind": "send", "channel": "email", "state": "sent", "attempts": 1, "fence": 1,
         "created_at": START - timedelta(days=2), "updated_at": START} for i in range(n)])
    _complain(engine, complaints)


def _complain(engine: sa.Engine, n: int) -> None:
    if n:
        _insert(engine, t.engagements, [{"customer_id": "g", "enrolment_id": 100, "kind": "complaint",
                                         "at": START - timedelta(hours=1), "machine": False} for _ in range(n)])


def _alerts(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.alerts).where(t.alerts.c.kind == "complaint_rate")).all()


def _state(engine: sa.Engine) -> tuple[str, str | None]:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.programmes.c.state, t.programmes.c.state_reason)).one()


def test_guard_alerts_once_a_day_then_pauses(engine, ws, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PROGRAMME))
    programme_jobs.start(ws, str(path))
    _mail(engine, 2_000, complaints=1)  # 0.05 %
    (action,) = guard_jobs.check_complaint_rates(engine, now=START, sending_domain="shop.example")
    assert (action.action, action.delivered, action.complaints) == ("none", 2_000, 1) and not _alerts(engine)
    _complain(engine, 1)  # 0.1 %
    (action,) = guard_jobs.check_complaint_rates(engine, now=START, sending_domain="shop.example")
    assert action.action == "alert" and action.alerted and _state(engine)[0] == "running"
    (again,) = guard_jobs.check_complaint_rates(engine, now=START + timedelta(hours=1), sending_domain="shop.example")
    assert again.action == "alert" and not again.alerted and len(_alerts(engine)) == 1  # once per day
    (alert,) = _alerts(engine)
    assert alert.scope == "shop.example" and alert.detail["complaints"] == 2
    _complain(engine, 2)  # 0.2 %
    (pause,) = guard_jobs.check_complaint_rates(engine, now=START + timedelta(hours=2), sending_domain="shop.example")
    assert pause.action == "pause" and pause.paused == ["lift-test"]
    state, reason = _state(engine)
    assert state == "paused" and "complaint rate" in reason
    assert len(_alerts(engine)) == 2


def test_guard_does_nothing_below_the_minimum_volume(engine, ws, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(PROGRAMME))
    programme_jobs.start(ws, str(path))
    _mail(engine, 500, complaints=50)
    (action,) = guard_jobs.check_complaint_rates(engine, now=START, sending_domain="shop.example")
    assert action.action == "none" and not _alerts(engine) and _state(engine)[0] == "running"
    (small,) = guard_jobs.check_complaint_rates(engine, now=START, sending_domain="shop.example",
                                          limits=GuardLimits(min_delivered=100))
    assert small.action == "pause" and _state(engine)[0] == "paused"
    assert guard_jobs.guard(ws)["domains"][0]["domain"] == "shop.example"
