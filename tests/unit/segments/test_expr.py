"""The segment language's parser: the tree it builds, every mistake with its column, and hostile input."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from winback.domain.errors import SegmentError, UserError
from winback.segments import FIELDS, FUNCTIONS, parse_segment, segment_condition
from winback.segments.expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    Arith,
    Call,
    Compare,
    Const,
    Field,
    Logic,
    Negate,
    Not,
)
from winback.store import tables as t


def root(text: str):
    return parse_segment(text).root


def error(text: str) -> SegmentError:
    with pytest.raises(SegmentError) as info:
        parse_segment(text)
    return info.value


# --- what is built ---------------------------------------------------------------------------------------------


def test_the_example_parses_to_an_and_of_four_conditions():
    text = ("stage in ['at_risk', 'dormant'] and clv > 200 and days_since('last_order') >= 60 "
            "and not suppressed('email')")
    segment = parse_segment(text)
    assert segment.text == str(segment) == text
    node = segment.root
    assert isinstance(node, Logic) and node.op == "and" and len(node.operands) == 4
    in_list, clv, days, negated = node.operands
    assert in_list.links[0][0] == "in" and [i.value for i in in_list.links[0][2].items] == ["at_risk", "dormant"]
    assert clv.links == ((">", Field(pos=36, type="number", nullable=True, height=1, name="clv"),
                          Const(pos=42, type="number", nullable=False, height=1, value=200)),)
    assert isinstance(days.links[0][1], Call) and days.links[0][1].arg("time") == "last_order"
    assert isinstance(negated, Not) and isinstance(negated.operand, Call) and negated.operand.name == "suppressed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        segment.text = "x"  # type: ignore[misc]


def test_and_binds_tighter_than_or_and_not_looser_than_comparisons():
    node = root("scored() or clv > 1 and clv < 5")
    assert isinstance(node, Logic) and node.op == "or"
    assert isinstance(node.operands[1], Logic) and node.operands[1].op == "and"
    grouped = root("(scored() or clv > 1) and clv < 5")
    assert isinstance(grouped, Logic) and grouped.op == "and" and grouped.operands[0].op == "or"
    negated = root("not clv == 1 and scored()")
    assert isinstance(negated, Logic) and isinstance(negated.operands[0], Not)
    assert isinstance(negated.operands[0].operand, Compare)
    assert isinstance(root("not not scored()").operand, Not)


def test_arithmetic_precedence_and_signs():
    cmp = root("1 + 2 * clv - -3 / 4 == 7")
    left = cmp.links[0][1]
    assert isinstance(left, Arith) and left.op == "-"
    assert isinstance(left.left, Arith) and left.left.op == "+" and left.left.right.op == "*"
    assert left.right.op == "/" and left.right.left == Const(pos=14, type="number", nullable=False, height=1, value=-3)
    negated = root("-clv < 0").links[0][1]
    assert isinstance(negated, Negate) and negated.operand.name == "clv"
    assert root("+clv < 0").links[0][1].name == "clv"
    assert root("(1 + 2) * 3 == 9").links[0][1].left.op == "+"


def test_chained_comparisons_are_links():
    node = root("100 < clv <= 300 != 5")
    assert [op for op, _, _ in node.links] == ["<", "<=", "!="]
    assert node.links[0][2] is node.links[1][1]


def test_literals_keywords_and_strings():
    assert root("TRUE").value is True and root("False").value is False and root("true").value is True
    for text in ("clv == null", "clv == None", "clv == NULL"):
        assert root(text).links[0][2].type == "null"
    assert root("scored() AND NOT suppressed('sms') Or scored()").op == "or"
    assert "did you mean 'scored'?" in error("Scored()").reason  # names are lower case
    assert root("clv > 1_000.5").links[0][2].value == 1000.5
    assert root("clv > 2e3").links[0][2].value == 2000.0
    assert root("clv > .5").links[0][2].value == 0.5
    assert root("clv > 12").links[0][2].value == 12
    assert root('stage == "at_risk"').links[0][2].value == "at_risk"
    assert root(r"customer_id == 'it\'s \"x\" \\ \n\t'").links[0][2].value == "it's \"x\" \\ \n\t"
    assert root("attribute('会员 等级') == '金'").links[0][1].arg("key") == "会员 等级"
    assert root("stage in []").links[0][2].items == ()
    assert root("rfm_r in [4, 5,]").links[0][2].items[1].value == 5
    assert root("stage in ['new', null]").links[0][2].items[1].type == "null"
    assert root("stage not in ['new']").links[0][0] == "not in"
    assert root("\n  stage == 'new'\n").links[0][0] == "=="


def test_function_arguments_are_bound_by_name():
    assert root("orders() > 1").links[0][1].args == (("days", None),)
    assert root("orders(days=90) > 1").links[0][1].arg("days") == 90
    assert root("events('login', days = 7) > 1").links[0][1].args == (("type", "login"), ("days", 7))
    assert root("revenue(days=30,) > 1").links[0][1].arg("days") == 30
    for name, spec in FUNCTIONS.items():
        assert spec.signature.startswith(f"{name}(")


def test_nullability_follows_the_store():
    assert root("clv > 1").nullable and not root("customer_id == 'a'").nullable
    assert not root("orders() > 1").nullable and root("days_since('signup') > 1").nullable
    assert root("orders() / 2 > 1").nullable  # division by zero is null
    assert not root("clv == null").nullable and not root("not clv > 1").nullable
    assert not root("(clv > 1) == scored()").nullable


def test_allow_lists_cover_the_store():
    from winback.scoring.dormancy import DORMANCY_TYPES
    from winback.scoring.reason_lexicon import LABELS
    from winback.segments.expr import DORMANCY_TYPES as D
    from winback.segments.expr import REASON_LABELS, STAGES
    from winback.segments.lifecycle import STAGES as LIFECYCLE_STAGES

    profile_columns = {c.name for c in t.profiles.columns} - {
        "customer_id", "run_id", "as_of", "stage_since", "signals", "explanation"}
    assert profile_columns == {f.name for f in FIELDS.values() if f.table == "profiles"}
    customer_fields = {f.name for f in FIELDS.values() if f.table == "customers"}
    assert customer_fields == {"customer_id", "email", "locale", "time_zone"}
    for spec in FIELDS.values():
        column = (t.profiles if spec.table == "profiles" else t.customers).c[spec.name]
        assert (spec.type == "text") == isinstance(column.type, sa.String), spec.name
    assert STAGES == LIFECYCLE_STAGES and set(D) == set(DORMANCY_TYPES) and set(REASON_LABELS) == set(LABELS)


def test_the_docs_describe_every_field_and_function():
    text = (Path(__file__).parents[3] / "docs" / "segments.md").read_text(encoding="utf-8")
    for name in FIELDS:
        assert f"`{name}`" in text or f"`{name}," in text or f" `{name}`" in text, name
    for spec in FUNCTIONS.values():
        assert f"`{spec.name}(" in text, spec.name


def test_importing_segments_stays_light():
    code = ("import sys; import winback.segments; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'numpy', 'ibis', 'duckdb'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- mistakes: one line, the column, what to write ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "column", "says"), [
    ("cvl > 2", 1, "unknown field 'cvl'; did you mean 'clv'? fields: stage,"),
    ("clv > 200 and stgae == 'new'", 15, "did you mean 'stage'?"),
    ("CLV > 2", 1, "did you mean 'clv'?"),
    ("stage == 5", 7, "cannot compare text field 'stage' with the number 5; it is text, so write a string, like 'new'"),
    ("revenue() > '200'", 11, "write the number without quotes: 200"),
    ("stage == 'at_rsk'", 10, "stage is never 'at_rsk'; did you mean 'at_risk'? values: new, active"),
    ("stage in ['new', 'dormnt']", 18, "did you mean 'dormant'?"),
    ("stage > 'a'", 7, "text is compared with ==, != or in, not >"),
    ("scored() < suppressed('sms')", 10, "conditions are compared with == or !="),
    ("clv == scored()", 5, "cannot compare number field 'clv' with scored(…) (bool)"),
    ("clv = 5", 5, "a single = does not compare; write =="),
    ("clv <> 5", 5, "write != for 'not equal'"),
    ("clv => 5", 5, "write >="),
    ("clv ** 2 > 1", 5, "no power operator"),
    ("clv // 2 > 1", 5, "no integer division"),
    ("clv % 2 > 1", 5, "operators are + - * /"),
    ("clv > 1 && scored()", 9, "write and"),
    ("clv > 1 || scored()", 9, "write or"),
    ("!scored()", 1, "write not"),
    ("clv > 1; drop table customers", 8, "a segment is one condition"),
    ("stage in ('a', 'b')", 10, "write the list in square brackets"),
    ("clv in 5", 8, "in needs a list after it"),
    ("clv not in clv", 12, "not in needs a list"),
    ("clv == [1]", 8, "a list can only follow in or not in"),
    ("[1, 2]", 1, "a list can only follow in or not in"),
    ("scored() in [1]", 1, "in works on numbers and text, not on scored(…) (bool)"),
    ("stage in [1, 'a']", 10, "a list mixes numbers and strings"),
    ("stage in [clv]", 11, "list items are written out"),
    ("stage in [[1]]", 11, "list items are written out"),
    ("stage in ['a' 'b']", 15, "expected ',' or ']' in the list"),
    ("rfm_r in [1, 'x']", 10, "mixes"),
    ("rfm_r in ['1']", 11, "write the number without quotes: 1"),
    ("clv > null", 5, "null can only be compared with == or !="),
    ("null == null", 6, "compare a field or function with null"),
    ("scored() != null", 10, "a condition is never null"),
    ("clv", 1, "a segment must be a condition, but number field 'clv' is not one; compare it, e.g. clv > 0"),
    ("stage", 1, "compare it, e.g. stage == 'new'"),
    ("5", 1, "a segment must be a condition, but the number 5"),
    ("null", 1, "null is not one"),
    ("attribute('plan')", 1, "compare it, e.g. attribute(…) == '…'"),
    ("clv > 1 and 5", 13, "the right side of and must be a condition"),
    ("clv or scored()", 1, "the left side of or must be a condition"),
    ("not clv", 5, "what follows not must be a condition"),
    ("stage + 1 > 2", 1, "+ works on numbers, but its left side is text field 'stage'"),
    ("clv * scored() > 2", 7, "* works on numbers, but its right side is scored(…) (bool)"),
    ("1 + null > 2", 5, "right side is null"),
    ("-stage == 'x'", 2, "a sign - needs a number"),
    ("clv() > 1", 1, "'clv' is a field, not a function; write clv without ()"),
    ("scored", 1, "'scored' is a function; write scored()"),
    ("scored(1)", 8, "too many arguments to scored; write scored()"),
    ("orders(90) > 1", 8, "too many arguments to orders (days is written days=N)"),
    ("days_since() > 1", 1, "days_since needs its time; write days_since("),
    ("days_since('last_ordr') > 1", 12, "days_since has no time 'last_ordr'; did you mean 'last_order'"),
    ("days_since(time='signup') > 1", 12, "days_since has no argument time="),
    ("days_since(clv) > 1", 12, "the arguments of days_since are written out"),
    ("days_since('signup' + 'x') > 1", 21, "expected ',' or ')' in days_since(…); write days_since("),
    ("days_since(true) > 1", 12, "the arguments of days_since are written out"),
    ("orders(days=0) > 1", 13, "days is a whole number from 1 to 36500"),
    ("orders(days=1.5) > 1", 13, "days is a whole number"),
    ("orders(days=-5) > 1", 13, "days is a whole number"),
    ("orders(days='90') > 1", 13, "days is a number; write orders(days=N)"),
    ("orders(dayz=9) > 1", 8, "orders has no argument dayz=; did you mean 'days'?"),
    ("events(days=3, 'login') > 1", 16, "positional arguments come before days="),
    ("events('login', days=3, days=4) > 1", 25, "days is given twice"),
    ("events('logn') > 1", 8, "events has no type 'logn'; did you mean 'login'?"),
    ("events('login' days=3) > 1", 16, "expected ',' or ')' in events(…)"),
    ("suppressed('mail')", 12, "did you mean 'email'?"),
    ("consented('push')", 11, "write one of: email, sms"),
    ("attribute(5) == 'x'", 11, "the key of attribute is a 'string'"),
    ("has_tag('')", 9, "the tag of has_tag is empty"),
    ("lookup('x')", 1, "unknown function 'lookup'"),
    ("scroed()", 1, "unknown function 'scroed'; did you mean 'scored'?"),
    ("'abc", 1, "string not closed; end it with '"),
    ("stage == \"abc", 10, "string not closed; end it with \""),
    (r"stage == 'a\qb'", 12, "unknown escape '\\q'"),
    ("clv > 1e999", 7, "is too large"),
    ("clv > 99999999999999999999", 7, "is too large"),
    ("clv > 5 )", 9, "unexpected ')' with no '(' before it"),
    ("(clv > 5", 9, "expected ')' to close the '(' at column 1, found the end of the segment"),
    ("clv > ", 7, "expected a value (a field, number, 'string', function call or '('), found the end"),
    ("clv > 5 and ()", 14, "found ')'"),
    ("stage == ‘new’", 10, "curly quote"),
    ("clv > 5 is null", 9, "write == null or != null instead of is"),
    ("clv >= 5 and # comment", 14, "unexpected character '#'"),
    ("clv > 1 -- comment", 12, "unknown field 'comment'"),
    ("clv > 1 /* x */", 10, "found '*'"),
    ("clv > 1 stage == 'new'", 9, "unexpected 'stage' after a complete expression; join conditions with and / or"),
    ("clv > 1 'x'", 9, "unexpected \"'x'\" after a complete expression"),
    ("clv > 1 or", 11, "found the end of the segment"),
    ("clv < 1 < stage", 9, "cannot compare the number 1 with text field 'stage'"),
    ("clv²", 4, "unexpected character '²'"),
    ("clv > 5\x00", 8, "unexpected character '\\x00'"),
])
def test_mistakes_name_the_column_and_what_to_write(text, column, says):
    exc = error(text)
    assert exc.column == column, str(exc)
    assert str(exc).startswith(f"segment, column {column}: "), str(exc)
    assert says in str(exc), str(exc)
    assert "\n" not in str(exc)
    assert isinstance(exc, UserError)


@pytest.mark.parametrize(("text", "says"), [
    ("", "segment: empty; write a condition such as stage == 'at_risk'"),
    ("   \n\t", "segment: empty"),
    ("scored() and " * 400 + "scored()", f"a segment has at most {MAX_LENGTH:,}"),
])
def test_mistakes_without_a_column(text, says):
    exc = error(text)
    assert exc.column is None and says in str(exc)


def test_not_text_is_refused():
    with pytest.raises(SegmentError, match="a segment is text, not NoneType"):
        parse_segment(None)  # type: ignore[arg-type]


# --- hostile input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "__import__('os')",
    "__import__('os').system('rm -rf /')",
    "email desc, (select 1)",
    "x.__class__",
    "clv.__class__.__mro__",
    "().__class__.__bases__[0].__subclasses__()",
    "scored().real > 0",
    "clv[0] > 1",
    "stage['x'] == 'a'",
    "lambda: 1",
    "(lambda x: x)(1)",
    "[x for x in [1]]",
    "{'a': 1}",
    "f'{clv}' == 'x'",
    "clv if scored() else 1",
    "clv ** 99999999 > 1",
    "eval('1')",
    "exec('import os')",
    "globals()",
    "open('/etc/passwd')",
    "1; DROP TABLE customers",
    "stage == 'a' UNION SELECT * FROM customers",
    "clv > 1 -- ' or 1=1",
    "customer_id == `id`",
    "$1 > 0",
    "@clv > 0",
    "clv := 5",
    "*clv > 0",
    "clv > 0 \\",
    "orders(days=__import__('os')) > 1",
    "attribute(attribute('x')) == 'y'",
    "days_since(stage) > 1",
])
def test_hostile_input_is_a_segment_error(text):
    error(text)


def test_nesting_is_capped():
    for text in ("(" * (MAX_DEPTH + 5) + "scored()" + ")" * (MAX_DEPTH + 5),
                 "not " * (MAX_DEPTH + 5) + "scored()",
                 "-" * (MAX_DEPTH + 5) + "1 > 0",
                 "clv" + " + 1" * (MAX_DEPTH + 5) + " > 0",
                 "(" * 5_000,
                 "[" * 3_000):
        exc = error(text)
        assert "simplify the segment" in str(exc) or "characters long" in str(exc)
    depth = MAX_DEPTH // 2
    assert parse_segment("(" * depth + "scored()" + ")" * depth)
    assert len(root("scored() or " * 300 + "scored()").operands) == 301  # long but flat is fine
    exc = error("stage in [" + "1, " * 1_001 + "]")
    assert "at most 1000 items" in str(exc)


# --- fuzzing -----------------------------------------------------------------------------------------------------

TOKENS = [*FIELDS, *(f.signature.split("(")[0] + "(" for f in FUNCTIONS.values()), "scored()", "orders()",
          "days_since('last_order')", "events('login', days=30)", "attribute('plan')", "days=", "days=30",
          "and", "or", "not", "in", "not in", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "(", ")", "[",
          "]", ",", "=", "0", "1", "60", "2.5", "-3", "'at_risk'", "'email'", "'x'", '"y"', "true", "false", "null",
          "None", ".", "**", "'", "\\", "__import__", "select", "'); drop table customers; --"]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_segment_error(text):
    try:
        parse_segment(text)
    except SegmentError as exc:
        assert "\n" not in exc.reason


def _compiles_everywhere(text: str) -> None:
    try:
        segment = parse_segment(text)
    except SegmentError:
        return
    assert segment.root.type == "bool"
    from datetime import UTC, datetime

    condition = segment_condition(segment, now=datetime(2026, 10, 1, tzinfo=UTC))
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        sql = str(sa.select(t.customers.c.customer_id).where(condition).compile(dialect=dialect))
        assert "drop table" not in sql.lower()


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_token_soup_parses_or_raises_segment_error_and_what_parses_compiles(tokens):
    _compiles_everywhere(" ".join(tokens))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_token_soup_without_spaces(tokens):
    _compiles_everywhere("".join(tokens))


def quote(value: str) -> str:
    """A string literal in segment syntax."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t")
    return f"'{escaped}'"


TEXT = st.text(max_size=20)
NUMBER_LEAVES = st.one_of(
    st.sampled_from([f.name for f in FIELDS.values() if f.type == "number"] + [
        "orders()", "orders(days=30)", "revenue(days=365)", "events('login', days=7)", "days_since('last_order')",
        "days_since('stage_change')", "attribute_number('age')"]),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.floats(min_value=0, max_value=1e9, allow_nan=False).map(repr),
)
NUMBERS = st.recursive(NUMBER_LEAVES, lambda inner: st.tuples(inner, st.sampled_from("+-*/"), inner).map(
    lambda x: f"({x[0]} {x[1]} {x[2]})") | inner.map(lambda x: f"-{x}"), max_leaves=6)
FREE_TEXT = st.sampled_from(["email", "locale", "time_zone", "customer_id", "rfm_segment", "attribute('plan')"])
CONDITION_LEAVES = st.one_of(
    st.tuples(NUMBERS, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), NUMBERS).map(" ".join),
    st.tuples(FREE_TEXT, st.sampled_from(["==", "!="]), TEXT.map(quote)).map(" ".join),
    st.tuples(FREE_TEXT, st.sampled_from(["in", "not in"]), st.lists(TEXT.map(quote), max_size=4)).map(
        lambda x: f"{x[0]} {x[1]} [{', '.join(x[2])}]"),
    st.lists(st.sampled_from(["new", "active", "at_risk", "dormant", "churned", "reactivated"]), max_size=3).map(
        lambda xs: f"stage in [{', '.join(map(quote, xs))}]"),
    st.tuples(st.sampled_from(list(FIELDS)), st.sampled_from(["==", "!="])).map(lambda x: f"{x[0]} {x[1]} null"),
    st.sampled_from(["scored()", "suppressed('email')", "consented('sms')", "has_tag('vip')", "in_list('x')",
                     "enrolled('p')", "true", "false"]),
    st.text(min_size=1, max_size=20).map(lambda x: f"has_tag({quote(x)})"),
)
CONDITIONS = st.recursive(CONDITION_LEAVES, lambda inner: st.one_of(
    inner.map(lambda x: f"not ({x})"),
    st.tuples(inner, st.sampled_from(["and", "or", "==", "!="]), inner).map(lambda x: f"({x[0]}) {x[1]} ({x[2]})"),
), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(CONDITIONS)
def test_generated_segments_parse_and_compile(text):
    segment = parse_segment(text)
    assert segment.root.type == "bool"
    _compiles_everywhere(text)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_string_literals_round_trip(value):
    node = root(f"customer_id == {quote(value)}")
    assert node.links[0][2].value == value
