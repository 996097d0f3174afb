"""Account-manager tasks: list them with the customer's value, risk and reason; assign, complete, cancel."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from winback.cli.output import JsonOpt, console, emit_json, key_values, rows_table
from winback.jobs import tasks as jobs

tasks_app = typer.Typer(help="Tasks for account managers, created by programme `task` steps.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.0f}"


def _when(value: Any) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


@tasks_app.command("list")
def list_(
    ctx: typer.Context,
    assignee: Annotated[str | None, typer.Option(help="Only this assignee's tasks.")] = None,
    state: Annotated[str, typer.Option(help="open, done, cancelled or all.")] = "open",
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open tasks past their due time.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Tasks by value at risk, then due time."""
    views = jobs.list_tasks(ctx.obj, assignee=assignee, state=state, overdue=overdue)
    if as_json:
        emit_json(views)
        return
    if not views:
        console.print("no tasks", highlight=False)
        return
    rows_table("tasks", ["id", "due", "assignee", "customer", "value at risk", "p_churn", "stage", "reason", "title"],
               [[v["task_id"], _when(v["due_at"]) + (" (overdue)" if v["overdue"] else ""), v["assignee"] or "",
                 v["contact"]["name"] or v["customer_id"], _money(v["value"]["value_at_risk"]),
                 "" if v["risk"]["p_churn"] is None else f"{v['risk']['p_churn']:.2f}", v["risk"]["stage"] or "",
                 v["reason"]["churn_reason"] or v["reason"]["dormancy_type"] or "", v["title"]] for v in views])


@tasks_app.command("show")
def show(ctx: typer.Context, task_id: Annotated[int, typer.Argument(help="The task id.")],
         as_json: JsonOpt = False) -> None:
    """One task with its customer's context and recent history."""
    v = jobs.show_task(ctx.obj, task_id)
    if as_json:
        emit_json(v)
        return
    key_values(f"task {task_id}", {k: v[k] for k in ("title", "state", "assignee", "due_at", "overdue", "customer_id",
                                                    "programme_id", "step", "note")})
    key_values("contact", v["contact"])
    key_values("value and risk", {**v["value"], **v["risk"], "churn_reason": v["reason"]["churn_reason"],
                                  "dormancy_type": v["reason"]["dormancy_type"]})
    for line in v["reason"]["signals"]:
        console.print(f"  signal: {line}", highlight=False)
    recent = v["recent"]
    if recent["orders"]:
        rows_table("last orders", ["order_id", "ordered_at", "amount", "currency", "status"],
                   [[o["order_id"], _when(o["ordered_at"]), o["amount"], o["currency"], o["status"]]
                    for o in recent["orders"]])
    if recent["messages"]:
        rows_table("last messages", ["at", "programme", "step", "channel", "state"],
                   [[_when(m["at"]), m["programme"], m["step"], m["channel"], m["state"]] for m in recent["messages"]])
    if recent["open_feedback"]:
        rows_table("open feedback", ["opened_at", "kind", "rating", "text"],
                   [[_when(f["opened_at"]), f["kind"], f["rating"], f["text"]] for f in recent["open_feedback"]])
    for h in v["history"]:
        console.print(f"  {h['at']} {h['by']}: {h['action']} {h.get('assignee') or h.get('note') or ''}".rstrip(),
                      highlight=False)


@tasks_app.command("assign")
def assign(ctx: typer.Context, task_id: Annotated[int, typer.Argument(help="The task id.")],
           assignee: Annotated[str, typer.Argument(help="Who takes it.")]) -> None:
    """Give an open task to someone."""
    jobs.assign(ctx.obj, task_id, assignee)
    console.print(f"task {task_id} assigned to {assignee}", highlight=False)


@tasks_app.command("done")
def done(ctx: typer.Context, task_id: Annotated[int, typer.Argument(help="The task id.")],
         note: Annotated[str | None, typer.Option(help="What was done.")] = None) -> None:
    """Mark an open task done."""
    jobs.complete(ctx.obj, task_id, note=note)
    console.print(f"task {task_id} done", highlight=False)


@tasks_app.command("cancel")
def cancel(ctx: typer.Context, task_id: Annotated[int, typer.Argument(help="The task id.")]) -> None:
    """Cancel an open task."""
    jobs.cancel(ctx.obj, task_id)
    console.print(f"task {task_id} cancelled", highlight=False)
