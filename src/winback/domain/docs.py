"""The import column reference, rendered from the entity table (docs/data-model.md is this output)."""

from __future__ import annotations

from typing import Any

from winback.domain.entities import ENTITIES, LOAD_ORDER

KIND_TEXT = {
    "id": "text id (≤ 200 characters)",
    "text": "text",
    "email": "email address",
    "phone": "phone number",
    "locale": "language tag",
    "time_zone": "IANA time zone",
    "datetime": "date or date-time",
    "decimal": "number (point as decimal mark)",
    "int": "whole number",
    "enum": "one of a list",
    "currency": "ISO 4217 code",
    "json": "JSON object",
    "bool": "true/false",
}


def entities_table() -> dict[str, list[dict[str, Any]]]:
    return {
        name: [
            {"name": c.name, "kind": c.kind, "required": c.required, "description": c.description,
             "aliases": list(c.aliases), "choices": list(c.choices)}
            for c in ENTITIES[name].columns
        ]
        for name in LOAD_ORDER
    }


def entities_markdown() -> str:
    lines = []
    for name in LOAD_ORDER:
        entity = ENTITIES[name]
        lines += [f"### `{name}`", "", entity.description, "",
                  f"Key: `{', '.join(entity.key)}`." + (" References: " + ", ".join(
                      f"`{r.column}` → {r.entity}" for r in entity.references) + "." if entity.references else ""),
                  "", "| column | accepts | required | description | also recognised as |", "|---|---|---|---|---|"]
        for c in entity.columns:
            accepts = KIND_TEXT[c.kind] + (": " + ", ".join(f"`{x}`" for x in c.choices) if c.choices else "")
            aliases = ", ".join(f"`{a}`" for a in c.aliases)
            lines.append(f"| `{c.name}` | {accepts} | {'yes' if c.required else ''} | {c.description} | {aliases} |")
        lines.append("")
    return "\n".join(lines)
