"""What the real-time API returns, and the shape of each record it accepts, for the OpenAPI description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from winback.domain.entities import Entity

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "decimal": {"type": ["number", "string"]},
    "int": {"type": ["integer", "string"]},
    "bool": {"type": ["boolean", "string"]},
    "json": {"type": "object"},
    "datetime": {"type": "string", "format": "date-time"},
}


class WriteResult(BaseModel):
    """What a write did: every received record is exactly one of inserted, updated or unchanged."""

    received: int
    inserted: int
    updated: int
    unchanged: int


class Problem(BaseModel):
    """One thing wrong with a request; `index` is the record's position in the list (0-based)."""

    index: int | None = None
    field: str | None = None
    code: str
    problem: str


class ErrorBody(BaseModel):
    """Every refused request answers with this body."""

    errors: list[Problem]


class WebhookResult(BaseModel):
    """Provider events by outcome: processed, ignored, quarantined, duplicate, error."""

    received: int
    processed: int = 0
    ignored: int = 0
    quarantined: int = 0
    duplicate: int = 0
    error: int = 0


def record_schema(entity: Entity) -> dict[str, Any]:
    """JSON Schema of one record of `entity`: the canonical columns, their kinds and the required ones."""
    properties: dict[str, Any] = {}
    for col in entity.columns:
        prop = dict(_JSON_TYPES.get(col.kind, {"type": "string"}))
        if col.choices:
            prop["enum"] = list(col.choices)
        prop["description"] = col.description
        properties[col.name] = prop
    record = {"type": "object", "properties": properties, "required": [c.name for c in entity.columns if c.required],
              "additionalProperties": entity.extras_into is not None}
    return {"oneOf": [record, {"type": "array", "items": record, "maxItems": 1_000}]}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry of a route for its error statuses."""
    return {code: {"model": ErrorBody} for code in codes}
