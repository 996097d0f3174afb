"""The dashboard's read queries: a few set-based statements per page, bounded by LIMIT, on indexed columns.

Counts over all customers come from the score runs' summaries (written once per `winback score`), not from a scan
of `profiles`, so the overview costs the same with a thousand customers or a million.
"""

from __future__ import annotations

import contextlib
import heapq
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from winback.domain.errors import SegmentError
from winback.store import tables as t

__all__ = ["CustomerFilter", "CustomerPage", "check_segment", "customer_detail", "filter_choices", "has_customers",
           "latest_run", "programme_rows", "report_as_of", "search_customers", "stage_history", "task_queue",
           "timeline", "top_signals"]

HISTORY_RUNS = 24  # score runs drawn in the stages-over-time chart
SIGNAL_POOL = 2_000  # at-risk customers (by value at risk) whose signals are counted on the overview
TIMELINE_PER_SOURCE = 40
PURCHASE_OUTCOMES = ("reactivated", "goal_reached")  # enrolments that ended because the customer bought


# --- overview ---------------------------------------------------------------------------------------------------

def latest_run(conn: sa.Connection) -> dict[str, Any] | None:
    """The last finished score run: as_of, stage counts, value at risk per currency, reasons, dormancy types."""
    r = t.score_runs.c
    row = conn.execute(sa.select(r.run_id, r.as_of, r.summary).where(r.finished_at.is_not(None))
                       .order_by(r.finished_at.desc()).limit(1)).first()
    if row is None:
        return None
    summary = row.summary or {}
    return {"run_id": row.run_id, "as_of": row.as_of, "stages": summary.get("stages", {}),
            "value_at_risk": {k: v for k, v in (summary.get("value_at_risk") or {}).items() if k != "none" and v},
            "reasons": summary.get("reasons", {}), "dormancy_types": summary.get("dormancy_types", {}),
            "customers": summary.get("customers", 0)}


def stage_history(conn: sa.Connection, *, runs: int = HISTORY_RUNS) -> list[dict[str, Any]]:
    """Stage counts of the last `runs` score runs, oldest first (one point per scoring date)."""
    r = t.score_runs.c
    rows = conn.execute(sa.select(r.as_of, r.summary).where(r.finished_at.is_not(None))
                        .order_by(r.as_of.desc(), r.finished_at.desc()).limit(runs)).all()
    by_date: dict[str, dict[str, int]] = {}
    for row in rows:  # newest first: a later rescoring of the same date wins
        by_date.setdefault(row.as_of.date().isoformat(), dict((row.summary or {}).get("stages", {})))
    return [{"date": day, "stages": stages} for day, stages in sorted(by_date.items())]


def top_signals(conn: sa.Connection, *, pool: int = SIGNAL_POOL, top: int = 6) -> dict[str, Any]:
    """The warning signals most often seen among the at-risk customers with the most value at risk."""
    p = t.profiles.c
    rows = conn.execute(sa.select(p.signals).where(p.stage == "at_risk")
                        .order_by(p.value_at_risk.desc().nulls_last()).limit(pool)).all()
    counts: Counter[str] = Counter()
    example: dict[str, str] = {}
    for (signals,) in rows:
        for signal in signals or []:
            code = signal.get("code") or "other"
            counts[code] += 1
            example.setdefault(code, signal.get("text") or code)
    return {"pool": len(rows), "signals": [{"code": code, "count": n, "example": example[code]}
                                           for code, n in counts.most_common(top)]}


# --- customers --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CustomerFilter:
    """What the customers page filters on; empty strings mean no filter."""

    q: str = ""
    stage: str = ""
    reason: str = ""
    dormancy: str = ""
    segment: str = ""


@dataclass(frozen=True)
class CustomerPage:
    rows: list[dict[str, Any]]
    offset: int
    has_more: bool


LIST_COLUMNS = ("stage", "p_churn", "clv", "value_at_risk", "churn_reason", "dormancy_type", "days_since_last_order")


def search_customers(conn: sa.Connection, filters: CustomerFilter, *, now: datetime, offset: int = 0,
                     limit: int = 50) -> CustomerPage:
    """Customers matching the filters, by value at risk (highest first), then the unscored ones by id; raises
    SegmentError on a bad expression.

    Scored customers are read from `profiles JOIN customers` in the order of an index on
    profiles (value_at_risk DESC NULLS LAST, customer_id), so a page is a short index walk; customers without a
    profile (never scored) follow, and are only looked for when the scored ones run out.
    """
    from winback.segments import parse_segment, segment_condition

    c, p = t.customers.c, t.profiles.c
    where: list[sa.ColumnElement[bool]] = []
    if filters.q.strip():
        where.append(_search_condition(conn, filters.q.strip()))
    if filters.segment.strip():
        where.append(segment_condition(parse_segment(filters.segment.strip()), now=now))
    on_profile = [p[column] == value for column, value in (("stage", filters.stage), ("churn_reason", filters.reason),
                                                           ("dormancy_type", filters.dormancy)) if value]
    columns = (c.customer_id, c.name, c.email, *(p[name] for name in LIST_COLUMNS))
    scored = (sa.select(*columns).select_from(t.profiles.join(t.customers, c.customer_id == p.customer_id))
              .where(*where, *on_profile).order_by(p.value_at_risk.desc().nulls_last(), p.customer_id))
    rows = [dict(r._mapping) for r in conn.execute(scored.offset(offset).limit(limit + 1))]
    if len(rows) <= limit and not on_profile:  # the scored ones ran out on this page: the unscored follow
        before = offset if rows else conn.scalar(
            sa.select(sa.func.count()).select_from(scored.order_by(None).subquery())) or 0
        unscored = (sa.select(*columns).select_from(t.customers.outerjoin(t.profiles, p.customer_id == c.customer_id))
                    .where(p.customer_id.is_(None), *where).order_by(c.customer_id)
                    .offset(max(offset - before, 0)).limit(limit + 1 - len(rows)))
        rows += [dict(r._mapping) for r in conn.execute(unscored)]
    return CustomerPage(rows=rows[:limit], offset=offset, has_more=len(rows) > limit)


def has_customers(conn: sa.Connection) -> bool:
    """True when the store holds at least one customer."""
    return conn.execute(sa.select(t.customers.c.customer_id).limit(1)).first() is not None


def _search_condition(conn: sa.Connection, q: str) -> sa.ColumnElement[bool]:
    """An exact id or email (index lookups, tried first), else a name starting with the text (a scan: no index)."""
    c = t.customers.c
    exact: list[sa.ColumnElement[bool]] = [c.customer_id == q]
    if "@" in q:
        from winback.ingest.parse import CellError, parse_email

        with contextlib.suppress(CellError):  # not an address after all: the other options still apply
            exact.append(c.email_key == parse_email(q).key)
    ids = list(conn.scalars(sa.select(c.customer_id).where(sa.or_(*exact)).limit(10)))
    if ids:
        return c.customer_id.in_(ids)
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return c.name.like(f"{escaped}%", escape="\\")


def filter_choices(run: dict[str, Any] | None) -> dict[str, list[str]]:
    """The values the reason and dormancy filters offer: those the latest scoring found."""
    if run is None:
        return {"reasons": [], "dormancy_types": []}
    return {"reasons": sorted(k for k, v in run["reasons"].items() if k != "none" and v),
            "dormancy_types": sorted(k for k, v in run["dormancy_types"].items() if k != "none" and v)}


def check_segment(text: str) -> str | None:
    """The parse error of a segment expression, or None when it is valid (or empty)."""
    from winback.segments import parse_segment

    if not text.strip():
        return None
    try:
        parse_segment(text.strip())
    except SegmentError as exc:
        return str(exc)
    return None


# --- one customer -----------------------------------------------------------------------------------------------

def customer_detail(conn: sa.Connection, customer_id: str, *,
                    per_source: int = TIMELINE_PER_SOURCE) -> dict[str, Any] | None:
    """The customer, their profile, a merged timeline (newest first) and their tasks; None when unknown."""
    c = t.customers
    customer = conn.execute(sa.select(c.c.customer_id, c.c.name, c.c.email, c.c.phone, c.c.locale, c.c.time_zone,
                                      c.c.created_at).where(c.c.customer_id == customer_id)).mappings().first()
    if customer is None:
        return None
    profile = conn.execute(sa.select(t.profiles).where(t.profiles.c.customer_id == customer_id)).mappings().first()
    tk = t.tasks.c
    tasks = [dict(r) for r in conn.execute(
        sa.select(tk.task_id, tk.title, tk.state, tk.assignee, tk.due_at, tk.programme_id)
        .where(tk.customer_id == customer_id).order_by(tk.state, tk.due_at))
        .mappings()]
    return {"customer": dict(customer), "profile": dict(profile) if profile else None,
            "timeline": timeline(conn, customer_id, per_source=per_source), "tasks": tasks}


def timeline(conn: sa.Connection, customer_id: str, *, per_source: int) -> list[dict[str, Any]]:
    """Orders, events, messages (the ledger), engagements and feedback, newest first; each source capped."""
    o, ev, g, w, fb = t.orders.c, t.events.c, t.ledger.c, t.engagements.c, t.feedback.c
    items: list[dict[str, Any]] = []
    for r in conn.execute(sa.select(o.ordered_at, o.order_id, o.amount, o.currency, o.status, o.coupon_code)
                          .where(o.customer_id == customer_id).order_by(o.ordered_at.desc()).limit(per_source)):
        coupon = f", coupon {r.coupon_code}" if r.coupon_code else ""
        items.append({"at": r.ordered_at, "kind": "order",
                      "text": f"{r.order_id}: {float(r.amount):,.2f} {r.currency} ({r.status}{coupon})"})
    for r in conn.execute(sa.select(ev.occurred_at, ev.type).where(ev.customer_id == customer_id)
                          .order_by(ev.occurred_at.desc()).limit(per_source)):
        items.append({"at": r.occurred_at, "kind": "event", "text": r.type})
    for r in conn.execute(sa.select(g.created_at, g.programme_id, g.step, g.kind, g.channel, g.variant, g.state,
                                    g.reason).where(g.customer_id == customer_id)
                          .order_by(g.created_at.desc()).limit(per_source)):
        what = " ".join(x for x in (r.kind, r.channel, r.variant and f"variant {r.variant}") if x)
        why = f" ({r.reason})" if r.reason else ""
        items.append({"at": r.created_at, "kind": "message",
                      "text": f"{r.programme_id} · {r.step}: {what}, {r.state}{why}"})
    for r in conn.execute(sa.select(w.at, w.kind, w.step, w.machine).where(w.customer_id == customer_id)
                          .order_by(w.at.desc()).limit(per_source)):
        machine = " (privacy proxy or scanner)" if r.machine else ""
        items.append({"at": r.at, "kind": "engagement", "text": f"{r.kind}{' · ' + r.step if r.step else ''}{machine}"})
    for r in conn.execute(sa.select(fb.opened_at, fb.kind, fb.rating, fb.text, fb.status)
                          .where(fb.customer_id == customer_id).order_by(fb.opened_at.desc()).limit(per_source)):
        rating = f" {r.rating}/5" if r.rating is not None else ""
        items.append({"at": r.opened_at, "kind": "feedback",
                      "text": f"{r.kind}{rating}: {r.text or ''}".strip().rstrip(":")})
    return heapq.nlargest(per_source * 2, items, key=lambda item: item["at"])


# --- programmes -------------------------------------------------------------------------------------------------

def programme_rows(conn: sa.Connection, *, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Programmes (running first, then the latest changed) with their enrolment counts, one grouped statement."""
    p, e = t.programmes.c, t.enrolments.c
    stmt = sa.select(p.programme_id, p.state, p.state_reason, p.version, p.started_at, p.updated_at)
    if states is not None:
        stmt = stmt.where(p.state.in_(states))
    rows = conn.execute(stmt.order_by(p.state != "running", p.updated_at.desc())).mappings().all()
    ids = [r["programme_id"] for r in rows]
    counts: dict[str, dict[str, int]] = {pid: {"enrolled": 0, "holdout": 0, "purchased": 0} for pid in ids}
    if ids:
        for pid, holdout, outcome, n in conn.execute(
                sa.select(e.programme_id, e.holdout, e.outcome, sa.func.count()).where(e.programme_id.in_(ids))
                .group_by(e.programme_id, e.holdout, e.outcome)):
            entry = counts[pid]
            entry["enrolled"] += n
            entry["holdout"] += n if holdout else 0
            entry["purchased"] += n if outcome in PURCHASE_OUTCOMES and not holdout else 0
    return [{**dict(r), **counts[r["programme_id"]]} for r in rows]


def report_as_of(conn: sa.Connection, programme_id: str, *, now: datetime) -> datetime:
    """Now, or later when the programme's worker ran ahead on a simulated clock (the demo's "run the worker")."""
    g = t.ledger.c
    latest = conn.scalar(sa.select(sa.func.max(g.updated_at)).where(g.programme_id == programme_id))
    if latest is None or latest <= now:
        return now
    return latest + timedelta(seconds=1)


# --- tasks ------------------------------------------------------------------------------------------------------

def task_queue(conn: sa.Connection, *, assignee: str | None, offset: int = 0,
               limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
    """Open tasks by due date (soonest first, undated last), then value at risk; with the customer's name."""
    tk, p, c = t.tasks.c, t.profiles.c, t.customers.c
    stmt = (sa.select(tk.task_id, tk.title, tk.assignee, tk.due_at, tk.created_at, tk.programme_id, tk.customer_id,
                      c.name, c.email, c.phone, p.stage, p.value_at_risk, p.churn_reason)
            .select_from(t.tasks.outerjoin(t.profiles, p.customer_id == tk.customer_id)
                         .outerjoin(t.customers, c.customer_id == tk.customer_id))
            .where(tk.state == "open"))
    if assignee is not None:
        stmt = stmt.where(tk.assignee == assignee)
    stmt = stmt.order_by(tk.due_at.asc().nulls_last(), p.value_at_risk.desc().nulls_last(), tk.task_id)
    rows = [dict(r) for r in conn.execute(stmt.offset(offset).limit(limit + 1)).mappings()]
    return rows[:limit], len(rows) > limit
