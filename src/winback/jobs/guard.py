"""The complaint-rate guard's store side: count complaints against delivered email, alert, pause (docs/measurement.md).

Light on purpose (the store and the pure decision only): the worker runs it with every exit sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa

from winback.jobs.workspace import Workspace
from winback.measurement.guard import GuardAction, GuardLimits, decide
from winback.store import tables as t
from winback.store.db import write_transaction

__all__ = ["check_complaint_rates", "guard", "sending_domain"]


def sending_domain(ws: Workspace) -> str:
    """The domain of the From address (WINBACK_MAIL_FROM)."""
    return parseaddr(ws.settings.mail_from)[1].rpartition("@")[2].lower() or "unknown"


def check_complaint_rates(engine: sa.Engine, *, now: datetime, sending_domain: str,
                          limits: GuardLimits = GuardLimits()) -> list[GuardAction]:
    """Complaints ÷ delivered email over the trailing window for the sending domain; alert (once per domain per
    day) from the alert rate, and pause every running programme from the pause rate.

    Every email leaves with the one From address of the workspace, so all email in the ledger counts for its
    domain: delivered = emails handed over in the window − bounce reports in it.
    """
    g, w, a, p = t.ledger.c, t.engagements.c, t.alerts.c, t.programmes.c
    since = now - limits.window
    with write_transaction(engine) as conn:
        sent = conn.scalar(sa.select(sa.func.count()).where(
            g.kind == "send", g.channel == "email", g.state == "sent", g.created_at > since,
            g.created_at <= now)) or 0
        counts = dict(conn.execute(sa.select(w.kind, sa.func.count()).where(
            w.kind.in_(("complaint", "bounce")), w.at > since, w.at <= now).group_by(w.kind)).all())
        action = decide(sending_domain, delivered=max(int(sent) - int(counts.get("bounce", 0)), 0),
                        complaints=int(counts.get("complaint", 0)), limits=limits)
        if action.action == "none":
            return [action]
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if action.action == "pause":
            running = sorted(conn.scalars(sa.select(p.programme_id).where(p.state == "running")))
            if running:  # as `winback programs pause` does; `resume` restarts them
                conn.execute(sa.update(t.programmes).where(p.programme_id.in_(running), p.state == "running")
                             .values(state="paused", updated_at=now,
                                     state_reason=f"complaint rate of {sending_domain}: {action.reason}"))
            action.paused = running
        done = conn.scalar(sa.select(sa.func.count()).where(a.kind == "complaint_rate", a.scope == sending_domain,
                                                            a.created_at >= day, a.created_at < day + timedelta(1)))
        if not done or action.paused:  # a pause is always reported, even after today's alert
            conn.execute(t.alerts.insert().values(
                kind="complaint_rate", scope=sending_domain, message=f"{sending_domain}: {action.reason}",
                detail={"delivered": action.delivered, "complaints": action.complaints, "rate": action.rate,
                        "action": action.action, "paused": action.paused,
                        "window_days": limits.window.total_seconds() / 86_400},
                created_at=now))
            action.alerted = True
    return [action]


def guard(ws: Workspace) -> dict[str, Any]:
    """Run the complaint-rate guard now for the workspace's sending domain."""
    actions = check_complaint_rates(ws.ready_engine(), now=ws.clock(), sending_domain=sending_domain(ws))
    return {"checked_at": ws.clock().isoformat(), "limits": {"alert_rate": GuardLimits().alert_rate,
                                                             "pause_rate": GuardLimits().pause_rate,
                                                             "min_delivered": GuardLimits().min_delivered,
                                                             "window_days": GuardLimits().window.days},
            "domains": [x.as_dict() for x in actions]}
