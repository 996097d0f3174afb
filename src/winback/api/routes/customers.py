"""Customers: search and filter them with their scores, one customer's profile, and their timeline."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse

from winback.api.routes.common import (
    CHECKS,
    MAX_LIMIT,
    Limit,
    Offset,
    Page,
    Reader,
    WorkspaceDep,
    like_prefix,
    page,
    paged,
    plain,
    user_errors,
)
from winback.domain.errors import SegmentError
from winback.jobs.data import show_customer
from winback.segments import parse_segment, segment_condition, segment_from
from winback.segments.expr import DORMANCY_TYPES, REASON_LABELS, STAGES, VALUE_TIERS
from winback.store import tables as t

router = APIRouter(prefix="/api/v1/customers", tags=["customers"], dependencies=CHECKS)

Stage = StrEnum("Stage", {s: s for s in STAGES})  # type: ignore[misc]
Reason = StrEnum("Reason", {s: s for s in REASON_LABELS})  # type: ignore[misc]
Dormancy = StrEnum("Dormancy", {s: s for s in DORMANCY_TYPES})  # type: ignore[misc]
Tier = StrEnum("Tier", {s: s for s in VALUE_TIERS})  # type: ignore[misc]


class Sort(StrEnum):
    value_at_risk = "value_at_risk"
    p_churn = "p_churn"
    clv = "clv"
    customer_id = "customer_id"


CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="The customer's id.")]
LIST_COLUMNS = ("stage", "value_at_risk", "p_churn", "clv", "value_tier", "churn_reason", "dormancy_type",
                "rfm_segment", "days_since_last_order", "as_of")
TIMELINE_KINDS = ("order", "event", "message", "engagement", "feedback", "task")
MAX_TIMELINE_OFFSET = 100_000


@router.get("", response_model=Page, summary="Search and filter customers")
def list_customers(
    ws: WorkspaceDep, _: Reader,
    q: Annotated[str | None, Query(max_length=320, description="Id, email or name prefix (case-insensitive).")]
    = None,
    stage: Stage | None = None,
    segment: Annotated[str | None, Query(max_length=4_000, description="A segment expression (docs/segments.md).")]
    = None,
    churn_reason: Reason | None = None,
    dormancy_type: Dormancy | None = None,
    value_tier: Tier | None = None,
    sort: Sort = Sort.value_at_risk,
    limit: Limit = 50, offset: Offset = 0,
) -> Any:
    """Customers with their scores, the most at risk first (or by `sort`), one page at a time."""
    cu, pr = t.customers.c, t.profiles.c
    now = ws.clock()
    where: list[Any] = []
    if segment is not None and segment.strip():
        try:
            where.append(segment_condition(parse_segment(segment), now=now))
        except SegmentError as exc:
            return segment_problem(exc)
    if q is not None and q.strip():
        where.append(_search(q.strip()))
    for column, value in (("stage", stage), ("churn_reason", churn_reason), ("dormancy_type", dormancy_type),
                          ("value_tier", value_tier)):
        if value is not None:
            where.append(pr[column] == value.value)
    key = cu.customer_id if sort == Sort.customer_id else pr[sort.value]
    order = [key] if sort == Sort.customer_id else [sa.nulls_last(key.desc()), cu.customer_id]
    stmt = (sa.select(cu.customer_id, cu.name, cu.email, *(pr[c] for c in LIST_COLUMNS)).select_from(segment_from())
            .where(*where).order_by(*order))
    with ws.ready_engine().connect() as conn:
        try:
            rows = [dict(r) for r in conn.execute(paged(stmt, limit=limit, offset=offset)).mappings()]
        except sa.exc.DataError as exc:  # a segment whose arithmetic the store cannot hold
            return segment_problem(SegmentError(f"the store could not evaluate the segment: {exc.orig}"))
    return page(rows, limit=limit, offset=offset)


def _search(q: str) -> Any:
    cu = t.customers.c
    pattern = like_prefix(q.lower())
    return sa.or_(cu.customer_id == q, cu.customer_id.like(like_prefix(q), escape="\\"),
                  cu.email_key.like(pattern, escape="\\"), sa.func.lower(cu.name).like(pattern, escape="\\"))


def segment_problem(exc: SegmentError) -> JSONResponse:
    """422 with the parser's message and the 1-based column it points at."""
    return JSONResponse({"detail": str(exc), "reason": exc.reason, "column": exc.column}, status_code=422)


@router.get("/{customer_id}", summary="One customer's profile")
def get_customer(ws: WorkspaceDep, _: Reader, customer_id: CustomerId) -> dict[str, Any]:
    """As `winback customers show --json`: the customer, scores (stage, RFM, CLV, value at risk, churn
    probability, signals with their sentences, churn reason, dormancy type), counts, totals, recent history."""
    with user_errors():
        view = show_customer(ws, customer_id)
    profile = view.get("profile") or {}
    explanation = profile.get("explanation") or {}
    view["why"] = {"stage": profile.get("stage"), "signals": profile.get("signals") or [],
                   "explanation": explanation, "churn_reason": profile.get("churn_reason"),
                   "churn_reason_confidence": profile.get("churn_reason_confidence"),
                   "dormancy_type": profile.get("dormancy_type")}
    return plain(view)


@router.get("/{customer_id}/timeline", response_model=Page, summary="One customer's history, newest first")
def timeline(
    ws: WorkspaceDep, _: Reader, customer_id: CustomerId,
    kind: Annotated[list[str] | None, Query(description="Only these kinds: " + ", ".join(TIMELINE_KINDS))] = None,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_TIMELINE_OFFSET, description="The `next` of the previous page.")] = 0,
) -> dict[str, Any]:
    """Orders, events, messages (the send ledger), engagements, feedback and tasks, merged newest first."""
    kinds = set(kind or TIMELINE_KINDS)
    unknown = sorted(kinds - set(TIMELINE_KINDS))
    if unknown:
        raise HTTPException(422, detail=f"unknown timeline kind(s) {', '.join(unknown)}; use "
                                        + ", ".join(TIMELINE_KINDS))
    wanted = offset + min(limit, MAX_LIMIT) + 1
    with ws.ready_engine().connect() as conn:
        if conn.scalar(sa.select(t.customers.c.customer_id).where(t.customers.c.customer_id == customer_id)) is None:
            raise HTTPException(404, detail=f"no customer {customer_id!r}")
        sources = [sorted(_entries(conn, k, customer_id, wanted), key=_key, reverse=True)
                   for k in TIMELINE_KINDS if k in kinds]
    merged = list(heapq.merge(*sources, key=_key, reverse=True))[offset:offset + limit + 1]
    return page(merged, limit=limit, offset=offset)


def _key(entry: dict[str, Any]) -> tuple[datetime, str, str]:
    return entry["at"], entry["kind"], str(entry["id"])


_SOURCES: dict[str, tuple[sa.Table, str, str, tuple[str, ...]]] = {
    # kind: (table, time column, id column, detail columns)
    "order": (t.orders, "ordered_at", "order_id", ("amount", "currency", "status", "coupon_code", "channel")),
    "event": (t.events, "occurred_at", "event_id", ("type", "properties")),
    "message": (t.ledger, "created_at", "id", ("programme_id", "enrolment_id", "step", "kind", "channel", "variant",
                                               "state", "reason", "message_id")),
    "engagement": (t.engagements, "at", "id", ("kind", "enrolment_id", "step", "machine", "reason")),
    "feedback": (t.feedback, "opened_at", "feedback_id", ("kind", "rating", "text", "status", "category",
                                                          "resolved_at")),
    "task": (t.tasks, "created_at", "task_id", ("title", "state", "assignee", "due_at", "programme_id", "step")),
}


def _entries(conn: sa.Connection, kind: str, customer_id: str, wanted: int) -> Iterable[dict[str, Any]]:
    """The newest `wanted` entries of one kind."""
    table, at, ident, detail = _SOURCES[kind]
    c = table.c
    stmt = sa.select(c[at], c[ident], *(c[d] for d in detail)).where(c.customer_id == customer_id)
    if kind == "message":
        stmt = stmt.where(c.kind.in_(("send", "task")))  # what reached (or was meant for) the customer
    stmt = stmt.order_by(c[at].desc()).limit(wanted)
    for row in conn.execute(stmt).mappings():
        yield {"at": row[at], "kind": kind, "id": row[ident], "detail": {d: row[d] for d in detail}}
