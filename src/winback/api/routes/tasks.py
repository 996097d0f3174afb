"""Tasks for account managers: list them with the customer's value, risk and reason; assign, complete, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from winback.api.routes.common import CHECKS, Limit, Offset, Page, Reader, TaskWorker, WorkspaceDep, plain, user_errors
from winback.jobs import tasks as jobs

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], dependencies=CHECKS)

TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The task id.")]


class TaskAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=200, description="Who takes it.")

    @field_validator("assignee")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an assignee cannot be empty")
        return value.strip()


class TaskDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2_000, description="What was done.")


@router.get("", response_model=Page, summary="Tasks by value at risk, then due time")
def list_tasks(
    ws: WorkspaceDep, _: Reader,
    state: Annotated[str, Query(pattern="^(open|done|cancelled|all)$")] = "open",
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    overdue: Annotated[bool, Query(description="Only open tasks past their due time.")] = False,
    limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """As `winback tasks list --json`, one page at a time: each task with its customer's value, risk, reason,
    contact and recent history."""
    with user_errors():
        views = jobs.list_tasks(ws, assignee=assignee, state=state, overdue=overdue)
    chunk = views[offset:offset + limit]
    return {"items": plain(chunk), "next": offset + limit if len(views) > offset + limit else None}


@router.get("/{task_id}", summary="One task with its customer's context")
def get_task(ws: WorkspaceDep, _: Reader, task_id: TaskId) -> dict[str, Any]:
    """As `winback tasks show --json`."""
    with user_errors():
        return plain(jobs.show_task(ws, task_id))


@router.post("/{task_id}/assign", summary="Give an open task to someone")
def assign(body: TaskAssign, ws: WorkspaceDep, who: TaskWorker, task_id: TaskId) -> dict[str, Any]:
    """409 when the task is not open."""
    with user_errors(conflict=True):
        return plain(jobs.assign(ws, task_id, body.assignee, by=who.name))


@router.post("/{task_id}/done", summary="Mark an open task done")
def done(ws: WorkspaceDep, who: TaskWorker, task_id: TaskId, body: TaskDone | None = None) -> dict[str, Any]:
    """With an optional note; 409 when the task is not open."""
    with user_errors(conflict=True):
        return plain(jobs.complete(ws, task_id, note=body.note if body else None, by=who.name))


@router.post("/{task_id}/cancel", summary="Cancel an open task")
def cancel(ws: WorkspaceDep, who: TaskWorker, task_id: TaskId) -> dict[str, Any]:
    """409 when the task is not open."""
    with user_errors(conflict=True):
        return plain(jobs.cancel(ws, task_id, by=who.name))
