"""Segments counted on a small hand-built store, on SQLite and PostgreSQL, against answers worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from winback.domain.errors import SegmentError
from winback.segments import (
    count_segment,
    matches,
    matching_ids,
    parse_segment,
    segment_condition,
    segment_from,
    segment_select,
)
from winback.store import tables as t

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
EVIL = "x'); DROP TABLE customers; --"
IDS = ["c1", "c2", "c3", "c4", "c5", EVIL]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _audit(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "row_hash": "h", "updated_at": NOW}


CUSTOMERS = [
    dict(customer_id="c1", email="a@x.com", email_key="a@x.com", phone="+15550001", locale="en-US",
         time_zone="Europe/London", created_at=at("2025-01-01 09:00"), attributes={"plan": "gold", "age": "42"}),
    dict(customer_id="c2", email="b@x.com", email_key="b@x.com", phone=None, locale="zh-CN",
         time_zone="Asia/Shanghai", created_at=at("2026-09-01 23:30"), attributes={"plan": "silver", "age": 30}),
    dict(customer_id="c3", email=None, email_key=None, phone="+15550003", locale=None, time_zone=None,
         created_at=None, attributes=None),
    dict(customer_id="c4", email="d@x.com", email_key="d@x.com", phone=None, locale="en-GB", time_zone=None,
         created_at=at("2026-01-01 00:00"), attributes={"plan": "gold", "vip": True, "age": "old"}),
    dict(customer_id="c5", email="e@x.com", email_key="e@x.com", phone="15550005", locale="en-US", time_zone=None,
         created_at=at("2026-09-30 00:00"), attributes={"age": 7.5, "会员 等级": "金", 'say "hi"': "yes"}),
    dict(customer_id=EVIL, email=None, email_key=None, phone=None, locale=None, time_zone=None, created_at=None,
         attributes={"plan": "' OR 1=1 --"}),
]

PROFILES = [  # c3 and c5 have never been scored
    dict(customer_id="c1", stage="at_risk", stage_since=at("2026-08-01 06:00"), clv=250.0, p_churn=0.4, rfm_r=2,
         n_orders=2),
    dict(customer_id="c2", stage="dormant", stage_since=at("2026-09-30 23:59"), clv=150.0, p_churn=None, rfm_r=4,
         n_orders=1),
    dict(customer_id="c4", stage="active", stage_since=None, clv=None, p_churn=0.9, rfm_r=None, n_orders=1),
    dict(customer_id=EVIL, stage="churned", stage_since=at("2025-10-01 12:00"), clv=500.0, p_churn=0.95, rfm_r=1,
         n_orders=0),
]

ORDERS = [  # (customer, when, amount, status)
    ("c1", "2026-07-01 08:00", "100", "completed"),
    ("c1", "2026-08-02 22:00", "50", "completed"),
    ("c1", "2026-09-20 10:00", "999", "cancelled"),
    ("c2", "2026-09-25 10:00", "20", "paid"),
    ("c2", "2026-10-05 10:00", "30", "completed"),  # after now: not yet
    ("c4", "2025-10-01 10:00", "300", "refunded"),
    ("c4", "2026-03-01 10:00", "80", "partially_refunded"),
]

EVENTS = [
    ("c1", "2026-09-25 10:00", "login"), ("c1", "2026-08-01 10:00", "login"), ("c1", "2026-09-30 10:00", "email_open"),
    ("c3", "2026-09-30 23:00", "login"), ("c3", "2026-10-02 10:00", "page_view"),
    ("c5", "2025-01-01 10:00", "email_open"),
]


@pytest.fixture
def store(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [_audit(c) for c in CUSTOMERS])
        conn.execute(t.profiles.insert(), [{"run_id": "r1", "as_of": NOW, **p} for p in PROFILES])
        conn.execute(t.orders.insert(), [_audit(dict(
            order_id=f"o{i}", customer_id=cid, ordered_at=at(when), amount=Decimal(amount), currency="USD",
            status=status)) for i, (cid, when, amount, status) in enumerate(ORDERS)])
        conn.execute(t.events.insert(), [
            _audit(dict(event_id=f"e{i}", customer_id=cid, occurred_at=at(when), type=kind))
            for i, (cid, when, kind) in enumerate(EVENTS)])
        conn.execute(t.suppressions.insert(), [
            _audit(dict(channel="email", address_key="a@x.com", address="a@x.com", basis="unsubscribe")),
            _audit(dict(channel="email", address_key="nobody@x.com", address="nobody@x.com", basis="manual")),
            _audit(dict(channel="sms", address_key="15550003", address="+15550003", basis="complaint")),
            _audit(dict(channel="phone", address_key="15550005", address="15550005", basis="manual")),
        ])
        conn.execute(t.consents.insert(), [_audit(dict(customer_id=cid, channel=ch, status=st)) for cid, ch, st in (
            ("c1", "email", "subscribed"), ("c1", "sms", "unsubscribed"), ("c2", "email", "unsubscribed"),
            ("c4", "email", "subscribed"), ("c5", "sms", "subscribed"))])
        conn.execute(t.customer_tags.insert(), [dict(customer_id=cid, tag=tag, added_at=NOW) for cid, tag in (
            ("c1", "vip"), ("c2", "vip"), ("c2", "beta"))])
        conn.execute(t.list_members.insert(), [dict(list_name="nurture", customer_id=cid, added_at=NOW)
                                               for cid in ("c4", "c5")])
        conn.execute(t.programmes.insert(), [dict(programme_id=p, version=1, state="running", created_at=NOW,
                                                  updated_at=NOW) for p in ("p1", "p2")])
        conn.execute(t.enrolments.insert(), [dict(
            programme_id=p, version=1, customer_id=cid, cycle=1, holdout=state == "holdout", state=state,
            entered_at=NOW) for p, cid, state in (
            ("p1", "c1", "active"), ("p1", "c2", "completed"), ("p1", "c4", "holdout"), ("p2", "c5", "active"))])
    return engine


def check(engine: sa.Engine, cases: list[tuple[str, set[str]]]) -> None:
    wrong = []
    with engine.connect() as conn:
        for text, expected in cases:
            segment = parse_segment(text)
            got = set(matching_ids(conn, segment, now=NOW))
            count = count_segment(conn, segment, now=NOW)
            if got != expected or count != len(expected):
                wrong.append(f"{text}: expected {sorted(expected)}, got {sorted(got)} (count {count})")
    assert not wrong, "\n".join(wrong)


def test_profile_fields_and_null_is_false(store):
    check(store, [
        ("true", set(IDS)),
        ("false", set()),
        ("scored()", {"c1", "c2", "c4", EVIL}),
        ("not scored()", {"c3", "c5"}),
        ("clv > 200", {"c1", EVIL}),
        ("clv <= 200", {"c2"}),
        ("not clv > 200", {"c2", "c3", "c4", "c5"}),  # a comparison with null is false, so its negation is true
        ("not not clv > 200", {"c1", EVIL}),
        ("clv == null", {"c3", "c4", "c5"}),
        ("clv != None", {"c1", "c2", EVIL}),
        ("null == clv", {"c3", "c4", "c5"}),
        ("stage in ['at_risk', 'dormant']", {"c1", "c2"}),
        ("stage not in ['at_risk', 'dormant']", {"c4", EVIL}),
        ("not stage in ['at_risk', 'dormant']", {"c3", "c4", "c5", EVIL}),
        ("stage in ['at_risk', null]", {"c1", "c3", "c5"}),
        ("stage not in ['at_risk', null]", {"c2", "c4", EVIL}),
        ("stage in []", set()),
        ("stage != 'active'", {"c1", "c2", EVIL}),
        ("rfm_r in [1, 2]", {"c1", EVIL}),
        ("100 < clv < 300", {"c1", "c2"}),
        ("not (clv > 200 or stage == 'active')", {"c2", "c3", "c5"}),
        ("not (clv > 200 and p_churn > 0.5)", {"c1", "c2", "c3", "c4", "c5"}),
        ("clv > 200 or p_churn > 0.5", {"c1", "c4", EVIL}),
        ("(clv > 200) == (stage == 'churned')", {"c2", "c3", "c4", "c5", EVIL}),
        ("(clv > 200) != (stage == 'churned')", {"c1"}),
        ("locale == 'zh-CN' or time_zone == 'Europe/London'", {"c1", "c2"}),
        ("email == null", {"c3", EVIL}),
        ("n_orders == 0", {EVIL}),
        ("TRUE AND Not clv > 200 AND scored()", {"c2", "c4"}),
    ])


def test_arithmetic(store):
    check(store, [
        ("clv * p_churn > 100", {EVIL}),  # c1: 250 × 0.4 is 100, not more
        ("clv * p_churn >= 100", {"c1", EVIL}),
        ("clv / 0 == null", set(IDS)),  # division by zero is null, on PostgreSQL too
        ("revenue() / orders() > 70", {"c1", "c4"}),  # 75, 80; 0 / 0 is null
        ("-clv < -200", {"c1", EVIL}),
        ("clv - 50 * 2 == 150", {"c1"}),
        ("(clv - 50) * 2 == 400", {"c1"}),
        ("clv / 4 == 62.5", {"c1"}),
        ("rfm_r / 4 == 0.5", {"c1"}),  # true division of integers
        ("clv + p_churn > 0", {"c1", EVIL}),  # null + anything is null
        ("1 + 1 == 2", set(IDS)),
    ])


def test_history_functions(store):
    check(store, [
        ("days_since('last_order') >= 60", {"c1", "c4"}),
        ("days_since('last_order') == 60", {"c1"}),  # 2 Aug 22:00 to 1 Oct 12:00: 60 UTC dates apart
        ("days_since('last_order') == 6", {"c2"}),  # the order after now does not count
        ("days_since('last_order') == 214", {"c4"}),  # the refunded order does not count
        ("days_since('last_order') == null", {"c3", "c5", EVIL}),
        ("days_since('first_order') == 92", {"c1"}),
        ("days_since('first_order') == 214", {"c4"}),
        ("days_since('signup') > 365", {"c1"}),
        ("days_since('signup') == 30", {"c2"}),
        ("days_since('signup') == null", {"c3", EVIL}),
        ("days_since('last_event') <= 1", {"c1", "c3"}),
        ("days_since('last_event') == 638", {"c5"}),
        ("days_since('stage_change') == 61", {"c1"}),
        ("days_since('stage_change') == 1", {"c2"}),
        ("days_since('stage_change') == 365", {EVIL}),
        ("orders() == 2", {"c1"}),
        ("orders() == 0", {"c3", "c5", EVIL}),
        ("orders(days=90) == 1", {"c1", "c2"}),
        ("orders(days=30) >= 1", {"c2"}),
        ("orders(days=92) == 1", {"c1", "c2"}),  # 92 days before 1 Oct 12:00 is 1 Jul 12:00: after its order
        ("orders(days=93) == 2", {"c1"}),
        ("revenue() == 150", {"c1"}),
        ("revenue() > 0 and revenue() < 100", {"c2", "c4"}),
        ("revenue(days=365) == 80", {"c4"}),
        ("revenue() == 0", {"c3", "c5", EVIL}),
        ("events('login') >= 1", {"c1", "c3"}),
        ("events('login') == 2", {"c1"}),
        ("events('login', days=30) == 1", {"c1", "c3"}),
        ("events('page_view') > 0", set()),  # only after now
        ("events('email_open', days=3650) > 0 and not events('email_open', days=30) > 0", {"c5"}),
    ])


def test_suppression_consent_and_attributes(store):
    check(store, [
        ("suppressed('email')", {"c1"}),
        ("not suppressed('email')", {"c2", "c3", "c4", "c5", EVIL}),
        ("suppressed('email') == false", {"c2", "c3", "c4", "c5", EVIL}),
        ("suppressed('sms')", {"c3"}),  # +15550003 is the key 15550003; c5's number is suppressed for calls only
        ("consented('email')", {"c1", "c4"}),
        ("consented('sms')", {"c5"}),
        ("consented('email') and not suppressed('email')", {"c4"}),
        ("attribute('plan') == 'gold'", {"c1", "c4"}),
        ("attribute('plan') != 'gold'", {"c2", EVIL}),
        ("attribute('plan') == null", {"c3", "c5"}),
        ("attribute('plan') in ['silver', 'bronze']", {"c2"}),
        ("attribute('vip') == 'true'", {"c4"}),
        ("attribute('age') == '30'", {"c2"}),  # a JSON number, compared as text
        ("attribute('age') == '42'", {"c1"}),
        ("attribute_number('age') > 10", {"c1", "c2"}),  # '42' is a number written as text; 'old' is not one
        ("attribute_number('age') < 10", {"c5"}),
        ("attribute_number('age') == null", {"c3", "c4", EVIL}),
        ("attribute_number('plan') == null", set(IDS)),
        ("attribute('会员 等级') == '金'", {"c5"}),
        ("attribute('a.b[0]') == null", set(IDS)),
        ("attribute('say \"hi\"') == 'yes'", {"c5"}),
    ])


def test_tags_lists_and_enrolments(store):
    check(store, [
        ("has_tag('vip')", {"c1", "c2"}),
        ("has_tag('beta') and not has_tag('gold')", {"c2"}),
        ("in_list('nurture')", {"c4", "c5"}),
        ("enrolled('p1')", {"c1", "c4"}),  # active or holdout; c2's enrolment is completed
        ("enrolled('p2') or enrolled('p3')", {"c5"}),
        ("not enrolled('p1') and scored()", {"c2", EVIL}),
    ])


def test_the_example_from_the_issue(store):
    check(store, [
        ("stage in ['at_risk', 'dormant'] and clv > 200 and days_since('last_order') >= 60 "
         "and not suppressed('email')", set()),  # c1 qualifies, but its email is suppressed
        ("stage in ['at_risk', 'dormant'] and clv > 200 and days_since('last_order') >= 60", {"c1"}),
    ])


def test_injection_strings_are_values(store):
    check(store, [
        (f'customer_id == "{EVIL}"', {EVIL}),
        ("customer_id == 'x\\'); DROP TABLE customers; --'", {EVIL}),
        ("attribute('plan') == \"' OR 1=1 --\"", {EVIL}),
        ("attribute('plan') == \"gold' OR '1'='1\"", set()),
        ("has_tag(\"vip' OR '1'='1\")", set()),
        ("in_list('nurture; DELETE FROM list_members')", set()),
        ("enrolled(\"p1') OR 1=1 --\")", set()),
        ("attribute(\"plan') OR 1=1 --\") == null", set(IDS)),
        ("customer_id in ['c1', \"' OR ''='\"]", {"c1"}),
    ])
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.customers)).scalar_one() == len(IDS)
        assert conn.execute(sa.select(sa.func.count()).select_from(t.list_members)).scalar_one() == 2


def test_large_numbers_do_not_overflow_the_store(store):
    check(store, [
        ("clv < 3000000000", {"c1", "c2", EVIL}),
        ("orders() < 9223372036854775807", set(IDS)),
        ("orders() * 9223372036854775807 >= 0", set(IDS)),
        ("rfm_r + 9223372036854775807 > 0", {"c1", "c2", EVIL}),
        ("-9223372036854775807 - 100 < 0", set(IDS)),
        ("clv * 1e300 > 0", {"c1", "c2", EVIL}),
    ])
    with store.connect() as conn:
        segment = parse_segment("clv * 1e300 * 1e300 > 0")
        if conn.dialect.name == "postgresql":  # float overflow is an error there, infinity on SQLite
            with pytest.raises(SegmentError, match=r"the store could not evaluate .*overflow"):
                count_segment(conn, segment, now=NOW)
        else:
            assert count_segment(conn, segment, now=NOW) == 3


def test_matching_ids_matches_and_select(store):
    segment = parse_segment("clv > 100 or in_list('nurture')")
    with store.connect() as conn:
        assert matching_ids(conn, segment, now=NOW) == sorted(["c1", "c2", "c4", "c5", EVIL])
        assert matching_ids(conn, segment, now=NOW, customer_ids=["c5", "c3", "c1", "c1", "nobody"]) == ["c1", "c5"]
        assert matching_ids(conn, segment, now=NOW, customer_ids=[]) == []
        assert matches(conn, segment, "c4", now=NOW) and not matches(conn, segment, "c3", now=NOW)
        assert not matches(conn, segment, "nobody", now=NOW)
        assert sorted(conn.execute(segment_select(segment, now=NOW)).scalars()) == sorted(
            ["c1", "c2", "c4", "c5", EVIL])
        # the condition inside someone else's SELECT
        stmt = (sa.select(t.profiles.c.stage, sa.func.count()).select_from(segment_from())
                .where(segment_condition(segment, now=NOW)).group_by(t.profiles.c.stage))
        assert dict(conn.execute(stmt).all()) == {"at_risk": 1, "dormant": 1, "active": 1, "churned": 1, None: 1}


def test_a_million_ids_are_chunked(store):
    ids = [f"n{i:07d}" for i in range(1_000_000)] + ["c2", "c4"]
    with store.connect() as conn:
        assert matching_ids(conn, parse_segment("scored()"), now=NOW, customer_ids=ids) == ["c2", "c4"]


def test_later_now_moves_history_functions(store):
    segment = parse_segment("days_since('last_order') == 6 and orders() == 1")
    with store.connect() as conn:
        assert matching_ids(conn, segment, now=NOW) == ["c2"]
        # by 10 October c2's second order has happened
        later = datetime(2026, 10, 10, tzinfo=UTC)
        assert matching_ids(conn, parse_segment("orders() == 2 and days_since('last_order') == 5"),
                            now=later) == ["c2"]


# --- random segments against a reference evaluation in Python --------------------------------------------------

# What each customer has, worked out by hand from the rows above (None is SQL's NULL).
VALUES: dict[str, dict[str, Any]] = {
    "c1": {"clv": 250.0, "p_churn": 0.4, "rfm_r": 2, "stage": "at_risk", "orders()": 2, "revenue()": 150,
           "days_since('last_order')": 60, "attribute('plan')": "gold", "suppressed('email')": True,
           "consented('email')": True},
    "c2": {"clv": 150.0, "p_churn": None, "rfm_r": 4, "stage": "dormant", "orders()": 1, "revenue()": 20,
           "days_since('last_order')": 6, "attribute('plan')": "silver", "suppressed('email')": False,
           "consented('email')": False},
    "c3": {"clv": None, "p_churn": None, "rfm_r": None, "stage": None, "orders()": 0, "revenue()": 0,
           "days_since('last_order')": None, "attribute('plan')": None, "suppressed('email')": False,
           "consented('email')": False},
    "c4": {"clv": None, "p_churn": 0.9, "rfm_r": None, "stage": "active", "orders()": 1, "revenue()": 80,
           "days_since('last_order')": 214, "attribute('plan')": "gold", "suppressed('email')": False,
           "consented('email')": True},
    "c5": {"clv": None, "p_churn": None, "rfm_r": None, "stage": None, "orders()": 0, "revenue()": 0,
           "days_since('last_order')": None, "attribute('plan')": None, "suppressed('email')": False,
           "consented('email')": False},
    EVIL: {"clv": 500.0, "p_churn": 0.95, "rfm_r": 1, "stage": "churned", "orders()": 0, "revenue()": 0,
           "days_since('last_order')": None, "attribute('plan')": "' OR 1=1 --", "suppressed('email')": False,
           "consented('email')": False},
}
NUMBERS = ["clv", "p_churn", "rfm_r", "orders()", "revenue()", "days_since('last_order')"]
TEXTS = {"stage": ["at_risk", "dormant", "active", "churned", "new"], "attribute('plan')": ["gold", "silver", "x"]}
BOOLS = ["suppressed('email')", "consented('email')"]


def _number(rng: random.Random, depth: int) -> tuple[str, Any]:
    """(text, evaluate(values) -> number | None)."""
    roll = rng.random()
    if depth > 2 or roll < 0.35:
        name = rng.choice(NUMBERS)
        return name, lambda v, n=name: v[n]
    if roll < 0.55:
        k = rng.choice([0, 1, 2, 60, 150, 0.5, 250])
        return repr(k), lambda v, k=k: k
    op = rng.choice("+-*/")
    (lt, lf), (rt, rf) = _number(rng, depth + 1), _number(rng, depth + 1)

    def ev(v: dict[str, Any]) -> Any:
        a, b = lf(v), rf(v)
        if a is None or b is None or (op == "/" and b == 0):
            return None
        return a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b

    return f"({lt} {op} {rt})", ev


def _condition(rng: random.Random, depth: int) -> tuple[str, Any]:
    """(text, evaluate(values) -> bool): comparisons with null are false; not, and, or two-valued."""
    roll = rng.random()
    if depth > 2 or roll < 0.45:
        kind = rng.random()
        if kind < 0.5:
            (lt, lf), (rt, rf) = _number(rng, depth), _number(rng, depth)
            op = rng.choice(["==", "!=", "<", "<=", ">", ">="])
            cmp = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
                   "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]

            def ev(v: dict[str, Any]) -> bool:
                a, b = lf(v), rf(v)
                return a is not None and b is not None and cmp(a, b)

            return f"{lt} {op} {rt}", ev
        if kind < 0.7:
            name = rng.choice(list(TEXTS))
            values = rng.sample(TEXTS[name], 2)
            negated = rng.random() < 0.5
            with_null = rng.random() < 0.3
            items = ", ".join(repr(x) for x in values) + (", null" if with_null else "")

            def ev_in(v: dict[str, Any]) -> bool:
                x = v[name]
                if x is None:
                    return with_null and not negated
                return (x in values) != negated

            return f"{name} {'not in' if negated else 'in'} [{items}]", ev_in
        if kind < 0.85:
            name = rng.choice([*NUMBERS, *TEXTS])
            is_null = rng.random() < 0.5
            return f"{name} {'==' if is_null else '!='} null", lambda v: (v[name] is None) == is_null
        name = rng.choice(BOOLS)
        return name, lambda v: v[name]
    if roll < 0.6:
        text, f = _condition(rng, depth + 1)
        return f"not ({text})", lambda v: not f(v)
    op = rng.choice(["and", "or"])
    (lt, lf), (rt, rf) = _condition(rng, depth + 1), _condition(rng, depth + 1)
    if op == "and":
        return f"({lt}) and ({rt})", lambda v: lf(v) and rf(v)
    return f"({lt}) or ({rt})", lambda v: lf(v) or rf(v)


def test_random_segments_agree_with_a_reference_evaluation(store):
    rng = random.Random(20261001)
    wrong = []
    with store.connect() as conn:
        for _ in range(300):
            text, evaluate = _condition(rng, 0)
            expected = sorted(cid for cid in IDS if evaluate(VALUES[cid]))
            got = matching_ids(conn, parse_segment(text), now=NOW)
            if got != expected:
                wrong.append(f"{text}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong[:10])
