"""The segment expression language: allow-listed fields and functions, parsed and type-checked to an AST.

`stage in ['at_risk', 'dormant'] and clv > 200 and days_since('last_order') >= 60 and not suppressed('email')`

A small hand-written tokenizer and recursive-descent parser (not Python's `ast`), so every error knows its
1-based character column and says what to write instead, and nothing outside the grammar can be expressed:
no attribute access, no subscripts, no calls but the listed functions, function arguments written out as
literals. Types are checked while parsing. This module knows nothing of SQL; `compile.py` turns the AST
into SQLAlchemy Core. The language is documented in docs/segments.md.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal as Kind

from winback.domain.entities import EVENT_TYPES
from winback.domain.errors import SegmentError

MAX_LENGTH = 4_000  # characters in a segment
MAX_DEPTH = 40  # nesting of parentheses, not, signs and operator chains
MAX_LIST = 1_000  # items in one list literal
MAX_STRING = 1_000  # characters in one string literal
MAX_DAYS = 36_500
MAX_INT = 2**63 - 1

Type = Kind["number", "text", "bool", "null", "list"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: Type
    table: Kind["profiles", "customers"]
    description: str
    values: tuple[str, ...] | None = None  # the only values a text field takes (checked in comparisons)
    nullable: bool = True


@dataclass(frozen=True)
class Param:
    name: str
    type: Type
    keyword_only: bool = False
    required: bool = True
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    params: tuple[Param, ...]
    returns: Type
    nullable: bool
    signature: str
    description: str


STAGES = ("new", "active", "at_risk", "dormant", "churned", "reactivated")  # = lifecycle.STAGES (a test checks)
VALUE_TIERS = ("priority", "high", "medium", "low")
DORMANCY_TYPES = ("natural_cycle", "content_fatigue", "bad_experience", "channel_shift", "unknown")
REASON_LABELS = ("price", "missing_feature", "service", "product_quality", "competitor", "no_longer_needed", "other")
TIMES = ("last_order", "first_order", "signup", "last_event", "stage_change")
SEGMENT_CHANNELS = ("email", "sms")

_P, _C = "profiles", "customers"
FIELDS: dict[str, FieldSpec] = {f.name: f for f in (
    FieldSpec("stage", "text", _P, "lifecycle stage: " + ", ".join(STAGES), values=STAGES),
    FieldSpec("silent_days", "number", _P, "days of silence the stage rules counted (since the last order or "
              "activity)"),
    FieldSpec("rfm_r", "number", _P, "RFM recency score, 1-5 (5 = most recent)"),
    FieldSpec("rfm_f", "number", _P, "RFM frequency score, 1-5"),
    FieldSpec("rfm_m", "number", _P, "RFM monetary score, 1-5"),
    FieldSpec("rfm_score", "text", _P, "the three RFM digits as text, e.g. '545'"),
    FieldSpec("rfm_segment", "text", _P, "RFM segment: champions, loyal, at_risk, hibernating … (configurable)"),
    FieldSpec("n_orders", "number", _P, "orders by the score date (cancelled and refunded excluded)"),
    FieldSpec("revenue", "number", _P, "total of those orders, in the customer's currency"),
    FieldSpec("frequency", "number", _P, "repeat purchase occasions (several orders on one day are one)"),
    FieldSpec("recency_days", "number", _P, "days between the first and the last purchase occasion"),
    FieldSpec("t_days", "number", _P, "days between the first order and the score date"),
    FieldSpec("monetary_value", "number", _P, "mean value of a repeat purchase occasion"),
    FieldSpec("days_since_last_order", "number", _P, "days between the last order and the score date"),
    FieldSpec("cadence_days", "number", _P, "median gap between purchase occasions, in days"),
    FieldSpec("overdue_ratio", "number", _P, "days since the last order / cadence_days"),
    FieldSpec("p_alive", "number", _P, "probability the customer is still a customer (MBG/NBD), 0-1"),
    FieldSpec("p_churn", "number", _P, "probability of no order in the next 90 days, 0-1"),
    FieldSpec("expected_purchases_90", "number", _P, "expected purchases in the next 90 days"),
    FieldSpec("clv", "number", _P, "12-month customer lifetime value, in the customer's currency"),
    FieldSpec("value_at_risk", "number", _P, "p_churn x clv"),
    FieldSpec("value_tier", "text", _P, "value-at-risk tier: " + ", ".join(VALUE_TIERS), values=VALUE_TIERS),
    FieldSpec("churn_reason", "text", _P, "most likely churn reason: " + ", ".join(REASON_LABELS),
              values=REASON_LABELS),
    FieldSpec("churn_reason_confidence", "number", _P, "confidence of churn_reason, 0-1"),
    FieldSpec("dormancy_type", "text", _P, "pattern of the silence: " + ", ".join(DORMANCY_TYPES),
              values=DORMANCY_TYPES),
    FieldSpec("customer_id", "text", _C, "the customer's id", nullable=False),
    FieldSpec("email", "text", _C, "email address"),
    FieldSpec("locale", "text", _C, "language tag, e.g. en-US"),
    FieldSpec("time_zone", "text", _C, "IANA time zone, e.g. Asia/Shanghai"),
)}

_DAYS = Param("days", "number", keyword_only=True, required=False)
FUNCTIONS: dict[str, FunctionSpec] = {f.name: f for f in (
    FunctionSpec("days_since", (Param("time", "text", choices=TIMES),), "number", True,
                 "days_since('last_order' | 'first_order' | 'signup' | 'last_event' | 'stage_change')",
                 "whole days (UTC dates) from that time to now; null when there is none"),
    FunctionSpec("suppressed", (Param("channel", "text", choices=SEGMENT_CHANNELS),), "bool", False,
                 "suppressed('email' | 'sms')", "the customer's email address or phone number is suppressed"),
    FunctionSpec("consented", (Param("channel", "text", choices=SEGMENT_CHANNELS),), "bool", False,
                 "consented('email' | 'sms')", "the customer's consent on the channel is subscribed"),
    FunctionSpec("scored", (), "bool", False, "scored()", "the customer has a profile (was scored)"),
    FunctionSpec("attribute", (Param("key", "text"),), "text", True, "attribute('key')",
                 "a value from the customer's attributes, as text"),
    FunctionSpec("attribute_number", (Param("key", "text"),), "number", True, "attribute_number('key')",
                 "a value from the customer's attributes as a number; null when it is not one"),
    FunctionSpec("orders", (_DAYS,), "number", False, "orders(days=N)",
                 "orders in the last N days (without days: all), cancelled and refunded excluded"),
    FunctionSpec("revenue", (_DAYS,), "number", False, "revenue(days=N)",
                 "total amount of those orders, 0 when none"),
    FunctionSpec("events", (Param("type", "text", choices=EVENT_TYPES), _DAYS), "number", False,
                 "events('type', days=N)", "events of that type in the last N days (without days: all)"),
    FunctionSpec("has_tag", (Param("tag", "text"),), "bool", False, "has_tag('tag')", "the customer has the tag"),
    FunctionSpec("in_list", (Param("name", "text"),), "bool", False, "in_list('name')",
                 "the customer is a member of the list"),
    FunctionSpec("enrolled", (Param("programme_id", "text"),), "bool", False, "enrolled('programme_id')",
                 "the customer is in the programme (enrolment active or holdout)"),
)}

KEYWORDS = {"and": "and", "or": "or", "not": "not", "in": "in", "is": "is",
            "true": "true", "false": "false", "null": "null", "none": "null"}


# --- the AST --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Node:
    pos: int  # 0-based character index in the text
    type: Type
    nullable: bool  # can be NULL in SQL (a missing profile, no such time, division by zero …)
    height: int


@dataclass(frozen=True, kw_only=True)
class Const(Node):
    value: int | float | str | bool | None


@dataclass(frozen=True, kw_only=True)
class ListOf(Node):
    items: tuple[Const, ...]


@dataclass(frozen=True, kw_only=True)
class Field(Node):
    name: str


@dataclass(frozen=True, kw_only=True)
class Call(Node):
    name: str
    args: tuple[tuple[str, int | float | str | None], ...]  # every parameter by name, None when not given

    def arg(self, name: str) -> int | float | str | None:
        return dict(self.args)[name]


@dataclass(frozen=True, kw_only=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True, kw_only=True)
class Arith(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True, kw_only=True)
class Compare(Node):
    """`a < b <= c` is (a < b) and (b <= c): one (op, left, right) per link."""

    links: tuple[tuple[str, Node, Node], ...]  # op in == != < <= > >= in, not in


@dataclass(frozen=True, kw_only=True)
class Logic(Node):
    op: str  # and, or
    operands: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class Segment:
    """A parsed, type-checked segment: the source text and its AST (`root`, always a condition)."""

    text: str
    root: Node

    def __str__(self) -> str:
        return self.text


# --- tokens ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: Kind["num", "str", "name", "kw", "op", "end"]
    value: str | int | float
    pos: int
    text: str  # as written


_NUMBER = re.compile(r"(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?", re.ASCII)
_DIGITS = "0123456789"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = ("==", "!=", "<=", ">=", "<", ">", "=", "+", "-", "*", "/", "(", ")", "[", "]", ",")
_WRONG_OPS = {
    "<>": "write != for 'not equal'", "**": "there is no power operator; operators are + - * /",
    "//": "there is no integer division; operators are + - * /", "&&": "write and", "||": "write or",
    "&": "write and", "|": "write or", "!": "write not (or != for 'not equal')", "%": "operators are + - * /",
    ";": "a segment is one condition; join conditions with and / or", "=>": "write >=", "=<": "write <=",
}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
_CURLY = "‘’“”„‚«»"


def _fail(message: str, pos: int | None) -> SegmentError:
    return SegmentError(message, column=None if pos is None else pos + 1)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "'\"":
            value, end = _string(text, i)
            tokens.append(_Token("str", value, i, text[i:end]))
            i = end
            continue
        if ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER.match(text, i)
            assert m is not None
            tokens.append(_Token("num", _number(m.group(), i), i, m.group()))
            i = m.end()
            continue
        if ch.isascii() and (ch.isalpha() or ch == "_"):
            m = _NAME.match(text, i)
            assert m is not None
            word = m.group()
            kw = KEYWORDS.get(word.lower())
            tokens.append(_Token("kw" if kw else "name", kw or word, i, word))
            i = m.end()
            continue
        two = text[i:i + 2]
        if two in _WRONG_OPS:
            raise _fail(f"{two!r} is not part of the language: {_WRONG_OPS[two]}", i)
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(_Token("op", op, i, op))
            i += len(op)
            continue
        if ch in _WRONG_OPS:
            raise _fail(f"{ch!r} is not part of the language: {_WRONG_OPS[ch]}", i)
        if ch == ".":
            raise _fail("unexpected '.': there is no attribute access; write a field such as clv, or a function "
                        "such as attribute('plan')", i)
        if ch in _CURLY:
            raise _fail(f"curly quote {ch!r}: write strings with straight quotes, like 'at_risk'", i)
        raise _fail(f"unexpected character {ch!r}; a segment is made of fields, numbers, 'strings', function "
                    "calls, and / or / not, comparisons (== != < <= > >= in) and + - * /", i)
    tokens.append(_Token("end", "", n, ""))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if len(out) > MAX_STRING:
                raise _fail(f"string longer than {MAX_STRING} characters", start)
            return "".join(out), i + 1
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt not in _ESCAPES:
                raise _fail(f"unknown escape '\\{nxt}' in a string; write \\\\ for a backslash, \\{quote} for "
                            "the quote", i)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise _fail(f"string not closed; end it with {quote}", start)


def _number(text: str, pos: int) -> int | float:
    clean = text.replace("_", "")
    if clean.isascii() and clean.isdigit():
        value: int | float = int(clean)
        if value > MAX_INT:
            raise _fail(f"number {text} is too large (at most {MAX_INT})", pos)
        return value
    value = float(clean)
    if not math.isfinite(value) or abs(value) > 1e300:
        raise _fail(f"number {text} is too large", pos)
    return value


# --- messages -------------------------------------------------------------------------------------------------


def _quoted(names: list[str] | tuple[str, ...]) -> str:
    return " or ".join(repr(n) for n in names)


def _suggest(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lower), n=3, cutoff=0.6)
    return f"; did you mean {_quoted([lower[c] for c in close])}? " if close else "; "


def _describe(node: Node) -> str:
    if isinstance(node, Const):
        if node.value is None:
            return "null"
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return f"the {'string' if isinstance(node.value, str) else 'number'} {node.value!r}"
    if isinstance(node, Field):
        return f"{node.type} field {node.name!r}"
    if isinstance(node, Call):
        return f"{node.name}(…) ({node.type})"
    if isinstance(node, ListOf):
        return "a list"
    return {"number": "a number", "text": "text", "bool": "a condition", "null": "null", "list": "a list"}[node.type]


def _example(node: Node) -> str:
    name = node.name if isinstance(node, Field) else (f"{node.name}(…)" if isinstance(node, Call) else None)
    if name and node.type == "number":
        return f"; compare it, e.g. {name} > 0"
    if name and node.type == "text":
        values = FIELDS[name].values if isinstance(node, Field) and FIELDS[name].values else None
        return f"; compare it, e.g. {name} == '{values[0] if values else '…'}'"
    return "; write a comparison such as clv > 100, or a condition such as scored()"


# --- the parser -----------------------------------------------------------------------------------------------


_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    # tokens

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, kind: str, value: str | None = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (value is None or tok.value == value)

    def expect_op(self, op: str, message: str) -> _Token:
        if not self.at("op", op):
            raise _fail(f"{message}, found {self.shown(self.peek())}", self.peek().pos)
        return self.take()

    @staticmethod
    def shown(tok: _Token) -> str:
        return "the end of the segment" if tok.kind == "end" else repr(tok.text)

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(f"nested more than {MAX_DEPTH} levels deep; simplify the segment", pos)

    @staticmethod
    def height(pos: int, *children: Node) -> int:
        h = 1 + max((c.height for c in children), default=0)
        if h > MAX_DEPTH:
            raise _fail(f"more than {MAX_DEPTH} operators in one chain or nesting; simplify the segment "
                        "(e.g. stage in ['a', 'b'] instead of many or's)", pos)
        return h

    # grammar: or > and > not > comparison > sum > product > sign > primary

    def parse(self) -> Node:
        if self.at("end"):
            raise _fail("empty; write a condition such as stage == 'at_risk'", None)
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            if tok.kind == "op" and tok.value == ")":
                raise _fail("unexpected ')' with no '(' before it", tok.pos)
            raise _fail(f"unexpected {self.shown(tok)} after a complete expression; join conditions with and / or, "
                        "compare with == != < <= > >= in", tok.pos)
        return self.condition(node, "a segment")

    def condition(self, node: Node, where: str) -> Node:
        if node.type != "bool":
            raise _fail(f"{where} must be a condition, but {_describe(node)} is not one{_example(node)}", node.pos)
        return node

    def logic(self, op: str, operand: Callable[[], Node]) -> Node:
        first = operand()
        operands = [first]
        while self.at("kw", op):
            self.take()
            self.condition(operands[-1], f"the left side of {op}")
            operands.append(self.condition(operand(), f"the right side of {op}"))
        if len(operands) == 1:
            return first
        return Logic(pos=first.pos, type="bool", nullable=any(o.nullable for o in operands),
                     height=self.height(first.pos, *operands), op=op, operands=tuple(operands))

    def or_(self) -> Node:
        return self.logic("or", self.and_)

    def and_(self) -> Node:
        return self.logic("and", self.not_)

    def not_(self) -> Node:
        if not self.at("kw", "not"):
            return self.comparison()
        tok = self.take()
        self.enter(tok.pos)
        operand = self.condition(self.not_(), "what follows not")
        self.depth -= 1
        return Not(pos=tok.pos, type="bool", nullable=False, height=self.height(tok.pos, operand), operand=operand)

    def comparison_op(self) -> tuple[str, int] | None:
        tok = self.peek()
        if tok.kind == "op" and tok.value in _COMPARISONS:
            self.take()
            return str(tok.value), tok.pos
        if tok.kind == "op" and tok.value == "=":
            raise _fail("a single = does not compare; write == (or != for 'not equal')", tok.pos)
        if tok.kind == "kw" and tok.value == "in":
            self.take()
            return "in", tok.pos
        if tok.kind == "kw" and tok.value == "not" and self.peek(1).kind == "kw" and self.peek(1).value == "in":
            self.take()
            self.take()
            return "not in", tok.pos
        if tok.kind == "kw" and tok.value == "is":
            raise _fail("write == null or != null instead of is / is not", tok.pos)
        return None

    def comparison(self) -> Node:
        left = self.sum_()
        links: list[tuple[str, Node, Node]] = []
        while (found := self.comparison_op()) is not None:
            op, pos = found
            if op in ("in", "not in") and self.at("op", "("):
                raise _fail(f"write the list in square brackets, as in stage {op} ['at_risk', 'dormant']",
                            self.peek().pos)
            right = self.sum_()
            links.append(_check_link(op, pos, links[-1][2] if links else left, right))
        if not links:
            if isinstance(left, ListOf):
                raise _fail("a list can only follow in or not in, as in stage in ['at_risk', 'dormant']", left.pos)
            return left
        nodes = [left, *(r for _, _, r in links)]
        nullable = any(_link_nullable(link) for link in links)
        return Compare(pos=left.pos, type="bool", nullable=nullable, height=self.height(left.pos, *nodes),
                       links=tuple(links))

    def arith(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        left = operand()
        while self.peek().kind == "op" and self.peek().value in ops:
            tok = self.take()
            right = operand()
            op = str(tok.value)
            for side, node in (("left", left), ("right", right)):
                if node.type != "number":
                    raise _fail(f"{op} works on numbers, but its {side} side is {_describe(node)}", node.pos)
            left = Arith(pos=left.pos, type="number", nullable=left.nullable or right.nullable or op == "/",
                         height=self.height(tok.pos, left, right), op=op, left=left, right=right)
        return left

    def sum_(self) -> Node:
        return self.arith(("+", "-"), self.product)

    def product(self) -> Node:
        return self.arith(("*", "/"), self.sign)

    def sign(self) -> Node:
        if not (self.at("op", "-") or self.at("op", "+")):
            return self.primary()
        tok = self.take()
        self.enter(tok.pos)
        operand = self.sign()
        self.depth -= 1
        if operand.type != "number":
            raise _fail(f"a sign {tok.value} needs a number, but {_describe(operand)} follows it", operand.pos)
        if tok.value == "+":
            return operand
        if isinstance(operand, Const):
            return Const(pos=tok.pos, type="number", nullable=False, height=1, value=-operand.value)  # type: ignore[operator]
        return Negate(pos=tok.pos, type="number", nullable=operand.nullable, height=self.height(tok.pos, operand),
                      operand=operand)

    def primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "num":
            self.take()
            return Const(pos=tok.pos, type="number", nullable=False, height=1, value=tok.value)
        if tok.kind == "str":
            self.take()
            return Const(pos=tok.pos, type="text", nullable=False, height=1, value=tok.value)
        if tok.kind == "kw" and tok.value in ("true", "false", "null"):
            self.take()
            if tok.value == "null":
                return Const(pos=tok.pos, type="null", nullable=True, height=1, value=None)
            return Const(pos=tok.pos, type="bool", nullable=False, height=1, value=tok.value == "true")
        if tok.kind == "name":
            self.take()
            if self.at("op", "("):
                return self.call(tok)
            return _field(tok)
        if tok.kind == "op" and tok.value == "(":
            self.take()
            self.enter(tok.pos)
            inner = self.or_()
            self.expect_op(")", f"expected ')' to close the '(' at column {tok.pos + 1}")
            self.depth -= 1
            return inner
        if tok.kind == "op" and tok.value == "[":
            return self.list_()
        what = "the end of the segment" if tok.kind == "end" else repr(tok.text)
        raise _fail(f"expected a value (a field, number, 'string', function call or '('), found {what}",
                    tok.pos)

    def list_(self) -> ListOf:
        start = self.take()
        self.enter(start.pos)
        items: list[Const] = []
        while not self.at("op", "]"):
            item = self.sign()
            if not isinstance(item, Const) or item.type == "bool":
                raise _fail("list items are written out: numbers, 'strings' or null, as in [4, 5] or "
                            "['at_risk', 'dormant']", item.pos)
            items.append(item)
            if len(items) > MAX_LIST:
                raise _fail(f"a list holds at most {MAX_LIST} items", item.pos)
            if not self.at("op", "]"):
                self.expect_op(",", "expected ',' or ']' in the list")
        self.take()
        self.depth -= 1
        kinds = {i.type for i in items} - {"null"}
        if len(kinds) > 1:
            raise _fail("a list mixes numbers and strings; use one kind", start.pos)
        return ListOf(pos=start.pos, type="list", nullable=False, height=2, items=tuple(items))

    def call(self, name_tok: _Token) -> Call:
        name = str(name_tok.value)
        spec = FUNCTIONS.get(name)
        if spec is None:
            if name in FIELDS:
                raise _fail(f"{name!r} is a field, not a function; write {name} without ()", name_tok.pos)
            raise _fail(f"unknown function {name!r}{_suggest(name, list(FUNCTIONS))}functions: "
                        f"{', '.join(FUNCTIONS)}", name_tok.pos)
        open_tok = self.take()
        self.enter(open_tok.pos)
        positional: list[Const] = []
        keywords: dict[str, tuple[int, Const]] = {}
        while not self.at("op", ")"):
            tok = self.peek()
            if tok.kind == "name" and self.peek(1).kind == "op" and self.peek(1).value == "=":
                self.take()
                self.take()
                if tok.value in keywords:
                    raise _fail(f"{tok.value} is given twice", tok.pos)
                keywords[str(tok.value)] = (tok.pos, self.argument(spec))
            elif keywords:
                raise _fail(f"write {spec.signature}: positional arguments come before days=", tok.pos)
            else:
                positional.append(self.argument(spec))
            if not self.at("op", ")"):
                self.expect_op(",", f"expected ',' or ')' in {name}(…); write {spec.signature}")
        self.take()
        self.depth -= 1
        args = _bind_args(spec, name_tok.pos, positional, keywords)
        return Call(pos=name_tok.pos, type=spec.returns, nullable=spec.nullable, height=1, name=name, args=args)

    def argument(self, spec: FunctionSpec) -> Const:
        node = self.sign()
        if not isinstance(node, Const) or node.type in ("bool", "null"):
            raise _fail(f"the arguments of {spec.name} are written out; write {spec.signature}", node.pos)
        return node


def _field(tok: _Token) -> Field:
    name = str(tok.value)
    spec = FIELDS.get(name)
    if spec is None:
        if name in FUNCTIONS:
            raise _fail(f"{name!r} is a function; write {FUNCTIONS[name].signature}", tok.pos)
        candidates = [*FIELDS, *FUNCTIONS]
        raise _fail(f"unknown field {name!r}{_suggest(name, candidates)}fields: {', '.join(FIELDS)}; "
                    f"functions: {', '.join(FUNCTIONS)}", tok.pos)
    return Field(pos=tok.pos, type=spec.type, nullable=spec.nullable, height=1, name=name)


def _bind_args(spec: FunctionSpec, pos: int, positional: list[Const],
               keywords: dict[str, tuple[int, Const]]) -> tuple[tuple[str, int | float | str | None], ...]:
    plain = [p for p in spec.params if not p.keyword_only]
    if len(positional) > len(plain):
        extra = positional[len(plain)]
        hint = " (days is written days=N)" if any(p.keyword_only for p in spec.params) else ""
        raise _fail(f"too many arguments to {spec.name}{hint}; write {spec.signature}", extra.pos)
    given = dict(zip((p.name for p in plain), positional, strict=False))
    for key, (key_pos, node) in keywords.items():
        param = next((p for p in spec.params if p.name == key), None)
        if param is None or not param.keyword_only:
            names = [p.name for p in spec.params if p.keyword_only]
            raise _fail(f"{spec.name} has no argument {key}={_suggest(key, names)}write {spec.signature}", key_pos)
        given[key] = node
    values: list[tuple[str, int | float | str | None]] = []
    for param in spec.params:
        node = given.get(param.name)
        if node is None:
            if param.required:
                raise _fail(f"{spec.name} needs its {param.name}; write {spec.signature}", pos)
            values.append((param.name, None))
            continue
        values.append((param.name, _check_arg(spec, param, node)))
    return tuple(values)


def _check_arg(spec: FunctionSpec, param: Param, node: Const) -> int | float | str:
    value = node.value
    if param.type == "text" and not isinstance(value, str):
        raise _fail(f"the {param.name} of {spec.name} is a 'string'; write {spec.signature}", node.pos)
    if param.type == "number" and (isinstance(value, str) or value is None):
        raise _fail(f"{param.name} is a number; write {spec.signature}", node.pos)
    if param.name == "days":
        if not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            raise _fail(f"days is a whole number from 1 to {MAX_DAYS}, like days=90", node.pos)
        return value
    assert isinstance(value, str)
    if param.choices is not None and value not in param.choices:
        raise _fail(f"{spec.name} has no {param.name} {value!r}{_suggest(value, param.choices)}write one of: "
                    f"{', '.join(param.choices)}", node.pos)
    if not value:
        raise _fail(f"the {param.name} of {spec.name} is empty; write {spec.signature}", node.pos)
    return value


# --- comparisons ----------------------------------------------------------------------------------------------


def _check_link(op: str, pos: int, left: Node, right: Node) -> tuple[str, Node, Node]:
    if op in ("in", "not in"):
        if not isinstance(right, ListOf):
            raise _fail(f"{op} needs a list after it, like [4, 5] or ['at_risk', 'dormant']", right.pos)
        if left.type not in ("number", "text"):
            raise _fail(f"{op} works on numbers and text, not on {_describe(left)}", left.pos)
        for item in right.items:
            if item.type != "null":
                _check_types(op, item, left, item)
        return op, left, right
    for node in (left, right):
        if isinstance(node, ListOf):
            raise _fail(f"a list can only follow in or not in; write x in [...] instead of x {op} [...]", node.pos)
    if "null" in (left.type, right.type):
        if op not in ("==", "!="):
            raise _fail(f"null can only be compared with == or != (null {op} anything is never true)", pos)
        if left.type == right.type == "null":
            raise _fail("null == null compares nothing; compare a field or function with null", pos)
        if "bool" in (left.type, right.type):
            raise _fail("a condition is never null (true or false); compare a field or function with null", pos)
        return op, left, right
    _check_types(op, pos, left, right)
    return op, left, right


def _check_types(op: str, where: int | Const, left: Node, right: Node) -> None:
    pos = where.pos if isinstance(where, Const) else where
    if left.type != right.type:
        hint = ""
        literal = right if isinstance(right, Const) else left if isinstance(left, Const) else None
        other = left if literal is right else right
        if literal is not None and literal.type == "number" and other.type == "text":
            values = FIELDS[other.name].values if isinstance(other, Field) else None
            hint = f"; it is text, so write a string, like '{values[0] if values else literal.value}'"
        elif literal is not None and literal.type == "text" and other.type == "number":
            number = str(literal.value).strip()
            hint = f"; write the number without quotes: {number}" if _NUMBER.fullmatch(number) else \
                f"; {_describe(other)} is a number"
        raise _fail(f"cannot compare {_describe(left)} with {_describe(right)}{hint}", pos)
    if left.type == "text" and op not in ("==", "!=", "in", "not in"):
        raise _fail(f"text is compared with ==, != or in, not {op}", pos)
    if left.type == "bool" and op not in ("==", "!="):
        raise _fail(f"conditions are compared with == or !=, not {op}", pos)
    for field, value in ((left, right), (right, left)):
        if isinstance(field, Field) and isinstance(value, Const) and isinstance(value.value, str):
            allowed = FIELDS[field.name].values
            if allowed is not None and value.value not in allowed:
                raise _fail(f"{field.name} is never {value.value!r}{_suggest(value.value, allowed)}values: "
                            f"{', '.join(allowed)}", value.pos)


def _link_nullable(link: tuple[str, Node, Node]) -> bool:
    _, left, right = link
    if "null" in (left.type, right.type) or left.type == "bool":
        return False  # IS [NOT] NULL; conditions compare as two-valued
    return left.nullable or right.nullable


# --- the entry point ------------------------------------------------------------------------------------------


def parse_segment(text: str) -> Segment:
    """Parse and type-check a segment expression; a `SegmentError` says where and what to write instead."""
    if not isinstance(text, str):
        raise SegmentError(f"a segment is text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise SegmentError(f"{len(text):,} characters long; a segment has at most {MAX_LENGTH:,}")
    return Segment(text=text, root=_Parser(text).parse())
