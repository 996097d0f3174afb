"""Coupons: codes by programme and state, and the CSV export for a shop platform."""

from __future__ import annotations

import re
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from fastapi.responses import Response

from winback.api.routes.common import CHECKS, Campaigns, Limit, Offset, Reader, WorkspaceDep, page, paged, plain
from winback.messaging import coupons as cp
from winback.store import tables as t
from winback.web.auth import allowed

router = APIRouter(prefix="/api/v1/coupons", tags=["coupons"], dependencies=CHECKS)

State = StrEnum("State", {s: s for s in cp.STATES})  # type: ignore[misc]
ProgrammeFilter = Annotated[str | None, Query(max_length=200, description="Only this programme's codes.")]
COLUMNS = ("code", "programme_id", "kind", "value", "state", "customer_id", "enrolment_id", "step", "created_at",
           "issued_at", "expires_at", "redeemed_at", "order_id")


def masked(code: str) -> str:
    """What people without the campaigns role see of a code: too little to guess the rest."""
    return code[:2] + "…"


@router.get("", summary="Coupon codes and counts by programme and state")
def list_coupons(ws: WorkspaceDep, who: Reader, programme: ProgrammeFilter = None, state: State | None = None,
                 limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Codes (`items`, by code) and `counts` by programme and state as `winback coupons list --json`. Codes are
    shown whole only to marketers and admins; others see their first two symbols."""
    c = t.coupons.c
    stmt = sa.select(*(c[n] for n in COLUMNS)).order_by(c.code)
    if programme is not None:
        stmt = stmt.where(c.programme_id == programme)
    if state is not None:
        stmt = stmt.where(c.state == state.value)
    with ws.ready_engine().connect() as conn:
        rows = [dict(r) for r in conn.execute(paged(stmt, limit=limit, offset=offset)).mappings()]
        counts = cp.counts(conn, programme_id=programme, state=state.value if state else None)
    if not allowed(who.role, "campaigns"):
        for row in rows:
            row["code"] = masked(row["code"])
    return {**page(rows, limit=limit, offset=offset), "counts": plain(counts)}


@router.get("/export.csv", summary="Export codes as CSV", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def export(ws: WorkspaceDep, _: Campaigns, programme: ProgrammeFilter = None, state: State | None = None) -> Response:
    """As `winback coupons export`: code, kind, value, expires_at, customer_id, state; cells a spreadsheet would
    run as a formula start with a quote."""
    with tempfile.TemporaryDirectory() as folder, ws.ready_engine().connect() as conn:
        path = Path(folder) / "coupons.csv"
        cp.export_csv(conn, path, programme_id=programme, state=state.value if state else None)
        text = path.read_text(encoding="utf-8")
    safe = programme is not None and re.fullmatch(r"[A-Za-z0-9_-]{1,100}", programme)  # a header is ASCII
    name = f"coupons-{programme}.csv" if safe else "coupons.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
