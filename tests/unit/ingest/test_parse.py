"""Cell parsers: what they accept, what they refuse, and the code they refuse it with."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from winback.ingest.parse import (
    CellError,
    parse_currency,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_int,
    parse_locale,
    parse_phone,
    parse_text,
    parse_time_zone,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("text", "expected"), [
    ("19970101", "1997-01-01T00:00:00+00:00"),
    ("2024-03-31", "2024-03-31T00:00:00+00:00"),
    ("2024-03-31T14:05:00+08:00", "2024-03-31T06:05:00+00:00"),
    ("2024-03-31 10:00:00Z", "2024-03-31T10:00:00+00:00"),
    ("2024/3/5 7:05", "2024-03-05T07:05:00+00:00"),
    ("2024-3-5", "2024-03-05T00:00:00+00:00"),
    ("2024年3月5日", "2024-03-05T00:00:00+00:00"),
    ("2024年3月5日 14:30", "2024-03-05T14:30:00+00:00"),
])
def test_dates_in_utc(text, expected):
    assert parse_datetime(text, tz=UTC).isoformat() == expected


def test_naive_dates_are_read_in_the_given_zone():
    assert parse_datetime("2024-03-31 08:00", tz=SHANGHAI).isoformat() == "2024-03-31T00:00:00+00:00"


def test_explicit_format():
    assert parse_datetime("31.03.2024", tz=UTC, fmt="%d.%m.%Y").isoformat() == "2024-03-31T00:00:00+00:00"


@pytest.mark.parametrize(("text", "code", "hint"), [
    ("01/02/2024", "bad_date", "ambiguous"),
    ("yesterday", "bad_date", "ISO 8601"),
    ("2024-13-45", "bad_date", "ISO 8601"),
    ("1850-01-01", "range", "1900"),
])
def test_bad_dates(text, code, hint):
    with pytest.raises(CellError, match=hint) as info:
        parse_datetime(text, tz=UTC)
    assert info.value.code == code


@pytest.mark.parametrize(("text", "expected"), [
    ("12", Decimal("12")), ("12.50", Decimal("12.5")), (" 0.00 ", Decimal(0)), ("1,234.50", Decimal("1234.5")),
    ("-3", Decimal("-3")), (".5", Decimal("0.5")),
])
def test_decimals(text, expected):
    assert parse_decimal(text) == expected


def test_decimal_comma_only_when_declared():
    with pytest.raises(CellError, match="decimal comma"):
        parse_decimal("12,5")
    assert parse_decimal("1.234,5", decimal_comma=True) == Decimal("1234.5")


@pytest.mark.parametrize(("text", "code"), [("abc", "type"), ("1.23456", "range"), ("1e12", "type"),
                                            ("$12", "type"), ("200000000000", "range")])
def test_bad_decimals(text, code):
    with pytest.raises(CellError) as info:
        parse_decimal(text)
    assert info.value.code == code


@pytest.mark.parametrize("variant", [" Alice@Example.COM ", "alice@example.com", "ALICE@EXAMPLE.COM"])
def test_email_variants_share_a_key(variant):
    assert parse_email(variant).key == "alice@example.com"


def test_email_keeps_local_case_and_encodes_the_domain():
    email = parse_email("Jörg@Bücher.DE")
    assert email.address == "Jörg@xn--bcher-kva.de"
    assert email.key == "jörg@xn--bcher-kva.de"


def test_email_nfc():
    assert parse_email("zoe\u0308@example.com").address == "zo\u00eb@example.com"


@pytest.mark.parametrize("text", ["not-an-email", "a@", "@example.com", "a b@example.com"])
def test_bad_email(text):
    with pytest.raises(CellError) as info:
        parse_email(text)
    assert info.value.code == "type"


def test_other_cells():
    assert parse_phone("+86 138-0013-8000") == "+8613800138000"
    assert parse_locale("zh_cn") == "zh-CN" and parse_locale("zh-hans-cn") == "zh-Hans-CN"
    assert parse_time_zone("Asia/Shanghai") == "Asia/Shanghai"
    assert parse_currency("cny") == "CNY"
    assert parse_int("42") == 42
    assert parse_text("  Cafe\u0301 ") == "Café"
    for parser, text in [(parse_phone, "call me"), (parse_locale, "english"), (parse_time_zone, "Mars/Olympus"),
                         (parse_currency, "dollars"), (parse_int, "2.0")]:
        with pytest.raises(CellError):
            parser(text)
    with pytest.raises(CellError, match="longer than 5"):
        parse_text("abcdef", max_length=5)
