"""Read-side queries over the store used by the fronts (counts, one customer's view)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.store import tables as t


def entity_counts(conn: sa.Connection) -> dict[str, int]:
    """Rows per table, keyed by the entity's name."""
    return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in t.COUNTED_TABLES}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(result: sa.CursorResult, drop: tuple[str, ...] = ("row_hash", "import_id", "updated_at")) -> list[dict]:
    return [{k: _plain(v) for k, v in row._mapping.items() if k not in drop} for row in result]


def customer_view(conn: sa.Connection, customer_id: str, *, recent: int = 10) -> dict[str, Any] | None:
    """One customer: profile, counts per source, totals and recent history (newest first)."""
    c = t.customers
    row = conn.execute(sa.select(c).where(c.c.customer_id == customer_id)).first()
    if row is None:
        return None
    profile = {k: _plain(v) for k, v in row._mapping.items() if k not in ("row_hash", "import_id", "email_key")}
    o = t.orders
    kept = (o.c.customer_id == customer_id, o.c.status.notin_(EXCLUDED_ORDER_STATUSES))
    totals = conn.execute(sa.select(sa.func.count(), sa.func.min(o.c.ordered_at), sa.func.max(o.c.ordered_at))
                          .where(*kept)).one()
    revenue = {cur: float(amount) for cur, amount in conn.execute(
        sa.select(o.c.currency, sa.func.sum(o.c.amount)).where(*kept).group_by(o.c.currency).order_by(o.c.currency))}
    counts = {
        table.name: conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.customer_id == customer_id)
        ).scalar_one()
        for table in (t.orders, t.events, t.feedback, t.subscriptions, t.consents)
    }
    first_at, last_at = totals[1], totals[2]
    suppression = None
    if row.email_key:
        s = t.suppressions
        hit = conn.execute(sa.select(s.c.basis, s.c.at, s.c.source)
                           .where(s.c.channel == "email", s.c.address_key == row.email_key)).first()
        suppression = {k: _plain(v) for k, v in hit._mapping.items()} if hit else None
    scores = conn.execute(sa.select(t.profiles).where(t.profiles.c.customer_id == customer_id)).first()
    st = t.stage_transitions
    moves = conn.execute(sa.select(st.c.as_of, st.c.from_stage, st.c.to_stage).where(st.c.customer_id == customer_id)
                         .order_by(st.c.as_of.desc(), st.c.id.desc()).limit(recent))
    return {
        "customer": profile,
        "profile": {k: _plain(v) for k, v in scores._mapping.items() if k != "customer_id"} if scores else None,
        "stage_history": _rows(moves, drop=()),
        "counts": counts,
        "totals": {
            "orders": totals[0],
            "revenue": revenue,
            "first_order_at": _plain(first_at),
            "last_order_at": _plain(last_at),
        },
        "email_suppression": suppression,
        "recent": {
            "orders": _rows(conn.execute(sa.select(o).where(o.c.customer_id == customer_id)
                                         .order_by(o.c.ordered_at.desc()).limit(recent))),
            "events": _rows(conn.execute(sa.select(t.events).where(t.events.c.customer_id == customer_id)
                                         .order_by(t.events.c.occurred_at.desc()).limit(recent))),
            "feedback": _rows(conn.execute(sa.select(t.feedback).where(t.feedback.c.customer_id == customer_id)
                                           .order_by(t.feedback.c.opened_at.desc()).limit(recent))),
            "subscriptions": _rows(conn.execute(sa.select(t.subscriptions)
                                                .where(t.subscriptions.c.customer_id == customer_id))),
            "consents": _rows(conn.execute(sa.select(t.consents).where(t.consents.c.customer_id == customer_id))),
            "consent_history": _rows(conn.execute(
                sa.select(t.consent_history).where(t.consent_history.c.customer_id == customer_id)
                .order_by(t.consent_history.c.id.desc()).limit(recent)), drop=("id",)),
        },
    }
