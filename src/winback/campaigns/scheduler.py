"""The scheduler pass: turn triggers and audience changes into enrolments, wake waits whose event happened,
and end enrolments whose customer has left (a purchase, an unsubscribe) before their next step is due.

Any worker may run it; on PostgreSQL an advisory lock lets one at a time do so, on SQLite the write lock does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from winback.campaigns.definition import Programme, Trigger
from winback.campaigns.enrol import EnrolResult, enrol
from winback.campaigns.files import programme_from_definition
from winback.campaigns.machine import EXIT_OUTCOMES
from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.store import tables as t
from winback.store.db import write_transaction

_LOCK_ID = 0x77696E6261636B  # "winback"
OVERLAP = timedelta(hours=1)  # re-read this much before the watermark: late rows are caught, keys de-duplicate


@dataclass
class ScheduleReport:
    ran: bool = False
    enrolled: dict[str, EnrolResult] = field(default_factory=dict)
    woken: int = 0
    exited: dict[str, int] = field(default_factory=dict)


def running_programmes(conn: sa.Connection) -> list[tuple[dict[str, Any], Programme]]:
    p, v = t.programmes.c, t.programme_versions.c
    rows = conn.execute(sa.select(p.programme_id, p.version, p.audience_checked_at, p.trigger_watermark,
                                  v.definition)
                        .join_from(t.programmes, t.programme_versions,
                                   sa.and_(v.programme_id == p.programme_id, v.version == p.version))
                        .where(p.state == "running").order_by(p.programme_id)).all()
    return [(dict(r._mapping), programme_from_definition(r.definition)) for r in rows]


def schedule(engine: sa.Engine, *, now: datetime, sweep_exits: bool = True) -> ScheduleReport:
    report = ScheduleReport()
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql" and not conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(
                _LOCK_ID))):
            return report  # another worker is scheduling right now
        report.ran = True
        for row, programme in running_programmes(conn):
            result = _enrol_new(conn, row, programme, now)
            if result is not None:
                report.enrolled[programme.programme] = result
            if sweep_exits:
                n = _sweep_exits(conn, programme, now)
                if n:
                    report.exited[programme.programme] = n
        report.woken = _wake(conn, now)
        _redeem_coupons(conn, now)
    return report


def _redeem_coupons(conn: sa.Connection, now: datetime) -> None:
    """Coupons used by orders updated in the last day (idempotent, so the overlap between passes is harmless);
    nothing to do, and no scan of orders, while no coupon is out."""
    from winback.messaging.coupons import expire, redeem_orders

    out = conn.scalar(sa.select(t.coupons.c.code).where(t.coupons.c.state.in_(("issued", "expired"))).limit(1))
    if out is not None:
        redeem_orders(conn, now=now, since=now - timedelta(days=1))
        expire(conn, now)


def _enrol_new(conn: sa.Connection, row: dict[str, Any], programme: Programme, now: datetime) -> EnrolResult | None:
    from winback.segments import matching_ids, parse_segment

    p = t.programmes.c
    pid, version = row["programme_id"], row["version"]
    trigger = programme.trigger
    if trigger is not None and trigger.event != "silent":
        watermark = row["trigger_watermark"]
        since = now - trigger.within if watermark is None else max(now - trigger.within, watermark - OVERLAP)
        events = trigger_events(conn, trigger, since=since, until=now)
        conn.execute(sa.update(t.programmes).where(p.programme_id == pid).values(trigger_watermark=now))
        if not events:
            return None
        events = _new_keys(conn, pid, events)
        if programme.audience is not None and events:
            keep = set(matching_ids(conn, parse_segment(programme.audience), now=now, customer_ids=list(events)))
            events = {cid: ev for cid, ev in events.items() if cid in keep}
        if not events:
            return None
        return enrol(conn, programme=programme, version=version, customer_ids=list(events), now=now, triggers=events)
    # An audience (or a silence threshold), re-checked for newcomers every `entry.refresh`.
    checked = row["audience_checked_at"]
    refresh = programme.entry.refresh
    if checked is not None and (refresh == "once" or now - checked < refresh):  # type: ignore[operator]
        return None
    conn.execute(sa.update(t.programmes).where(p.programme_id == pid).values(audience_checked_at=now))
    text = programme.audience
    if trigger is not None:  # silent
        silence = f"days_since('last_order') >= {trigger.days}"
        text = f"({text}) and {silence}" if text else silence
    assert text is not None
    ids = matching_ids(conn, parse_segment(text), now=now)
    return enrol(conn, programme=programme, version=version, customer_ids=ids, now=now)


def trigger_events(conn: sa.Connection, trigger: Trigger, *, since: datetime,
                    until: datetime) -> dict[str, tuple[str, dict[str, Any]]]:
    """customer → (event key, detail) of the latest qualifying event in (since, until]."""
    kind = trigger.event
    if kind == "order_placed":
        o = t.orders.c
        stmt = sa.select(o.customer_id, o.order_id, o.ordered_at).where(
            o.ordered_at > since, o.ordered_at <= until, o.status.not_in(EXCLUDED_ORDER_STATUSES),
        ).order_by(o.ordered_at)
        return {cid: (f"order:{oid}", {"event": kind, "order_id": oid, "at": at.isoformat()})
                for cid, oid, at in conn.execute(stmt)}
    if kind == "subscription_cancelled":
        s = t.subscriptions.c
        stmt = sa.select(s.customer_id, s.subscription_id, s.cancelled_at, s.cancel_reason).where(
            s.cancelled_at > since, s.cancelled_at <= until).order_by(s.cancelled_at)
        return {cid: (f"subscription:{sid}:{at.isoformat()}",
                      {"event": kind, "subscription_id": sid, "at": at.isoformat(), "reason": reason})
                for cid, sid, at, reason in conn.execute(stmt)}
    if kind in ("cart_abandoned", "event"):
        ev = t.events.c
        wanted = trigger.type if kind == "event" else "cart_abandon"  # the canonical event type
        stmt = sa.select(ev.customer_id, ev.event_id, ev.occurred_at).where(
            ev.type == wanted, ev.occurred_at > since, ev.occurred_at <= until).order_by(ev.occurred_at)
        return {cid: (f"event:{eid}", {"event": wanted, "event_id": eid, "at": at.isoformat()})
                for cid, eid, at in conn.execute(stmt)}
    st = t.stage_transitions.c
    if kind == "reactivated":
        to, from_ = ["reactivated"], None
    else:
        to, from_ = trigger.to, trigger.from_
    cond = [st.as_of > since, st.as_of <= until, st.to_stage.in_(to or [])]
    if from_:
        cond.append(st.from_stage.in_(from_))
    stmt = sa.select(st.customer_id, st.id, st.from_stage, st.to_stage, st.as_of).where(*cond).order_by(st.as_of)
    return {cid: (f"stage:{tid}", {"event": kind, "from": fr, "to": to_stage, "at": at.isoformat()})
            for cid, tid, fr, to_stage, at in conn.execute(stmt)}


def _new_keys(conn: sa.Connection, programme_id: str,
              events: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Drop events that already enrolled someone (the overlap re-reads them)."""
    e = t.enrolments.c
    keys = [key for key, _ in events.values()]
    seen: set[str] = set()
    for i in range(0, len(keys), 2_000):
        seen.update(conn.scalars(sa.select(e.trigger_key).where(e.programme_id == programme_id,
                                                                e.trigger_key.in_(keys[i:i + 2_000]))))
    return {cid: ev for cid, ev in events.items() if ev[0] not in seen}


def _free(now: datetime) -> sa.ColumnElement[bool]:
    e = t.enrolments.c
    return sa.or_(e.lease_until.is_(None), e.lease_until <= now)  # as the claim: a lease ends at lease_until


def _wake(conn: sa.Connection, now: datetime) -> int:
    """Waits `until` an event end as soon as the event happened (human engagement only)."""
    e, g, o = t.enrolments.c, t.engagements.c, t.orders.c
    woken = 0
    for kind in ("open", "click", "reply"):
        happened = sa.exists().where(g.enrolment_id == e.enrolment_id, g.kind == kind, g.machine.is_(False),
                                     g.at >= e.step_started_at, g.at <= now)
        woken += conn.execute(sa.update(t.enrolments).where(
            e.wake_on.is_not(None), e.wake_on.contains(kind), e.state == "active", e.due_at > now, _free(now),
            happened).values(due_at=now)).rowcount
    bought = sa.exists().where(o.customer_id == e.customer_id, o.ordered_at >= e.step_started_at,
                               o.ordered_at <= now, o.status.not_in(EXCLUDED_ORDER_STATUSES))
    woken += conn.execute(sa.update(t.enrolments).where(
        e.wake_on.is_not(None), e.wake_on.contains("purchase"), e.state == "active", e.due_at > now, _free(now),
        bought).values(due_at=now)).rowcount
    return woken


def _sweep_exits(conn: sa.Connection, programme: Programme, now: datetime) -> int:
    """End waiting enrolments whose customer bought (purchase exit), unsubscribed or complained, without waiting for
    their next step (the step machine would find the same exit then; this ends them at once)."""
    e, o, c, s = t.enrolments.c, t.orders.c, t.customers.c, t.suppressions.c
    ended = 0
    if "purchase" in programme.exits:
        bought = sa.exists().where(o.customer_id == e.customer_id, o.ordered_at >= e.entered_at, o.ordered_at <= now,
                                   o.status.not_in(EXCLUDED_ORDER_STATUSES))
        ended += _exit_where(conn, programme, now, bought, EXIT_OUTCOMES["purchase"])
    for kind in ("unsubscribe", "complaint"):
        if kind in programme.exits:
            left = sa.exists().where(c.customer_id == e.customer_id, s.channel == "email",
                                     s.address_key == c.email_key, s.basis == kind)
            ended += _exit_where(conn, programme, now, left, EXIT_OUTCOMES[kind])
    return ended


def _exit_where(conn: sa.Connection, programme: Programme, now: datetime, condition: sa.ColumnElement[bool],
                outcome: str) -> int:
    e = t.enrolments.c
    return conn.execute(sa.update(t.enrolments).where(
        e.programme_id == programme.programme, e.state == "active", _free(now), condition).values(
        state="exited", outcome=outcome, step=None, due_at=None, wake_on=None, finished_at=now)).rowcount
