"""Matching a file's header to the canonical columns, automatically or through a mapping file.

A mapping file (YAML or JSON) looks like:

    columns:            # file header -> canonical column
      Kundennummer: customer_id
      Bestelldatum: ordered_at
    ignore: [internal_note]          # columns to leave out on purpose
    timezone: Europe/Berlin          # for date-times without an offset (default UTC)
    currency: EUR                    # for amounts without a currency column
    formats: {ordered_at: "%d.%m.%Y"}
    decimal_comma: true              # 12,50 means 12.50
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from winback.domain.entities import Entity
from winback.domain.errors import ConfigError, InputFileError
from winback.ingest.parse import CellError, zone

RESERVED = {"columns", "ignore", "timezone", "currency", "formats", "decimal_comma", "encoding"}


@dataclass
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    ignore: set[str] = field(default_factory=set)
    timezone: str = "UTC"
    currency: str | None = None
    formats: dict[str, str] = field(default_factory=dict)
    decimal_comma: bool = False
    encoding: str | None = None


def load_mapping(path: Path) -> Mapping:
    """Read a mapping file; a flat {header: column} document is accepted too."""
    if not path.exists():
        raise ConfigError(f"{path}: no such mapping file")
    try:
        text = path.read_text(encoding="utf-8-sig")
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a mapping file is a dictionary of header: column")
    if not set(doc) & RESERVED:
        doc = {"columns": doc}
    unknown = set(doc) - RESERVED
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(RESERVED)}")
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ConfigError(f"{path}: `columns` must map each file header to a column name")
    mapping = Mapping(
        columns={str(k): v for k, v in columns.items()},
        ignore={str(x) for x in doc.get("ignore") or []},
        timezone=str(doc.get("timezone") or "UTC"),
        currency=doc.get("currency"),
        formats={str(k): str(v) for k, v in (doc.get("formats") or {}).items()},
        decimal_comma=bool(doc.get("decimal_comma", False)),
        encoding=doc.get("encoding"),
    )
    try:
        zone(mapping.timezone)
    except CellError as exc:
        raise ConfigError(f"{path}: timezone: {exc}") from None
    return mapping


def normalise_header(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


@dataclass
class HeaderMatch:
    """file header -> canonical column, plus the headers that go to the extras column or nowhere."""

    matched: dict[str, str]
    extras: list[str]
    ignored: list[str]


def match_header(entity: Entity, header: list[str], mapping: Mapping, *, source: Path) -> HeaderMatch:
    """Match each file column to a canonical column; raise for duplicates, unknown targets, missing required."""
    lookup: dict[str, str] = {}
    for col in entity.columns:
        for alias in col.aliases:
            lookup.setdefault(normalise_header(alias), col.name)
    for col in entity.columns:  # canonical names win over aliases
        lookup[normalise_header(col.name)] = col.name

    for target in mapping.columns.values():
        if target not in entity.names:
            raise ConfigError(
                f"mapping names {target!r}, which is not a column of {entity.name}; columns: {', '.join(entity.names)}"
            )
    missing_mapped = [h for h in mapping.columns if h not in header]
    if missing_mapped:
        raise InputFileError(f"{source}: the mapping names column(s) {missing_mapped} that the file does not have")

    matched: dict[str, str] = {}
    extras: list[str] = []
    ignored: list[str] = []
    for name in header:
        if name in mapping.ignore:
            ignored.append(name)
            continue
        target = mapping.columns.get(name) or lookup.get(normalise_header(name))
        if target is None:
            (extras if entity.extras_into else ignored).append(name)
            continue
        if target in matched.values():
            first = next(h for h, t in matched.items() if t == target)
            raise InputFileError(
                f"{source}: columns {first!r} and {name!r} both mean {target!r}; "
                "say which one to use with --mapping (and list the other under ignore)"
            )
        matched[name] = target

    present = set(matched.values())
    required = [c.name for c in entity.columns if c.required and c.name not in present]
    if entity.name == "customers" and not present & {"customer_id", "email"}:
        required.append("customer_id or email")
    if required:
        raise InputFileError(
            f"{source}: missing required column(s) {', '.join(required)} for {entity.name}; "
            f"the file has {', '.join(header) or 'no columns'} (map them with --mapping)"
        )
    return HeaderMatch(matched=matched, extras=extras, ignored=ignored)
