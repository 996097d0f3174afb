"""Turning one raw row into a canonical record, or into the list of what is wrong with it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from winback.domain.entities import Column, Entity
from winback.ingest.mapping import HeaderMatch, Mapping
from winback.ingest.parse import (
    CellError,
    parse_bool,
    parse_currency,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_int,
    parse_json_object,
    parse_locale,
    parse_phone,
    parse_text,
    parse_time_zone,
    phone_key,
    zone,
)
from winback.store.tables import ENTITY_TABLES

FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Problem:
    field: str | None
    code: str
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "code": self.code, "reason": self.reason}


@dataclass
class Record:
    """A valid row: canonical values keyed by column name, its key and a hash of its content."""

    row: int
    values: dict[str, Any]
    key: tuple[Any, ...]
    row_hash: str
    email_key: str | None = None


def canonical_text(value: Any) -> str:
    """A stable text for a parsed value (datetimes are UTC, decimals normalised, so equal values match)."""
    if value is None:
        return ""
    if value.__class__ is dict or value.__class__ is list:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def content_hash(values: dict[str, Any], names: tuple[str, ...]) -> str:
    get = values.get
    joined = "\x1f".join([
        v if v.__class__ is str else "" if v is None else str(v) if v.__class__ is not dict else canonical_text(v)
        for v in [get(n) for n in names]
    ])
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def parse_choice(cell: str, *, choices: frozenset[str], aliases: dict[str, str]) -> str:
    key = cell.strip().lower().replace(" ", "_").replace("-", "_")
    value = aliases.get(key, key)
    if value not in choices:
        raise CellError("choice", f"{cell.strip()!r} is not one of {', '.join(sorted(choices))}")
    return value


SIMPLE_PARSERS: dict[str, Callable[[str], Any]] = {
    "email": parse_email, "phone": parse_phone, "locale": parse_locale, "time_zone": parse_time_zone,
    "int": parse_int, "currency": parse_currency, "bool": parse_bool,
}
CROSS_CHECKED = frozenset({"customers", "feedback", "subscriptions", "suppressions"})


class RowValidator:
    """Validates rows of one file for one entity; pure apart from the clock value it is given."""

    def __init__(
        self, entity: Entity, match: HeaderMatch, mapping: Mapping, *, now: datetime, default_currency: str
    ) -> None:
        self.entity = entity
        self.match = match
        self.mapping = mapping
        self.latest = now + FUTURE_TOLERANCE
        self.tz = zone(mapping.timezone)
        self.currency = mapping.currency or default_currency
        self.present = set(match.matched.values())
        self.known = set(match.matched) | set(match.ignored)
        table = ENTITY_TABLES[entity.name]
        self.max_length = {c.name: getattr(table.c[c.name].type, "length", None) or 10_000
                           for c in entity.columns if c.name in table.c}
        self.hash_names = (*entity.names, *((entity.extras_into,) if entity.extras_into else ()))
        headers = {target: header for header, target in match.matched.items()}
        self.plan = [(c.name, headers.get(c.name), self._parser(c), c.required) for c in entity.columns]

    def validate(self, row: int, raw: dict[str, Any]) -> Record | list[Problem]:
        problems: list[Problem] = []
        values: dict[str, Any] = {}
        for name, header, parse, required in self.plan:
            cell = raw.get(header, "") if header is not None else ""
            if cell.__class__ is str and not cell.strip():
                if required:
                    problems.append(Problem(name, "required", f"{name} is required and is empty"))
                values[name] = None
                continue
            try:
                values[name] = parse(cell)
            except CellError as exc:
                problems.append(Problem(name, exc.code, f"{name}: {exc}"))
        if self.entity.extras_into:
            extra = {h: v for h, v in raw.items() if h not in self.known and v not in (None, "")}
            base = values.get(self.entity.extras_into) or {}
            values[self.entity.extras_into] = {**extra, **base} if (extra or base) else None
        if not problems and self.entity.name in CROSS_CHECKED:
            problems.extend(self._cross_checks(values))
        if problems:
            return problems
        return self._finish(row, values)

    def _parser(self, col: Column) -> Callable[[Any], Any]:
        """One function per column that parses a cell and applies the column's range rules."""
        if col.kind == "json":
            return parse_json_object
        base = self._base_parser(col)
        low, high = col.minimum, col.maximum
        latest = self.latest if col.kind == "datetime" and not col.future_allowed else None

        def single(cell: Any) -> Any:
            if cell.__class__ is not str:
                raise CellError("type", "expected a single value, got a nested object")
            return base(cell)

        if low is None and high is None and latest is None:
            return single

        def checked(cell: Any) -> Any:
            value = single(cell)
            if low is not None and value < low:
                raise CellError("range", f"{value} is below the minimum {low:g}")
            if high is not None and value > high:
                raise CellError("range", f"{value} is above the maximum {high:g}")
            if latest is not None and value > latest:
                raise CellError("future_date", f"{value:%Y-%m-%d %H:%M} UTC is in the future")
            return value

        return checked

    def _base_parser(self, col: Column) -> Callable[[str], Any]:
        match col.kind:
            case "id" | "text":
                return partial(parse_text, max_length=self.max_length.get(col.name, 10_000))
            case "datetime":
                return partial(parse_datetime, tz=self.tz, fmt=self.mapping.formats.get(col.name))
            case "decimal":
                return partial(parse_decimal, decimal_comma=self.mapping.decimal_comma)
            case "enum":
                return partial(parse_choice, choices=frozenset(col.choices), aliases=col.choice_aliases)
            case kind:
                return SIMPLE_PARSERS[kind]

    def _cross_checks(self, values: dict[str, Any]) -> list[Problem]:
        name = self.entity.name
        problems = []
        if name == "customers" and values["customer_id"] is None and values["email"] is None:
            problems.append(Problem("customer_id", "required", "customer_id is required when email is empty"))
        if name == "feedback" and values["resolved_at"] and values["resolved_at"] < values["opened_at"]:
            problems.append(Problem("resolved_at", "range", "resolved_at is before opened_at"))
        if name == "subscriptions" and values["cancelled_at"] and values["cancelled_at"] < values["started_at"]:
            problems.append(Problem("cancelled_at", "range", "cancelled_at is before started_at"))
        if name == "suppressions":
            address = values["address"]
            try:
                if values["channel"] == "email":
                    values["address"] = parse_email(address)
                elif values["channel"] in ("sms", "phone"):
                    values["address"] = parse_phone(address)
            except CellError as exc:
                problems.append(Problem("address", exc.code, f"address: {exc}"))
        return problems

    def _finish(self, row: int, values: dict[str, Any]) -> Record:
        name = self.entity.name
        email_key = None
        if "currency" in values and values["currency"] is None:
            values["currency"] = self.currency
        if name == "orders" and values["status"] is None:
            values["status"] = "completed"
        if name in ("customers", "suppressions"):
            field_name = "email" if name == "customers" else "address"
            value = values[field_name]
            if hasattr(value, "key"):
                email_key = value.key
                values[field_name] = value.address
            if name == "customers" and values["customer_id"] is None:
                values["customer_id"] = email_key
            if name == "suppressions":
                email_key = email_key or phone_key(values["address"])
                if values["channel"] not in ("email", "sms", "phone"):
                    email_key = values["address"]
        if self.entity.derived_key and values[self.entity.key[0]] is None:
            content = tuple(n for n in self.hash_names if n != self.entity.key[0])
            values[self.entity.key[0]] = "h" + content_hash(values, content)
        key = tuple(values[k] if k != "address" else email_key for k in self.entity.key)
        return Record(row=row, values=values, key=key, row_hash=content_hash(values, self.hash_names),
                      email_key=email_key)
