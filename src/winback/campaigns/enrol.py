"""Enrolment: eligible customers enter a programme at its first step; the holdout's share enters held out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from winback.campaigns.assign import in_holdout
from winback.campaigns.definition import Programme
from winback.campaigns.eligibility import check_eligibility
from winback.store import tables as t
from winback.store.bulk import insert_rows

_COLUMNS = ("customer_id", "cycle", "holdout", "state", "step", "due_at", "finished_at", "trigger", "trigger_key")


@dataclass
class EnrolResult:
    enrolled: int = 0
    holdout: int = 0
    excluded: Counter[str] = field(default_factory=Counter)

    def add(self, other: EnrolResult) -> None:
        self.enrolled += other.enrolled
        self.holdout += other.holdout
        self.excluded.update(other.excluded)

    def as_dict(self) -> dict[str, Any]:
        return {"enrolled": self.enrolled, "holdout": self.holdout, "excluded": dict(self.excluded)}


def enrol(
    conn: sa.Connection,
    *,
    programme: Programme,
    version: int,
    customer_ids: Sequence[str],
    now: datetime,
    triggers: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> EnrolResult:
    """Enrol the eligible among `customer_ids`; `triggers` maps a customer to (event key, event detail)."""
    check = check_eligibility(conn, programme, customer_ids, now=now)
    result = EnrolResult(excluded=check.excluded)
    first = programme.step_ids[0]
    delay = programme.trigger.delay if programme.trigger is not None else timedelta(0)
    held_until = now + programme.goal.within
    rows = []
    for cid in check.eligible:
        key, detail = triggers[cid] if triggers and cid in triggers else (None, None)
        if in_holdout(programme.programme, cid, programme.holdout):
            rows.append((cid, check.cycles[cid], True, "holdout", None, None, held_until, detail, key))
            result.holdout += 1
        else:
            rows.append((cid, check.cycles[cid], False, "active", first, now + delay, None, detail, key))
            result.enrolled += 1
    for i in range(0, len(rows), 50_000):
        insert_rows(conn, t.enrolments, _COLUMNS, rows[i:i + 50_000],
                    constants={"programme_id": programme.programme, "version": version, "attempts": 0,
                               "entered_at": now, "fence": 0})
    return result
