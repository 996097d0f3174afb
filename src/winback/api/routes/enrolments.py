"""Enrolments: a programme's enrolments by state, outcome and holdout; one enrolment with its ledger rows."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Query

from winback.api.routes.common import CHECKS, Limit, Offset, Page, Reader, WorkspaceDep, page, paged, plain
from winback.store import tables as t

router = APIRouter(prefix="/api/v1", tags=["enrolments"], dependencies=CHECKS)

STATES = ("active", "holdout", "completed", "exited", "stopped")
COLUMNS = ("enrolment_id", "programme_id", "version", "customer_id", "cycle", "holdout", "state", "outcome", "step",
           "due_at", "attempts", "step_started_at", "wake_on", "entered_at", "finished_at", "trigger")
LEDGER = ("id", "step", "kind", "channel", "variant", "address", "message_id", "state", "reason", "detail",
          "attempts", "possible_duplicate", "created_at", "updated_at")


@router.get("/programmes/{programme_id}/enrolments", response_model=Page, summary="A programme's enrolments")
def list_enrolments(
    ws: WorkspaceDep, _: Reader,
    programme_id: Annotated[str, Path(min_length=1, max_length=200)],
    state: Annotated[str | None, Query(pattern="^(" + "|".join(STATES) + ")$")] = None,
    outcome: Annotated[str | None, Query(max_length=40, description="Why it ended: completed, purchase, …")] = None,
    holdout: bool | None = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """Enrolments in entry order; filters combine."""
    e = t.enrolments.c
    stmt = sa.select(*(e[c] for c in COLUMNS)).where(e.programme_id == programme_id).order_by(e.enrolment_id)
    for column, value in (("state", state), ("outcome", outcome), ("holdout", holdout), ("customer_id", customer_id)):
        if value is not None:
            stmt = stmt.where(e[column] == value)
    with ws.ready_engine().connect() as conn:
        known = conn.scalar(sa.select(t.programmes.c.programme_id).where(t.programmes.c.programme_id == programme_id))
        if known is None:
            raise HTTPException(404, detail=f"no programme {programme_id!r}; GET /api/v1/programmes lists them")
        rows = [dict(r) for r in conn.execute(paged(stmt, limit=limit, offset=offset)).mappings()]
    return page(rows, limit=limit, offset=offset)


@router.get("/enrolments/{enrolment_id}", summary="One enrolment with its ledger rows")
def get_enrolment(ws: WorkspaceDep, _: Reader,
                  enrolment_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> dict[str, Any]:
    """The enrolment and, in step order, what happened at each step (`ledger`)."""
    e, g = t.enrolments.c, t.ledger.c
    with ws.ready_engine().connect() as conn:
        row = conn.execute(sa.select(*(e[c] for c in COLUMNS)).where(e.enrolment_id == enrolment_id)).mappings().first()
        if row is None:
            raise HTTPException(404, detail=f"no enrolment {enrolment_id}")
        ledger = [dict(r) for r in conn.execute(sa.select(*(g[c] for c in LEDGER))
                                                .where(g.enrolment_id == enrolment_id).order_by(g.id)).mappings()]
    return plain({**dict(row), "ledger": ledger})
