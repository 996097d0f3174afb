"""What every REST resource shares: the workspace of the request, role aliases, pagination, error translation and
JSON-safe values."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from winback.domain.errors import NotFoundError, UserError
from winback.jobs.workspace import Workspace
from winback.web.auth import Principal, current_principal, require

__all__ = ["CHECKS", "Admin", "Campaigns", "Limit", "Offset", "Page", "Reader", "TaskWorker", "WorkspaceDep",
           "page", "plain", "reject_nul", "user_errors", "workspace"]

MAX_LIMIT = 500
MAX_OFFSET = 10_000_000

Reader = Annotated[Principal, Depends(require("read"))]
TaskWorker = Annotated[Principal, Depends(require("tasks"))]
Campaigns = Annotated[Principal, Depends(require("campaigns"))]
Admin = Annotated[Principal, Depends(require("admin"))]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1–{MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip: the `next` of the previous page.")]


class Page(BaseModel):
    """One page of a list: `next` is the `offset` of the following page, null on the last."""

    items: list[dict[str, Any]]
    next: int | None = Field(default=None, description="Pass as `offset` to get the next page; null: no more.")


async def reject_nul(request: Request, _: Annotated[Principal, Depends(current_principal)]) -> None:
    """422 for text no store can hold: a NUL character (PostgreSQL text cannot) in the path, query or body, or a
    lone UTF-16 surrogate (`\\ud800`, not UTF-8) in the JSON body. After authentication: 401 comes first."""
    bad = "\x00" in request.scope["path"] or any("\x00" in k or "\x00" in v
                                                 for k, v in request.query_params.multi_items())
    if not bad and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        body = await request.body()  # Starlette keeps it for the route
        with suppress(ValueError, RecursionError):  # not JSON: the route's own validation says so
            bad = any(not _storable(text) for text in _strings(json.loads(body))) if body else False
    if bad:
        raise HTTPException(422, detail="text in a request may not contain the NUL character or a lone UTF-16 "
                                        "surrogate (\\u0000, \\ud800 … \\udfff)")


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


CHECKS = [Depends(reject_nul)]  # every REST router's dependencies


def workspace(request: Request) -> Workspace:
    """The app's settings, store and clock as the jobs functions expect them."""
    state = request.app.state
    ws = Workspace(settings=state.settings, clock=state.clock)
    ws.__dict__["engine"] = state.engine  # share the app's engine (a cached_property reads the instance dict)
    return ws


WorkspaceDep = Annotated[Workspace, Depends(workspace)]


def page(rows: list[Any], *, limit: int, offset: int) -> dict[str, Any]:
    """A page from `limit + 1` fetched rows: the extra row only says that there is a next page."""
    more = len(rows) > limit
    return {"items": plain(rows[:limit]), "next": offset + limit if more else None}


def paged(stmt: sa.Select[Any], *, limit: int, offset: int) -> sa.Select[Any]:
    """The statement limited to one page and one row more."""
    return stmt.limit(limit + 1).offset(offset)


def plain(value: Any) -> Any:
    """JSON-safe: ISO times, floats for decimals, null for NaN and infinities (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "_mapping"):
        return plain(dict(value._mapping))
    return value


@contextmanager
def user_errors(*, conflict: bool = False, missing: int = 404) -> Iterator[None]:
    """Mistakes as 4xx with the jobs' one-line message: not found → `missing` (404), other user errors → 409
    when `conflict` (the request is fine, the thing's state forbids it), else 422."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(missing, detail=str(exc)) from None
    except UserError as exc:
        raise HTTPException(409 if conflict else 422, detail=str(exc)) from None


def like_prefix(text: str) -> str:
    """A LIKE pattern for values starting with `text` (its own % and _ taken literally, escape `\\`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
