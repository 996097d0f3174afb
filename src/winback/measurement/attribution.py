"""Attribution: which programme, step and variant an order is credited to — the coupon it carried, else the last
human click before it. Shown beside the holdout lift, never instead of it: attribution credits orders that would
have happened anyway, only the holdout comparison measures what a programme added.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from winback.measurement.funnel import Order, is_purchase

CLICK_WINDOW = timedelta(days=7)


class Touch(NamedTuple):
    """A programme's touch on a customer: a redeemed coupon, or a click on a message."""

    programme_id: str
    step: str | None
    variant: str | None


class Click(NamedTuple):
    customer_id: str
    at: datetime
    programme_id: str
    step: str | None
    variant: str | None
    machine: bool = False


class Attributed(NamedTuple):
    order_id: str
    customer_id: str
    amount: float
    programme_id: str
    step: str | None
    variant: str | None
    method: str  # coupon | click


def attribute(orders: Iterable[Order], *, coupons: Mapping[str, Touch], clicks: Iterable[Click],
              window: timedelta = CLICK_WINDOW) -> list[Attributed]:
    """Each purchase credited to the programme whose coupon it redeemed (`coupons`: order id → touch), else to the
    last human click within `window` before it; orders with neither are not attributed. Machine clicks (scanners,
    privacy proxies) never count."""
    by_customer: dict[str, list[Click]] = defaultdict(list)
    for c in clicks:
        if not c.machine:
            by_customer[c.customer_id].append(c)
    times: dict[str, list[datetime]] = {}
    for cid, rows in by_customer.items():
        rows.sort(key=lambda c: c.at)
        times[cid] = [c.at for c in rows]
    out: list[Attributed] = []
    for o in orders:
        if not is_purchase(o.status):
            continue
        touch = coupons.get(o.order_id)
        if touch is not None:
            out.append(Attributed(o.order_id, o.customer_id, float(o.amount), *touch, "coupon"))
            continue
        rows = by_customer.get(o.customer_id)
        if not rows:
            continue
        i = bisect.bisect_right(times[o.customer_id], o.ordered_at) - 1
        if i >= 0 and o.ordered_at - rows[i].at <= window:
            c = rows[i]
            out.append(Attributed(o.order_id, o.customer_id, float(o.amount), c.programme_id, c.step, c.variant,
                                  "click"))
    return out


def summarise(attributed: Iterable[Attributed], *, programme_id: str | None = None) -> list[dict[str, Any]]:
    """Attributed orders and revenue per (programme, step, variant), by method; one programme's when given."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for a in attributed:
        if programme_id is not None and a.programme_id != programme_id:
            continue
        key = (a.programme_id, a.step or "", a.variant or "")
        row = rows.setdefault(key, {"programme": a.programme_id, "step": a.step, "variant": a.variant, "orders": 0,
                                    "revenue": 0.0, "coupon_orders": 0, "click_orders": 0})
        row["orders"] += 1
        row["revenue"] += a.amount
        row[f"{a.method}_orders"] += 1
    for row in rows.values():
        row["revenue"] = round(row["revenue"], 2)
    return [rows[k] for k in sorted(rows)]
