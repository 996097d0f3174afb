"""Segments: count the customers in an expression now, and list the fields and functions an expression may use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from winback.api.routes.common import CHECKS, Reader, WorkspaceDep, plain
from winback.api.routes.customers import segment_problem
from winback.domain.errors import SegmentError
from winback.segments import FIELDS, FUNCTIONS, count_segment, parse_segment
from winback.segments.expr import MAX_LENGTH

router = APIRouter(prefix="/api/v1/segments", tags=["segments"], dependencies=CHECKS)


class SegmentCount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: str = Field(max_length=MAX_LENGTH, description="e.g. \"stage == 'at_risk' and clv > 200\"")


class SegmentCountPublic(BaseModel):
    segment: str
    count: int
    as_of: str


class SegmentProblem(BaseModel):
    detail: str
    reason: str
    column: int | None


@router.post("/count", response_model=SegmentCountPublic, summary="Count the customers in a segment",
             responses={422: {"model": SegmentProblem, "description": "The expression is not valid."}})
def count(body: SegmentCount, ws: WorkspaceDep, _: Reader) -> Any:
    """As `winback segments count --json`: {segment, count, as_of}; a mistake is 422 with the column."""
    now = ws.clock()
    try:
        segment = parse_segment(body.expression)
        with ws.ready_engine().connect() as conn:
            n = count_segment(conn, segment, now=now)
    except SegmentError as exc:
        return segment_problem(exc)
    return {"segment": segment.text, "count": n, "as_of": now.isoformat()}


@router.get("/fields", summary="What a segment may use")
def fields(_: Reader) -> dict[str, Any]:
    """As `winback segments fields --json`: fields (name, type, source, description) and functions."""
    return plain({
        "fields": [{"name": f.name, "type": f.type, "source": f.table, "description": f.description}
                   for f in FIELDS.values()],
        "functions": [{"name": f.name, "signature": f.signature, "returns": f.returns, "description": f.description}
                      for f in FUNCTIONS.values()],
    })
