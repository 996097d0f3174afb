"""A programme's funnel from plain rows: who was enrolled, held out, sent, delivered, opened, clicked, unsubscribed,
complained and bought — per step and variant — and which enrolments converted (docs/measurement.md#reports).

Everything here is pure: the store side (`winback.jobs.report`) reads the rows and passes them in.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from winback.domain.entities import EXCLUDED_ORDER_STATUSES

HANDED_OVER = ("sent", "unknown")  # states whose message left us (and costs money)
ENGAGEMENT_KINDS = ("open", "click", "reply", "unsubscribe", "complaint", "bounce")


class Enrolment(NamedTuple):
    enrolment_id: int
    customer_id: str
    holdout: bool
    entered_at: datetime


class LedgerRow(NamedTuple):
    enrolment_id: int
    step: str
    kind: str  # send | task | branch | …
    channel: str | None
    variant: str | None
    state: str  # sending | sent | soft_failed | failed | unknown | skipped | done
    reason: str | None
    created_at: datetime


class Engagement(NamedTuple):
    enrolment_id: int | None
    step: str | None
    kind: str  # open | click | reply | unsubscribe | complaint | bounce
    at: datetime
    machine: bool


class Order(NamedTuple):
    order_id: str
    customer_id: str
    ordered_at: datetime
    amount: float
    status: str
    coupon_code: str | None = None


class Outcome(NamedTuple):
    """What an enrolment bought within its conversion window."""

    orders: int
    revenue: float
    first_at: datetime


def is_purchase(status: str | None) -> bool:
    """An order that counts as a purchase (cancelled and refunded orders do not)."""
    return (status or "").lower() not in EXCLUDED_ORDER_STATUSES


def outcomes(enrolments: Iterable[Enrolment], orders: Iterable[Order], *, window: timedelta,
             as_of: datetime) -> dict[int, Outcome]:
    """Per converting enrolment, its purchases after `entered_at` and within `window` of it (and before `as_of`).

    Enrolments without such an order are absent. The same rule for treated and holdout, so the comparison is fair.
    """
    by_customer: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for o in orders:
        if is_purchase(o.status) and o.ordered_at <= as_of:
            by_customer[o.customer_id].append((o.ordered_at, float(o.amount)))
    times: dict[str, list[datetime]] = {}
    for cid, rows in by_customer.items():
        rows.sort(key=lambda r: r[0])
        times[cid] = [r[0] for r in rows]
    out: dict[int, Outcome] = {}
    for e in enrolments:
        rows = by_customer.get(e.customer_id)
        if not rows:
            continue
        end = min(e.entered_at + window, as_of)
        lo = bisect.bisect_right(times[e.customer_id], e.entered_at)
        hi = bisect.bisect_right(times[e.customer_id], end)
        if hi > lo:
            hits = rows[lo:hi]
            out[e.enrolment_id] = Outcome(len(hits), sum(a for _, a in hits), hits[0][0])
    return out


_COUNTS = ("recipients", "sent", "unknown", "failed", "skipped", "bounced", "delivered", "opens", "clicks",
           "machine_opens", "machine_clicks", "replies", "unsubscribes", "complaints", "conversions")


def _blank(step: str, variant: str | None, channel: str | None) -> dict[str, Any]:
    return {"step": step, "variant": variant, "channel": channel, **{k: 0 for k in _COUNTS}, "revenue": 0.0}


def funnel(sends: Iterable[LedgerRow], engagements: Iterable[Engagement], outcome: Mapping[int, Outcome], *,
           step_order: Sequence[str] = (), include_machine: bool = False) -> list[dict[str, Any]]:
    """One row per send step (variant None: all of the step) and one per variant of a step that has variants.

    Counts are of enrolments: `opens` is how many recipients opened at least once (human opens only unless
    `include_machine`), `conversions` how many recipients converted within the window, `win_back_rate` =
    conversions / sent. `bounced` = hard bounces at hand-over plus bounce reports after it; `delivered` = sent −
    bounce reports.
    """
    per: dict[tuple[int, str], LedgerRow] = {}
    for row in sends:
        if row.kind == "send":
            per[(row.enrolment_id, row.step)] = row
    events: dict[tuple[int, str], set[str]] = defaultdict(set)
    for g in engagements:
        if g.enrolment_id is None or g.step is None:
            continue
        kind = g.kind
        if g.machine and kind in ("open", "click"):
            events[(g.enrolment_id, g.step)].add("machine_" + kind)
            if not include_machine:
                continue
        events[(g.enrolment_id, g.step)].add(kind)
    rows: dict[tuple[str, str | None], dict[str, Any]] = {}
    for (eid, step), led in per.items():
        keys = [(step, None)] + ([(step, led.variant)] if led.variant else [])
        seen = events.get((eid, step), set())
        for key in keys:
            row = rows.get(key)
            if row is None:
                row = rows[key] = _blank(step, key[1], led.channel)
            _count(row, led, seen, outcome.get(eid))
    order = {s: i for i, s in enumerate(step_order)}
    out = sorted(rows.values(), key=lambda r: (order.get(r["step"], len(order)), r["step"], r["variant"] or ""))
    for row in out:
        _rates(row)
    return out


_EVENT_COUNTS = {"open": "opens", "click": "clicks", "machine_open": "machine_opens", "machine_click": "machine_clicks",
                 "reply": "replies", "unsubscribe": "unsubscribes", "complaint": "complaints"}


def _count(row: dict[str, Any], led: LedgerRow, seen: set[str], won: Outcome | None) -> None:
    row["recipients"] += 1
    if led.state in ("sent", "unknown", "failed", "skipped"):
        row[led.state] += 1
    if led.state == "failed" and led.reason == "hard_bounce":
        row["bounced"] += 1
    if led.state not in HANDED_OVER:
        return
    if led.state == "sent":
        if "bounce" in seen:
            row["bounced"] += 1
        else:
            row["delivered"] += 1
    for kind, name in _EVENT_COUNTS.items():
        if kind in seen:
            row[name] += 1
    if won is not None:
        row["conversions"] += 1
        row["revenue"] += won.revenue


def _rates(row: dict[str, Any]) -> None:
    row["revenue"] = round(row["revenue"], 2)
    delivered = row["delivered"]
    row["open_rate"] = _ratio(row["opens"], delivered)
    row["click_rate"] = _ratio(row["clicks"], delivered)
    row["win_back_rate"] = _ratio(row["conversions"], row["sent"] + row["unknown"])


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 6) if b else None


def totals(enrolments: Sequence[Enrolment], sends: Iterable[LedgerRow], engagements: Iterable[Engagement],
           outcome: Mapping[int, Outcome], *, include_machine: bool = False) -> dict[str, Any]:
    """The programme as a whole: enrolled, holdout, treated and, per group, conversions, revenue and the win-back
    rate; messages and engagement over every step (counted once per enrolment)."""
    holdout = {e.enrolment_id for e in enrolments if e.holdout}
    sent = failed = bounced = 0
    reached: set[int] = set()
    for row in sends:
        if row.kind != "send":
            continue
        if row.state in HANDED_OVER:
            sent += 1
            reached.add(row.enrolment_id)
        elif row.state == "failed":
            failed += 1
            bounced += int(row.reason == "hard_bounce")
    seen: dict[str, set[int]] = defaultdict(set)
    bounce_reports: set[tuple[int, str | None]] = set()
    for g in engagements:
        if g.enrolment_id is None or (g.machine and not include_machine and g.kind in ("open", "click")):
            continue
        seen[g.kind].add(g.enrolment_id)
        if g.kind == "bounce":
            bounce_reports.add((g.enrolment_id, g.step))
    delivered = sent - len(bounce_reports)
    groups = {"treated": [e for e in enrolments if not e.holdout], "holdout": [e for e in enrolments if e.holdout]}
    out: dict[str, Any] = {"enrolled": len(enrolments), "holdout": len(holdout),
                           "treated": len(enrolments) - len(holdout), "reached": len(reached), "sent": sent,
                           "failed": failed, "bounced": bounced + len(bounce_reports), "delivered": max(delivered, 0)}
    for kind, name in _EVENT_COUNTS.items():
        if not kind.startswith("machine"):
            out[name] = len(seen.get(kind, set()) - holdout)
    for name, members in groups.items():
        won = [outcome[e.enrolment_id] for e in members if e.enrolment_id in outcome]
        out[f"{name}_conversions"] = len(won)
        out[f"{name}_revenue"] = round(sum(w.revenue for w in won), 2)
        out[f"{name}_win_back_rate"] = _ratio(len(won), len(members))
    return out
