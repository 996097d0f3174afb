"""Per-customer features as of a date, written once as Ibis expressions (DuckDB by default, Spark at scale).

Point in time: every feature reads only rows at or before `as_of` (orders placed, events that happened,
feedback opened, subscriptions started or cancelled by then); current status columns that describe "now"
are not used. Durations are whole days between UTC dates, because that arithmetic agrees across backends.
Machine-made email opens and clicks (`events.machine`) are not activity.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from winback.domain.entities import EXCLUDED_ORDER_STATUSES

RECENT_DAYS = 30  # "last 30 days"
BASELINE_DAYS = 90  # "the prior 90 days", the customer's own baseline
ACTIVITY = ("page_view", "app_session", "login", "feature_use", "email_open", "email_click", "sms_click",
            "cart_abandon", "search")


def _ts(value: datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type="timestamp('UTC')")


def _days(later: ir.Value, earlier: ir.Value) -> ir.IntegerValue:
    """Whole days between the (UTC) dates: the same on every backend (epoch seconds are fractional on
    DuckDB and whole on Spark)."""
    return later.date().delta(earlier.date(), unit="day")


def order_features(orders: ir.Table, *, as_of: datetime) -> ir.Table:
    """RFM, BTYD summary (frequency, recency, T in days, monetary value), cadence and how overdue."""
    at = _ts(as_of)
    valid = orders.filter(orders.ordered_at <= at, ~orders.status.isin(EXCLUDED_ORDER_STATUSES))
    # Several orders on one (UTC) day are one purchase occasion, as in the BTYD papers.
    occasions = valid.group_by(customer_id=valid.customer_id, day=valid.ordered_at.date()).aggregate(
        value=valid.amount.sum(), at=valid.ordered_at.min())
    occasions = occasions.mutate(day_at=occasions.day.cast("timestamp('UTC')"))
    window = ibis.window(group_by=occasions.customer_id, order_by=occasions.day)
    occasions = occasions.mutate(seq=ibis.row_number().over(window),
                                 previous=occasions.day_at.lag().over(window))
    totals = valid.group_by(customer_id=valid.customer_id).aggregate(
        n_orders=valid.count(), revenue=valid.amount.sum(), first_order_at=valid.ordered_at.min(),
        currency=valid.currency.max(),  # customers rarely mix currencies; max() is deterministic everywhere
        last_order_at=valid.ordered_at.max(),
        orders_last_90=valid.count(where=valid.ordered_at > at - ibis.interval(days=90)),
        orders_prior_180=valid.count(where=(valid.ordered_at <= at - ibis.interval(days=90))
                                     & (valid.ordered_at > at - ibis.interval(days=270))),
    )
    occ = occasions.group_by(customer_id=occasions.customer_id).aggregate(
        occasions=occasions.count(), first_day=occasions.day_at.min(), last_day=occasions.day_at.max(),
        repeat_value=occasions.value.sum(where=occasions.seq > 0),
        # the previous occasion's day is largest on the last occasion: the silence the last order ended
        before_last=occasions.previous.max(),
    )
    out = _left_join(totals.join(occ, "customer_id"), _median_gaps(occasions))
    frequency = out.occasions - 1
    return out.select(
        "customer_id", "n_orders", "revenue", "currency", "first_order_at", "last_order_at", "orders_last_90",
        "orders_prior_180",
        frequency=frequency,
        recency_days=_days(out.last_day, out.first_day),
        t_days=_days(at, out.first_day),
        days_since_last_order=_days(at, out.last_order_at),
        monetary_value=ibis.ifelse(frequency > 0, out.repeat_value / frequency, 0.0),
        avg_order_value=out.revenue / out.n_orders,
        cadence_days=out.cadence_days,
        gap_before_last_days=_days(out.last_day, out.before_last),
        overdue_ratio=ibis.ifelse(out.cadence_days > 0, _days(at, out.last_order_at) / out.cadence_days, None),
    )


def _median_gaps(occasions: ir.Table) -> ir.Table:
    """The median gap between a customer's purchase occasions (exact, with window functions that every
    backend has; Spark's median is approximate)."""
    gaps = occasions.filter(occasions.previous.notnull())
    gaps = gaps.mutate(gap=_days(gaps.day_at, gaps.previous))
    window = ibis.window(group_by=gaps.customer_id, order_by=gaps.gap)
    counted = ibis.window(group_by=gaps.customer_id)
    gaps = gaps.mutate(rank=ibis.row_number().over(window), n=gaps.count().over(counted))
    low = ((gaps.n - 1) / 2).floor().cast("int64")
    high = ((gaps.n - 1) / 2).ceil().cast("int64")
    middle = gaps.filter((gaps.rank == low) | (gaps.rank == high))
    return middle.group_by(customer_id=middle.customer_id).aggregate(cadence_days=middle.gap.mean())


def activity_features(events: ir.Table, *, as_of: datetime) -> ir.Table:
    """Counts per activity type in the last 30 days and in the 90 days before them, and last times."""
    at = _ts(as_of)
    recent_start = at - ibis.interval(days=RECENT_DAYS)
    baseline_start = recent_start - ibis.interval(days=BASELINE_DAYS)
    human = events.filter(events.occurred_at <= at, ~events.machine)
    metrics = {}
    for kind in ACTIVITY:
        of_kind = human.type == kind
        metrics[f"{kind}_30"] = human.count(where=of_kind & (human.occurred_at > recent_start))
        metrics[f"{kind}_prior_90"] = human.count(
            where=of_kind & (human.occurred_at > baseline_start) & (human.occurred_at <= recent_start))
    email = human.type.isin(("email_open", "email_click"))
    app = human.type.isin(("app_session", "login", "feature_use"))
    metrics["last_activity_at"] = human.occurred_at.max(where=~email)
    metrics["last_email_engagement_at"] = human.occurred_at.max(where=email)
    metrics["last_app_at"] = human.occurred_at.max(where=app)
    metrics["last_web_at"] = human.occurred_at.max(where=human.type == "page_view")
    metrics["downgrades_90"] = human.count(where=(human.type == "plan_downgrade")
                                           & (human.occurred_at > at - ibis.interval(days=90)))
    metrics["payment_failures_90"] = human.count(where=(human.type == "payment_failed")
                                                 & (human.occurred_at > at - ibis.interval(days=90)))
    human_activity = human.group_by(customer_id=human.customer_id).aggregate(**metrics)
    machine = events.filter(events.occurred_at <= at, events.machine, events.occurred_at > recent_start)
    machine_opens = machine.group_by(customer_id=machine.customer_id).aggregate(machine_opens_30=machine.count())
    return _left_join(human_activity, machine_opens)


def feedback_features(feedback: ir.Table, *, as_of: datetime) -> ir.Table:
    """Complaints, low ratings, unresolved tickets (as of the date) and the last negative experience."""
    at = _ts(as_of)
    seen = feedback.filter(feedback.opened_at <= at)
    recent = seen.opened_at > at - ibis.interval(days=90)
    low = seen.rating.notnull() & (seen.rating <= 2)
    ticket = seen.kind == "ticket"
    unresolved = ticket & ibis.ifelse(seen.resolved_at.isnull(), ~seen.status.isin(("resolved", "closed")),
                                      seen.resolved_at > at)
    negative = (seen.kind == "complaint") | low | unresolved
    return seen.group_by(customer_id=seen.customer_id).aggregate(
        complaints_90=seen.count(where=(seen.kind == "complaint") & recent),
        low_ratings_90=seen.count(where=low & recent),
        unresolved_tickets=seen.count(where=unresolved),
        oldest_unresolved_days=_days(at, seen.opened_at.min(where=unresolved)),
        last_negative_at=seen.opened_at.max(where=negative),
        feedback_count=seen.count(),
    )


def subscription_features(subscriptions: ir.Table, *, as_of: datetime) -> ir.Table:
    """Subscription state as of the date: active, cancelled (and when), paused."""
    at = _ts(as_of)
    started = subscriptions.filter(subscriptions.started_at <= at)
    cancelled = started.cancelled_at.notnull() & (started.cancelled_at <= at)
    paused = started.paused_until.notnull() & (started.paused_until > at) & ~cancelled
    return started.group_by(customer_id=started.customer_id).aggregate(
        subscriptions=started.count(),
        active_subscriptions=started.count(where=~cancelled),
        cancelled_subscriptions=started.count(where=cancelled),
        last_cancelled_at=started.cancelled_at.max(where=cancelled),
        paused_subscriptions=started.count(where=paused),
    )


COUNT_COLUMNS_FILLED_WITH_ZERO = (
    "n_orders", "revenue", "orders_last_90", "orders_prior_180", "frequency", "monetary_value",
    *(f"{k}_{w}" for k in ACTIVITY for w in ("30", "prior_90")),
    "downgrades_90", "payment_failures_90", "machine_opens_30",
    "complaints_90", "low_ratings_90", "unresolved_tickets", "feedback_count",
    "subscriptions", "active_subscriptions", "cancelled_subscriptions", "paused_subscriptions",
)


def _left_join(left: ir.Table, right: ir.Table) -> ir.Table:
    joined = left.left_join(right, left.customer_id == right.customer_id)
    return joined.select(left, *[right[c] for c in right.columns if c != "customer_id"])


def customer_features(tables: dict[str, ir.Table], *, as_of: datetime) -> ir.Table:
    """One row per customer known at `as_of` (signed up by then, or with an order by then)."""
    at = _ts(as_of)
    customers = tables["customers"]
    orders = order_features(tables["orders"], as_of=as_of)
    known = customers.filter(customers.created_at.isnull() | (customers.created_at <= at))
    base = known.select("customer_id", "created_at").union(
        customers.join(orders.select("customer_id"), "customer_id").select("customer_id", "created_at")
    ).distinct()
    out = base
    for part in (orders, activity_features(tables["events"], as_of=as_of),
                 feedback_features(tables["feedback"], as_of=as_of),
                 subscription_features(tables["subscriptions"], as_of=as_of)):
        out = _left_join(out, part)
    fills = {c: out[c].fill_null(0) for c in COUNT_COLUMNS_FILLED_WITH_ZERO}
    last_seen = ibis.greatest(ibis.coalesce(out.last_order_at, out.last_activity_at),
                              ibis.coalesce(out.last_activity_at, out.last_order_at))
    return out.mutate(
        **fills,
        tenure_days=_days(at, ibis.coalesce(out.created_at, out.first_order_at)),
        days_since_last_activity=_days(at, last_seen),
    ).order_by("customer_id")
