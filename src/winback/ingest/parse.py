"""Parsers for one cell each: they return the canonical value or raise `CellError` saying what is wrong.

Nothing here guesses: an ambiguous date (01/02/2024) or a decimal comma is refused unless the mapping
declares the format.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email


class CellError(ValueError):
    """One cell that cannot be accepted: `code` is machine-readable, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Email:
    address: str  # local part as written (NFC), domain lower-case ASCII (IDNA)
    key: str  # the identity: local part case-folded; two spellings of one address share it


def parse_email(text: str) -> Email:
    try:
        result = validate_email(text.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise CellError("type", f"not a valid email address: {exc}") from None
    local = unicodedata.normalize("NFC", result.local_part)
    domain = result.ascii_domain.lower()
    return Email(address=f"{local}@{domain}", key=f"{local.casefold()}@{domain}")


_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,30}$")


def parse_phone(text: str) -> str:
    text = text.strip()
    if not _PHONE.match(text):
        raise CellError("type", "not a phone number: use digits with an optional leading +")
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) < 6 or len(digits) > 15:
        raise CellError("range", f"a phone number has 6 to 15 digits, this one has {len(digits)}")
    return ("+" if text.startswith("+") else "") + digits


def phone_key(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")


def parse_locale(text: str) -> str:
    match = _LOCALE.match(text.strip())
    if not match:
        raise CellError("type", "not a language tag: write it like en-US, zh-CN or zh-Hans-CN")
    lang, script, region = match.groups()
    parts = [lang.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CellError("type", f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai") from None


def parse_time_zone(text: str) -> str:
    name = text.strip()
    zone(name)
    return name


_SLASHED = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_CHINESE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日(?:\s*(\d{1,2})[:：时](\d{2})分?(?:[:：](\d{2})秒?)?)?$")
_AMBIGUOUS = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def parse_datetime(text: str, *, tz: tzinfo, fmt: str | None = None) -> datetime:
    """Parse a date or date-time; naive values are read in `tz`. Returns an aware UTC datetime."""
    text = text.strip()
    try:
        value = datetime.strptime(text, fmt) if fmt else _parse_known(text)
    except ValueError:
        hint = (
            " (day/month order is ambiguous: give the format in the mapping, e.g. formats: {column: '%d/%m/%Y'})"
            if _AMBIGUOUS.match(text) else ""
        )
        expected = f"the format {fmt!r}" if fmt else "ISO 8601 (2024-03-31 or 2024-03-31T14:05:00+08:00)"
        raise CellError("bad_date", f"not a date: {text!r}; expected {expected}{hint}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    value = value.astimezone(UTC)
    if value < EARLIEST:
        raise CellError("range", f"date {text!r} is before 1900")
    return value


def _parse_known(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)  # ISO 8601, including 20240331 and a trailing Z
    except ValueError:
        pass
    if m := _SLASHED.match(text) or _CHINESE.match(text):
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        return datetime(y, mo, d, h, mi, s)
    raise ValueError(text)


_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
MAX_MONEY = Decimal("1e11")


def parse_decimal(text: str, *, decimal_comma: bool = False) -> Decimal:
    raw = text.strip()
    if decimal_comma:
        candidate = raw.replace(".", "").replace(" ", "").replace(",", ".")
    elif "," in raw and _GROUPED.match(raw):
        candidate = raw.replace(",", "")
    else:
        candidate = raw
    if not _DECIMAL.match(candidate):
        hint = " (a decimal comma? set decimal_comma: true in the mapping)" if "," in raw else ""
        raise CellError("type", f"not a number: {raw!r}{hint}")
    try:
        value = Decimal(candidate)
    except InvalidOperation:
        raise CellError("type", f"not a number: {raw!r}") from None
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise CellError("range", f"{raw!r} has more than 4 decimal places")
    if abs(value) >= MAX_MONEY:
        raise CellError("range", f"{raw!r} is too large (at most 1e11)")
    return value.normalize() if value != 0 else Decimal(0)


def parse_int(text: str) -> int:
    raw = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,18}", raw):
        raise CellError("type", f"not a whole number: {raw!r}")
    return int(raw)


def parse_bool(text: str) -> bool:
    raw = text.strip().lower()
    if raw in {"true", "t", "yes", "y", "1", "是"}:
        return True
    if raw in {"false", "f", "no", "n", "0", "否"}:
        return False
    raise CellError("type", f"not true or false: {text!r}")


def parse_currency(text: str) -> str:
    raw = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", raw):
        raise CellError("type", f"not an ISO 4217 currency code: {text!r} (write USD, CNY, EUR …)")
    return raw


def parse_json_object(value: object) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise CellError("type", f"not valid JSON: {exc.msg} at character {exc.pos}") from None
        if isinstance(parsed, dict):
            return parsed
    raise CellError("type", "expected a JSON object such as {\"page\": \"/pricing\"}")


def parse_text(text: str, *, max_length: int = 10_000) -> str:
    value = text.strip()
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if len(value) > max_length:
        raise CellError("range", f"text longer than {max_length} characters")
    return value
