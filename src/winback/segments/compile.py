"""Segments compiled to SQLAlchemy Core over `customers LEFT OUTER JOIN profiles`, and the queries that use them.

Every literal is a bound parameter and every identifier comes from the allow-lists in `expr.py`. Functions over
history are correlated subqueries (EXISTS, or a scalar COUNT/SUM/MAX) that the indexes on
orders(customer_id, ordered_at) and events(customer_id, occurred_at) answer, so a count is one statement.

Logic is two-valued: a comparison with NULL is false, and `not` of it is true. Plain SQL would make
`not clv > 200` unknown (so false) for an unscored customer; `not` therefore wraps a nullable operand in
COALESCE(…, false). Under and/or alone, NULL and false select the same rows, so nothing else needs wrapping.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.domain.errors import SegmentError
from winback.segments.expr import FIELDS, Arith, Call, Compare, Const, Field, ListOf, Logic, Negate, Node, Not, Segment
from winback.store import tables as t

ENROLLED_STATES = ("active", "holdout")
SUBSCRIBED = "subscribed"  # the consent status that permits marketing (winback.domain.entities.CONSENT_STATUSES)
ID_CHUNK = 100_000  # customer ids per statement in matching_ids, each passed as one bound value

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


# --- what SQLite and PostgreSQL spell differently -----------------------------------------------------------------


class _DaysBetween(FunctionElement[int]):
    """Whole days from the UTC date of a timestamp to a date: (today, timestamp)."""

    type = sa.Integer()
    name = "days_between"
    inherit_cache = True


@compiles(_DaysBetween, "sqlite")
def _days_sqlite(element: _DaysBetween, compiler: Any, **kw: Any) -> str:
    today, at = list(element.clauses)
    return compiler.process(sa.cast(sa.func.julianday(today) - sa.func.julianday(sa.func.date(at)), sa.Integer), **kw)


@compiles(_DaysBetween)
def _days_default(element: _DaysBetween, compiler: Any, **kw: Any) -> str:
    today, at = list(element.clauses)
    # date - date is whole days on PostgreSQL; grouped, as this renders inside other arithmetic
    return compiler.process(sa.Grouping(sa.cast(today, sa.Date) - sa.cast(at, sa.Date)), **kw)


class _AttributeText(FunctionElement[str]):
    """A customer attribute as text: (attributes, key). JSON true/false read 'true'/'false'."""

    type = sa.String()
    name = "attribute_text"
    inherit_cache = True


class _AttributeNumber(FunctionElement[float]):
    """A customer attribute as a number when it is a JSON number or a string holding one, else NULL."""

    type = sa.Float()
    name = "attribute_number"
    inherit_cache = True


# The JSON number grammar (RFC 8259) between JSON blanks, bounded so that PostgreSQL's cast to float cannot
# overflow; on SQLite, json_valid and json_type make the same test.
_NUMBER_TEXT = r"^[ \t\n\r]*-?(0|[1-9][0-9]{0,29})(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,2})?[ \t\n\r]*$"


def _sqlite_attribute(attributes: Any, key: Any, value_of: Callable[[Any], Any]) -> Any:
    # json_each, not json_extract with a path: SQLite before 3.45 does not match keys stored with \u escapes
    # (SQLAlchemy writes JSON ASCII-only), and a path cannot hold every key.
    entry = sa.func.json_each(attributes).table_valued("key", "value", "type").alias("attribute")
    return (sa.select(value_of(entry.c)).where(entry.c.key == key).limit(1)
            .correlate(t.customers).scalar_subquery())


@compiles(_AttributeText, "sqlite")
def _attribute_text_sqlite(element: _AttributeText, compiler: Any, **kw: Any) -> str:
    attributes, key = list(element.clauses)
    expr = _sqlite_attribute(attributes, key, lambda c: sa.case(
        (c.type == "true", "true"), (c.type == "false", "false"), else_=sa.cast(c.value, sa.Text)))
    return compiler.process(expr, **kw)


@compiles(_AttributeText)
def _attribute_text_default(element: _AttributeText, compiler: Any, **kw: Any) -> str:
    attributes, key = list(element.clauses)
    return compiler.process(sa.func.jsonb_extract_path_text(attributes, key), **kw)


@compiles(_AttributeNumber, "sqlite")
def _attribute_number_sqlite(element: _AttributeNumber, compiler: Any, **kw: Any) -> str:
    attributes, key = list(element.clauses)
    expr = _sqlite_attribute(attributes, key, lambda c: sa.case(
        (c.type.in_(["integer", "real"]), sa.cast(c.value, sa.Float)),
        (sa.and_(c.type == "text", sa.func.json_valid(c.value) == 1,
                 sa.func.json_type(c.value).in_(["integer", "real"])), sa.cast(c.value, sa.Float)),
        else_=sa.null()))
    return compiler.process(expr, **kw)


@compiles(_AttributeNumber)
def _attribute_number_default(element: _AttributeNumber, compiler: Any, **kw: Any) -> str:
    attributes, key = list(element.clauses)
    kind = sa.func.jsonb_typeof(sa.func.jsonb_extract_path(attributes, key))
    text = sa.func.jsonb_extract_path_text(attributes, key)
    expr = sa.case((sa.and_(kind.in_(["number", "string"]), text.regexp_match(_NUMBER_TEXT)),
                    sa.cast(text, sa.Float)), else_=sa.null())
    return compiler.process(expr, **kw)


# --- the compiler -----------------------------------------------------------------------------------------------


def segment_from() -> sa.Join:
    """customers LEFT OUTER JOIN profiles: what a segment condition reads."""
    return t.customers.outerjoin(t.profiles, t.profiles.c.customer_id == t.customers.c.customer_id)


def _scalar(value: Any, *where: Any, table: sa.Table | None = None) -> Any:
    """A scalar subquery correlated to the outer `customers`."""
    stmt = sa.select(value)
    if table is not None:
        stmt = stmt.select_from(table)
    return stmt.where(*where).correlate(t.customers).scalar_subquery()


class _Compiler:
    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError(f"naive datetime {now!r} given as now; segments are evaluated at an aware time")
        self.now = now
        self.c = t.customers.c

    def condition(self, node: Node) -> sa.ColumnElement[bool]:
        return self.expr(node)

    def expr(self, node: Node) -> Any:
        handler = getattr(self, f"_{type(node).__name__.lower()}")
        return handler(node)

    def two_valued(self, node: Node) -> Any:
        value = self.expr(node)
        return sa.func.coalesce(value, sa.false(), type_=sa.Boolean) if node.nullable else value

    def _const(self, node: Const) -> Any:
        value = node.value
        if isinstance(value, bool):
            return sa.true() if value else sa.false()
        if value is None:
            return sa.null()
        return sa.literal(value, sa.String() if isinstance(value, str) else
                          sa.BigInteger() if isinstance(value, int) else sa.Float())

    def operand(self, node: Node) -> Any:
        """A number in arithmetic: literals as floats, so that integer arithmetic cannot overflow a BIGINT."""
        if isinstance(node, Const):
            return sa.literal(float(node.value), sa.Float())  # type: ignore[arg-type]
        return self.expr(node)

    def _field(self, node: Field) -> Any:
        table = t.profiles if FIELDS[node.name].table == "profiles" else t.customers
        return table.c[node.name]

    def _negate(self, node: Negate) -> Any:
        return -self.operand(node.operand)

    def _arith(self, node: Arith) -> Any:
        left, right = self.operand(node.left), self.operand(node.right)
        if node.op == "/":  # true division; x / 0 is NULL on both stores (PostgreSQL would raise)
            return sa.cast(left, sa.Float) / sa.cast(sa.func.nullif(right, 0), sa.Float)
        return {"+": operator.add, "-": operator.sub, "*": operator.mul}[node.op](left, right)

    def _logic(self, node: Logic) -> Any:
        parts = [self.expr(o) for o in node.operands]
        return sa.and_(*parts) if node.op == "and" else sa.or_(*parts)

    def _not(self, node: Not) -> Any:
        return sa.not_(self.two_valued(node.operand))

    def _compare(self, node: Compare) -> Any:
        links = [self.link(op, left, right) for op, left, right in node.links]
        return links[0] if len(links) == 1 else sa.and_(*links)

    def link(self, op: str, left: Node, right: Node) -> Any:
        if isinstance(right, ListOf):
            values = [i.value for i in right.items if i.value is not None]
            has_null = len(values) < len(right.items)
            value = self.expr(left)
            if op == "in":
                found = value.in_(values)
                return sa.or_(found, value.is_(None)) if has_null else found
            missing = value.not_in(values)
            return sa.and_(missing, value.is_not(None)) if has_null else missing
        if right.type == "null" or left.type == "null":
            value = self.expr(left if right.type == "null" else right)
            return value.is_(None) if op == "==" else value.is_not(None)
        if left.type == "bool":
            a, b = self.two_valued(left), self.two_valued(right)
            return a == b if op == "==" else a != b
        return _COMPARE[op](self.expr(left), self.expr(right))

    def _call(self, node: Call) -> Any:
        return getattr(self, f"fn_{node.name}")(node)

    # functions

    def since(self, days: int | float | str | None) -> Any:
        if days is None:
            return None
        assert isinstance(days, int)
        return self.now - timedelta(days=days)

    def fn_days_since(self, node: Call) -> Any:
        e = t.events.c
        time = node.arg("time")
        if time == "last_order":
            at = _scalar(sa.func.max(t.orders.c.ordered_at), *self.order_filter(None))
        elif time == "first_order":
            at = _scalar(sa.func.min(t.orders.c.ordered_at), *self.order_filter(None))
        elif time == "last_event":
            at = _scalar(sa.func.max(e.occurred_at), e.customer_id == self.c.customer_id, e.occurred_at <= self.now)
        elif time == "signup":
            at = self.c.created_at
        else:
            at = t.profiles.c.stage_since
        today = self.now.astimezone(UTC).date()
        return _DaysBetween(sa.literal(today, sa.Date()), at)

    def order_filter(self, days: int | float | str | None) -> list[Any]:
        o = t.orders.c
        where = [o.customer_id == self.c.customer_id, o.ordered_at <= self.now,
                 o.status.not_in(EXCLUDED_ORDER_STATUSES)]
        since = self.since(days)
        if since is not None:
            where.append(o.ordered_at > since)
        return where

    def fn_orders(self, node: Call) -> Any:
        return _scalar(sa.func.count(), *self.order_filter(node.arg("days")), table=t.orders)

    def fn_revenue(self, node: Call) -> Any:
        total = _scalar(sa.func.sum(t.orders.c.amount), *self.order_filter(node.arg("days")))
        return sa.func.coalesce(total, 0)

    def fn_events(self, node: Call) -> Any:
        e = t.events.c
        where = [e.customer_id == self.c.customer_id, e.occurred_at <= self.now, e.type == node.arg("type")]
        since = self.since(node.arg("days"))
        if since is not None:
            where.append(e.occurred_at > since)
        return _scalar(sa.func.count(), *where, table=t.events)

    def fn_suppressed(self, node: Call) -> Any:
        s = t.suppressions.c
        channel = node.arg("channel")
        # Suppression keys: the email key, or the phone number's digits (ingest.parse.phone_key); a stored phone
        # is already digits with an optional leading +.
        address = self.c.email_key if channel == "email" else sa.func.replace(self.c.phone, "+", "")
        return sa.exists().where(s.channel == channel, s.address_key == address).correlate(t.customers)

    def fn_consented(self, node: Call) -> Any:
        c = t.consents.c
        return sa.exists().where(c.customer_id == self.c.customer_id, c.channel == node.arg("channel"),
                                 c.status == SUBSCRIBED).correlate(t.customers)

    def fn_scored(self, node: Call) -> Any:
        return t.profiles.c.customer_id.is_not(None)

    def attribute_args(self, node: Call) -> tuple[Any, Any]:
        return self.c.attributes, sa.literal(str(node.arg("key")), sa.String())

    def fn_attribute(self, node: Call) -> Any:
        return _AttributeText(*self.attribute_args(node))

    def fn_attribute_number(self, node: Call) -> Any:
        return _AttributeNumber(*self.attribute_args(node))

    def fn_has_tag(self, node: Call) -> Any:
        g = t.customer_tags.c
        return sa.exists().where(g.customer_id == self.c.customer_id, g.tag == node.arg("tag")).correlate(t.customers)

    def fn_in_list(self, node: Call) -> Any:
        m = t.list_members.c
        return sa.exists().where(m.customer_id == self.c.customer_id,
                                 m.list_name == node.arg("name")).correlate(t.customers)

    def fn_enrolled(self, node: Call) -> Any:
        e = t.enrolments.c
        return sa.exists().where(e.customer_id == self.c.customer_id, e.programme_id == node.arg("programme_id"),
                                 e.state.in_(ENROLLED_STATES)).correlate(t.customers)


# --- the public API ---------------------------------------------------------------------------------------------


def segment_condition(segment: Segment, *, now: datetime) -> sa.ColumnElement[bool]:
    """The segment as a WHERE condition over `segment_from()`, evaluated at `now` (functions over history)."""
    return _Compiler(now).condition(segment.root)


def segment_select(segment: Segment, *, now: datetime) -> sa.Select[tuple[str]]:
    """SELECT customers.customer_id of the customers in the segment."""
    return sa.select(t.customers.c.customer_id).select_from(segment_from()).where(
        segment_condition(segment, now=now))


def count_segment(conn: sa.Connection, segment: Segment, *, now: datetime) -> int:
    """How many customers are in the segment (one statement)."""
    stmt = sa.select(sa.func.count()).select_from(segment_from()).where(segment_condition(segment, now=now))
    with _evaluating(segment):
        return int(conn.execute(stmt).scalar_one())


def matching_ids(conn: sa.Connection, segment: Segment, *, now: datetime,
                 customer_ids: Collection[str] | None = None) -> list[str]:
    """The ids of the customers in the segment, sorted; only among `customer_ids` when given (any number)."""
    stmt = segment_select(segment, now=now)
    with _evaluating(segment):
        if customer_ids is None:
            return sorted(conn.execute(stmt).scalars())
        ids = sorted(set(customer_ids))
        found: list[str] = []
        for i in range(0, len(ids), ID_CHUNK):
            found.extend(conn.execute(stmt.where(_among(conn.dialect.name, ids[i:i + ID_CHUNK]))).scalars())
        return sorted(found)


def _among(dialect: str, ids: list[str]) -> sa.ColumnElement[bool]:
    """customer_id among the ids, as one bound value: an array on PostgreSQL, a JSON array on SQLite (an IN list
    of 100,000 placeholders would pass SQLite's limit and be ten times slower on PostgreSQL)."""
    column = t.customers.c.customer_id
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam("customer_ids", ids, type_=postgresql.ARRAY(sa.String())))
    listed = sa.func.json_each(sa.bindparam("customer_ids", json.dumps(ids), type_=sa.String())).table_valued("value")
    return column.in_(sa.select(listed.c.value))


def matches(conn: sa.Connection, segment: Segment, customer_id: str, *, now: datetime) -> bool:
    """Whether one customer is in the segment."""
    stmt = segment_select(segment, now=now).where(t.customers.c.customer_id == customer_id).limit(1)
    with _evaluating(segment):
        return conn.execute(stmt).first() is not None


@contextmanager
def _evaluating(segment: Segment) -> Iterator[None]:
    """A value the store cannot hold (PostgreSQL refuses float overflow, 1e300 * 1e300) is the segment's fault."""
    try:
        yield
    except sa.exc.DataError as exc:
        detail = str(exc.orig or exc).strip().splitlines()[0]
        raise SegmentError(f"the store could not evaluate {segment.text!r}: {detail}") from None
