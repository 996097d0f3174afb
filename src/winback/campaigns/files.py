"""Reading programme files: YAML → a validated `Programme`, with errors that name the line and what to write."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from winback.campaigns.definition import Programme
from winback.domain.errors import UserError


class ProgrammeError(UserError):
    """A programme file that is not valid; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class ProgrammeFile:
    programme: Programme
    source: str  # the YAML as written
    origin: str  # file name or playbook name, for messages

    @property
    def digest(self) -> str:
        """Identifies the programme's meaning: the same definition written differently has the same digest."""
        return hashlib.sha256(json.dumps(self.definition, sort_keys=True).encode()).hexdigest()

    @property
    def definition(self) -> dict[str, Any]:
        return dump_programme(self.programme)


def dump_programme(programme: Programme) -> dict[str, Any]:
    """The normalised definition stored with each version (durations as `5d`, defaults filled in)."""
    return programme.model_dump(mode="json", by_alias=True, exclude_none=True)


def programme_from_definition(definition: dict[str, Any]) -> Programme:
    """A stored definition back to a `Programme` (stored definitions were valid when stored)."""
    return Programme.model_validate(definition)


MAX_DEPTH = 50  # levels of nesting a programme file may have (a real one has about six)
MAX_NODES = 100_000  # values, aliases expanded


def read_programme(path: Path) -> ProgrammeFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProgrammeError(f"{path}: no such programme file") from None
    except UnicodeDecodeError as exc:
        raise ProgrammeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_programme(text, origin=str(path))


def parse_programme(text: str, *, origin: str = "<programme>") -> ProgrammeFile:
    """Parse and validate; every problem raises `ProgrammeError` with `origin:line: what … write …`."""
    too_deep = ProgrammeError(f"{origin}: nested more than {MAX_DEPTH} levels deep; a programme file is a few "
                              "levels of mappings and lists")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_shape(root, origin, too_deep)
        data = yaml.safe_load(text)
    except RecursionError:
        raise too_deep from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProgrammeError(f"{origin}{where}: not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ProgrammeError(f"{origin}: a programme file is a mapping that starts with 'programme: NAME'")
    try:
        programme = Programme.model_validate(data)
    except ValidationError as exc:
        raise ProgrammeError(_describe(exc, root, origin)) from None
    _check_segments(programme, root, origin)
    return ProgrammeFile(programme=programme, source=text, origin=origin)


def _check_shape(root: yaml.Node | None, origin: str, too_deep: ProgrammeError) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH, or whose aliases expand it past MAX_NODES values (a few anchors
    referring to each other can stand for billions), before it is turned into Python objects."""
    stack, seen = [(root, 0)] if root is not None else [], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise ProgrammeError(f"{origin}: more than {MAX_NODES:,} values once its aliases (*name) are expanded")
        if depth > MAX_DEPTH:
            raise too_deep
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in node.value for part in pair)


def _check_segments(programme: Programme, root: yaml.Node | None, origin: str) -> None:
    from winback.segments import parse_segment

    places: list[tuple[tuple[Any, ...], str]] = []
    if programme.audience is not None:
        places.append((("audience",), programme.audience))
    for i, step in enumerate(programme.steps):
        for j, arm in enumerate(step.branch or []):
            if arm.when is not None and arm.when.segment is not None:
                places.append((("steps", i, "branch", j, "when", "segment"), arm.when.segment))
    for loc, text in places:
        try:
            parse_segment(text)
        except UserError as exc:
            line = _line(root, loc)
            raise ProgrammeError(f"{origin}{line}: {'.'.join(map(str, loc))}: {exc}") from None


def _describe(exc: ValidationError, root: yaml.Node | None, origin: str) -> str:
    """The first error (and how many more) as one readable line."""
    errors = exc.errors()
    first, rivals = _pick(errors)
    loc = tuple(part for part in first["loc"] if not (isinstance(part, str) and _is_union_tag(part)))
    placed = getattr((first.get("ctx") or {}).get("error"), "loc", None)  # a StepError names its place
    if placed:
        loc = (*loc, *placed)
    line = _line(root, loc)
    where = ".".join(str(p) for p in loc) or "programme"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" + _suggest(loc, first)
    elif first["type"] == "missing":
        message = f"missing {loc[-1]!r}"
    others = len(errors) - rivals
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return f"{origin}{line}: {where}: {message}{more}"


def _pick(errors: list[Any]) -> tuple[Any, int]:
    """The first error, or — when it is one member's failure of a union (`wait: 5d` or `wait: {until: …}`) — the
    member's that fits the input best: the one that got deepest, then our own message over a type complaint.
    Returns it and how many errors that union produced (one problem, however many members failed)."""
    first = errors[0]
    if first["type"] == "missing":  # `timout: 2d` is both a missing `timeout` and an unknown `timout`: say the latter
        typo = next((e for e in errors if e["type"] == "extra_forbidden" and e["loc"][:-1] == first["loc"][:-1]), None)
        if typo is not None:
            return typo, 1
    tag = next((i for i, part in enumerate(first["loc"]) if isinstance(part, str) and _is_union_tag(part)), None)
    if tag is None:
        return first, 1
    prefix = first["loc"][:tag]
    rivals = [e for e in errors if len(e["loc"]) > tag and e["loc"][:tag] == prefix
              and isinstance(e["loc"][tag], str) and _is_union_tag(e["loc"][tag])]
    return max(rivals, key=lambda e: (len(e["loc"]), e["type"] == "value_error")), len(rivals)


def _is_union_tag(part: str) -> bool:
    # pydantic adds the tried union member to locations: `timedelta`, `WaitUntil`, `literal['never']` …
    return part[:1].isupper() or "[" in part or part in ("timedelta", "function-before[parse_duration(), timedelta]",
                                                          "function-after", "str", "bool", "dict[str,str]")


def _suggest(loc: tuple[Any, ...], error: dict[str, Any]) -> str:
    from winback.campaigns import definition as d

    owners: dict[str, type[BaseModel]] = {"": d.Programme, "steps": d.Step, "send": d.Send, "trigger": d.Trigger,
                                          "entry": d.Entry, "goal": d.Goal, "quiet_hours": d.QuietHours,
                                          "caps": d.Caps, "task": d.Task, "move": d.Move, "branch": d.Arm,
                                          "when": d.Condition, "variants": d.Variant, "incentive": d.Incentive,
                                          "retries": d.Retries, "forecast": d.Forecast, "costs": d.Costs,
                                          "send_time": d.SendTime, "wait": d.WaitUntil, "end": d.End,
                                          "programme": d.Cap}
    parent = next((str(p) for p in reversed(loc[:-1]) if isinstance(p, str)), "")
    model = owners.get(parent)
    if model is None:
        return ""
    names = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} allowed here: {', '.join(names)}"


def _line(root: yaml.Node | None, loc: tuple[Any, ...]) -> str:
    """`:LINE` of the deepest YAML node the location reaches."""
    node = root
    best = node
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if key.value == str(part) or (part == "from" and key.value == "from"):
                    nxt = value
                    best = key
                    break
            if nxt is None:
                break
            node = nxt
            best = node if not isinstance(node, yaml.ScalarNode) else best
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node
        else:
            break
    if best is None:
        return ""
    return f":{best.start_mark.line + 1}"
