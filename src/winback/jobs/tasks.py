"""Account-manager tasks for the fronts: list them with what the manager needs to act (value, risk, reason,
contact, recent history) read from the store at list time, and assign, complete or cancel them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winback.domain.errors import NotFoundError, UserError
from winback.jobs.workspace import Workspace
from winback.store import tables as t
from winback.store.db import write_transaction

STATES = ("open", "done", "cancelled")
HISTORY_ORDERS = 3
HISTORY_MESSAGES = 3
TOP_SIGNALS = 3


def list_tasks(ws: Workspace, *, assignee: str | None = None, state: str = "open",
               overdue: bool = False) -> list[dict[str, Any]]:
    """Tasks with their customer's value, risk, reason, contact and history, by value at risk then due time."""
    if state not in (*STATES, "all"):
        raise UserError(f"unknown task state {state!r}: use one of open, done, cancelled, all")
    now = ws.clock()
    c = t.tasks.c
    stmt = sa.select(t.tasks)
    if state != "all":
        stmt = stmt.where(c.state == state)
    if assignee is not None:
        stmt = stmt.where(c.assignee == assignee)
    if overdue:
        stmt = stmt.where(c.state == "open", c.due_at.is_not(None), c.due_at < now)
    with ws.ready_engine().connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        views = _with_context(conn, rows, now=now)
    return sorted(views, key=_order)


def show_task(ws: Workspace, task_id: int) -> dict[str, Any]:
    """One task with its customer's context."""
    with ws.ready_engine().connect() as conn:
        row = _task(conn, task_id)
        return _with_context(conn, [row], now=ws.clock())[0]


def assign(ws: Workspace, task_id: int, assignee: str, *, by: str = "cli") -> dict[str, Any]:
    """Give an open task to someone."""
    if not assignee.strip():
        raise UserError("an assignee cannot be empty")
    return _change(ws, task_id, action="assign", by=by, values={"assignee": assignee}, extra={"assignee": assignee})


def complete(ws: Workspace, task_id: int, *, note: str | None = None, by: str = "cli") -> dict[str, Any]:
    """Mark an open task done, with an optional note."""
    return _change(ws, task_id, action="done", by=by, values={"state": "done"},
                   extra={"note": note} if note else {})


def cancel(ws: Workspace, task_id: int, *, by: str = "cli") -> dict[str, Any]:
    """Cancel an open task."""
    return _change(ws, task_id, action="cancel", by=by, values={"state": "cancelled"}, extra={})


def _change(ws: Workspace, task_id: int, *, action: str, by: str, values: dict[str, Any],
            extra: dict[str, Any]) -> dict[str, Any]:
    now = ws.clock()
    with write_transaction(ws.ready_engine()) as conn:
        row = _task(conn, task_id)
        if row["state"] != "open":
            raise UserError(f"task {task_id} is {row['state']}; only open tasks can be changed")
        detail = dict(row["detail"] or {})
        detail["history"] = [*detail.get("history", []), {"at": now.isoformat(), "by": by, "action": action, **extra}]
        conn.execute(sa.update(t.tasks).where(t.tasks.c.task_id == task_id).values(**values, detail=detail))
    return {**row, **values, "detail": detail}


def _task(conn: sa.Connection, task_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(t.tasks).where(t.tasks.c.task_id == task_id)).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"no task {task_id} (see `winback tasks list --state all`)")
    return dict(row)


def _order(view: dict[str, Any]) -> tuple[Any, ...]:
    risk = view["value"]["value_at_risk"]
    due = view["due_at"]
    return (risk is None, -(risk or 0.0), due is None, due or datetime.min, view["task_id"])


def _with_context(conn: sa.Connection, rows: list[dict[str, Any]], *, now: datetime) -> list[dict[str, Any]]:
    """Each task with its customer's value, risk, reason, contact and recent history."""
    ids = sorted({r["customer_id"] for r in rows})
    if not ids:
        return []
    p, cu, o, led, fb = t.profiles.c, t.customers.c, t.orders.c, t.ledger.c, t.feedback.c
    profiles = {r.customer_id: r for r in conn.execute(sa.select(t.profiles).where(p.customer_id.in_(ids)))}
    customers = {r.customer_id: r for r in conn.execute(
        sa.select(cu.customer_id, cu.name, cu.email, cu.phone, cu.locale, cu.time_zone).where(cu.customer_id.in_(ids)))}
    orders: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(sa.select(o.customer_id, o.order_id, o.ordered_at, o.amount, o.currency, o.status)
                          .where(o.customer_id.in_(ids)).order_by(o.customer_id, o.ordered_at.desc())):
        if len(orders[r.customer_id]) < HISTORY_ORDERS:
            orders[r.customer_id].append({"order_id": r.order_id, "ordered_at": r.ordered_at,
                                          "amount": float(r.amount), "currency": r.currency, "status": r.status})
    messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(sa.select(led.customer_id, led.programme_id, led.step, led.channel, led.state,
                                    led.created_at).where(led.customer_id.in_(ids), led.kind == "send")
                          .order_by(led.customer_id, led.created_at.desc(), led.id.desc())):
        if len(messages[r.customer_id]) < HISTORY_MESSAGES:
            messages[r.customer_id].append({"programme": r.programme_id, "step": r.step, "channel": r.channel,
                                            "state": r.state, "at": r.created_at})
    feedback: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(sa.select(fb.customer_id, fb.feedback_id, fb.kind, fb.rating, fb.text, fb.opened_at)
                          .where(fb.customer_id.in_(ids), fb.resolved_at.is_(None)).order_by(fb.opened_at.desc())):
        feedback[r.customer_id].append({"feedback_id": r.feedback_id, "kind": r.kind, "rating": r.rating,
                                        "text": r.text, "opened_at": r.opened_at})
    out = []
    for row in rows:
        cid = row["customer_id"]
        prof, cust = profiles.get(cid), customers.get(cid)
        explanation = (prof.explanation if prof is not None else None) or {}
        signals = [s.get("text") for s in (prof.signals or [])] if prof is not None else []
        detail = row["detail"] or {}
        out.append({
            **{k: row[k] for k in ("task_id", "title", "state", "assignee", "due_at", "created_at", "customer_id",
                                   "programme_id", "step")},
            "overdue": row["state"] == "open" and row["due_at"] is not None and row["due_at"] < now,
            "note": detail.get("note"),
            "value": {k: getattr(prof, k, None) for k in ("clv", "value_at_risk", "value_tier")},
            "risk": {k: getattr(prof, k, None) for k in ("p_churn", "stage")},
            "reason": {"churn_reason": getattr(prof, "churn_reason", None),
                       "dormancy_type": getattr(prof, "dormancy_type", None),
                       "signals": (explanation.get("signals") or signals)[:TOP_SIGNALS]},
            "contact": {k: getattr(cust, k, None) for k in ("name", "email", "phone", "locale", "time_zone")},
            "recent": {"orders": orders.get(cid, []), "messages": messages.get(cid, []),
                       "open_feedback": feedback.get(cid, [])},
            "history": detail.get("history", []),
        })
    return out
