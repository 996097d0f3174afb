"""Turning one raw row into a canonical record, or into the list of what is wrong with it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from winback.domain.entities import Column, Entity
from winback.store.tables import ENTITY_TABLES
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
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def content_hash(values: dict[str, Any], names: tuple[str, ...]) -> str:
    joined = "\x1f".join(canonical_text(values.get(n)) for n in names)
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


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

    def validate(self, row: int, raw: dict[str, Any]) -> Record | list[Problem]:
        problems: list[Problem] = []
        values: dict[str, Any] = {}
        cells = {target: raw.get(header, "") for header, target in self.match.matched.items()}
        for col in self.entity.columns:
            cell = cells.get(col.name, "")
            if isinstance(cell, str) and not cell.strip():
                if col.required:
                    problems.append(Problem(col.name, "required", f"{col.name} is required and is empty"))
                values[col.name] = None
                continue
            try:
                values[col.name] = self._parse(col, cell)
            except CellError as exc:
                problems.append(Problem(col.name, exc.code, f"{col.name}: {exc}"))
        if self.entity.extras_into:
            extra = {h: v for h, v in raw.items()
                     if h not in self.known and v not in (None, "") and h not in self.mapping.ignore}
            base = values.get(self.entity.extras_into) or {}
            values[self.entity.extras_into] = {**extra, **base} if (extra or base) else None
        if not problems:
            problems.extend(self._cross_checks(values))
        if problems:
            return problems
        return self._finish(row, values)

    def _parse(self, col: Column, cell: Any) -> Any:
        if col.kind == "json":
            return parse_json_object(cell)
        if not isinstance(cell, str):
            raise CellError("type", "expected a single value, got a nested object")
        match col.kind:
            case "id" | "text":
                value = parse_text(cell, max_length=self.max_length.get(col.name, 10_000))
            case "email":
                value = parse_email(cell)
            case "phone":
                value = parse_phone(cell)
            case "locale":
                value = parse_locale(cell)
            case "time_zone":
                value = parse_time_zone(cell)
            case "datetime":
                value = parse_datetime(cell, tz=self.tz, fmt=self.mapping.formats.get(col.name))
                if not col.future_allowed and value > self.latest:
                    raise CellError("future_date", f"{value:%Y-%m-%d %H:%M} UTC is in the future")
            case "decimal":
                value = parse_decimal(cell, decimal_comma=self.mapping.decimal_comma)
            case "int":
                value = parse_int(cell)
            case "currency":
                value = parse_currency(cell)
            case "bool":
                value = parse_bool(cell)
            case "enum":
                key = cell.strip().lower().replace(" ", "_").replace("-", "_")
                value = col.choice_aliases.get(key, key)
                if value not in col.choices:
                    raise CellError("choice", f"{cell.strip()!r} is not one of {', '.join(col.choices)}")
            case _:  # pragma: no cover - the entity table is static
                raise AssertionError(col.kind)
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            if col.minimum is not None and value < col.minimum:
                raise CellError("range", f"{value} is below the minimum {col.minimum:g}")
            if col.maximum is not None and value > col.maximum:
                raise CellError("range", f"{value} is above the maximum {col.maximum:g}")
        return value

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
