"""The seeds' playbooks: ready programme files shipped with winback (`winback playbooks list | show NAME`).

Each `NAME.yaml` here is an ordinary programme file with a header comment on what it is for and what to adapt;
`winback programs start NAME` runs one as it is, `winback playbooks show NAME > mine.yaml` copies it to change.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from winback.domain.errors import NotFoundError

__all__ = ["playbook_names", "playbook_summaries", "playbook_text"]

_SUFFIX = ".yaml"


def playbook_names() -> list[str]:
    """The shipped playbooks' names, sorted."""
    folder = files(__name__)
    return sorted(entry.name.removesuffix(_SUFFIX) for entry in folder.iterdir()
                  if entry.name.endswith(_SUFFIX) and entry.is_file())


def playbook_text(name: str) -> str:
    """The playbook's YAML exactly as shipped; an unknown name raises `NotFoundError` listing the names."""
    names = playbook_names()
    if name not in names:  # also keeps the name from reaching outside this folder
        raise NotFoundError(f"no playbook {name!r}; playbooks: {', '.join(names)} "
                            "(a programme file's name ends in .yaml)")
    return files(__name__).joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def playbook_summaries() -> list[dict[str, Any]]:
    """Name, title, description, audience or trigger, and number of steps of each playbook."""
    from winback.campaigns.files import parse_programme

    out = []
    for name in playbook_names():
        p = parse_programme(playbook_text(name), origin=f"playbook {name}").programme
        out.append({"name": name, "title": p.name or p.programme, "description": p.description,
                    "audience": p.audience, "trigger": _trigger(p.trigger),
                    "steps": len(p.steps)})
    return out


def _trigger(trigger: Any) -> str | None:
    if trigger is None:
        return None
    return f"event:{trigger.type}" if trigger.event == "event" else trigger.event
