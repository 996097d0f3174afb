"""The store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create and evolve them."""

from __future__ import annotations

import sqlalchemy as sa

from winback.store.types import JSONType, Money, OptionalJSON, UTCDateTime

naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=naming)

ID = sa.String(200)
HASH = sa.String(32)


def _audit() -> list[sa.Column]:
    return [
        sa.Column("row_hash", HASH, nullable=False),
        sa.Column("import_id", sa.String(32)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


customers = sa.Table(
    "customers", metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("email_key", sa.String(320), unique=True),
    sa.Column("phone", sa.String(40)),
    sa.Column("name", sa.String(300)),
    sa.Column("locale", sa.String(35)),
    sa.Column("time_zone", sa.String(64)),
    sa.Column("created_at", UTCDateTime()),
    sa.Column("attributes", JSONType),
    *_audit(),
)

products = sa.Table(
    "products", metadata,
    sa.Column("sku", ID, primary_key=True),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("category", sa.String(200)),
    sa.Column("price", Money()),
    sa.Column("launched_at", UTCDateTime()),
    *_audit(),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("order_id", ID, primary_key=True),
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), nullable=False),
    sa.Column("ordered_at", UTCDateTime(), nullable=False),
    sa.Column("amount", Money(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("coupon_code", sa.String(100)),
    sa.Column("channel", sa.String(100)),
    *_audit(),
    sa.Index("ix_orders_customer_time", "customer_id", "ordered_at"),
    sa.Index("ix_orders_updated_at", "updated_at"),  # what changed lately: coupon redemption in each worker pass
)

order_items = sa.Table(
    "order_items", metadata,
    sa.Column("order_id", ID, sa.ForeignKey("orders.order_id"), primary_key=True),
    sa.Column("sku", ID, sa.ForeignKey("products.sku"), primary_key=True, index=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", Money()),
    *_audit(),
)

events = sa.Table(
    "events", metadata,
    sa.Column("event_id", ID, primary_key=True),
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("properties", JSONType),
    *_audit(),
    sa.Index("ix_events_customer_time", "customer_id", "occurred_at"),
)

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("feedback_id", ID, primary_key=True),
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("rating", sa.Integer),
    sa.Column("text", sa.Text),
    sa.Column("status", sa.String(20)),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("resolved_at", UTCDateTime()),
    sa.Column("category", sa.String(200)),
    *_audit(),
)

subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("subscription_id", ID, primary_key=True),
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), nullable=False, index=True),
    sa.Column("plan", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("amount", Money()),
    sa.Column("currency", sa.String(3)),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("renews_at", UTCDateTime()),
    sa.Column("cancelled_at", UTCDateTime()),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("paused_until", UTCDateTime()),
    *_audit(),
)

consents = sa.Table(
    "consents", metadata,
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), primary_key=True),
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("basis", sa.String(30)),
    sa.Column("source", sa.String(200)),
    sa.Column("at", UTCDateTime()),
    *_audit(),
)

# Every consent change that was asked for, including the ones refused because the address is suppressed.
consent_history = sa.Table(
    "consent_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", ID, nullable=False, index=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("basis", sa.String(30)),
    sa.Column("source", sa.String(200)),
    sa.Column("at", UTCDateTime()),
    sa.Column("outcome", sa.String(30), nullable=False),  # applied | refused_suppressed
    sa.Column("note", sa.Text),
    sa.Column("import_id", sa.String(32)),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
)

suppressions = sa.Table(
    "suppressions", metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("address_key", sa.String(320), primary_key=True),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("basis", sa.String(30), nullable=False),
    sa.Column("source", sa.String(200)),
    sa.Column("at", UTCDateTime()),
    *_audit(),
)

imports = sa.Table(
    "imports", metadata,
    sa.Column("import_id", sa.String(32), primary_key=True),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("file_sha256", sa.String(64)),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("status", sa.String(20), nullable=False),  # running | completed | failed
    sa.Column("rows", sa.Integer, nullable=False, default=0),
    sa.Column("inserted", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("quarantined", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text),
)

quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("import_id", sa.String(32), sa.ForeignKey("imports.import_id"), nullable=False, index=True),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("field", sa.String(200)),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("problems", JSONType, nullable=False),
    sa.Column("raw", JSONType, nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
)

ENTITY_TABLES: dict[str, sa.Table] = {
    t.name: t
    for t in (customers, products, orders, order_items, events, feedback, subscriptions, consents, suppressions)
}

# What `winback status` counts, in this order.
COUNTED_TABLES: tuple[sa.Table, ...] = (
    customers, orders, order_items, products, events, feedback, subscriptions, consents, suppressions,
    consent_history, imports, quarantine,
)  # the scoring tables are appended below

# --- scoring -----------------------------------------------------------------------------------------------------

score_runs = sa.Table(
    "score_runs", metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("as_of", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("rules", JSONType, nullable=False),
    sa.Column("summary", JSONType),
)

_PROFILE_COLUMNS = (
    ("stage", sa.String(20)),
    ("silent_days", sa.Float),
    ("rfm_r", sa.Integer), ("rfm_f", sa.Integer), ("rfm_m", sa.Integer),
    ("rfm_score", sa.String(3)), ("rfm_segment", sa.String(40)),
    ("n_orders", sa.Integer), ("revenue", sa.Float), ("frequency", sa.Integer), ("recency_days", sa.Float),
    ("t_days", sa.Float), ("monetary_value", sa.Float), ("days_since_last_order", sa.Float),
    ("cadence_days", sa.Float), ("overdue_ratio", sa.Float),
    ("p_alive", sa.Float), ("p_churn", sa.Float), ("expected_purchases_90", sa.Float),
    ("clv", sa.Float), ("value_at_risk", sa.Float), ("value_tier", sa.String(20)),
    ("churn_reason", sa.String(40)), ("churn_reason_confidence", sa.Float),
    ("dormancy_type", sa.String(40)),
)


def _profile_columns() -> list[sa.Column]:
    return [sa.Column(name, typ) for name, typ in _PROFILE_COLUMNS]


# The latest scores of each customer; one row per customer, replaced by every `winback score`.
profiles = sa.Table(
    "profiles", metadata,
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), primary_key=True),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("as_of", UTCDateTime(), nullable=False),
    sa.Column("stage_since", UTCDateTime()),
    *_profile_columns(),
    sa.Column("signals", JSONType),
    sa.Column("explanation", JSONType),
)
# The dashboard's customer list: most value at risk first, all or within a stage (docs/dashboard.md). The migration
# makes them `DESC NULLS LAST` on PostgreSQL, the lists' order; SQLite sorts NULL lowest, so DESC is that order there.
sa.Index("ix_profiles_value_at_risk", profiles.c.value_at_risk.desc(), profiles.c.customer_id)
sa.Index("ix_profiles_stage_value_at_risk", profiles.c.stage, profiles.c.value_at_risk.desc(), profiles.c.customer_id)

# Every run's scores, so stages, risk and value can be followed over time.
profile_history = sa.Table(
    "profile_history", metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("as_of", UTCDateTime(), nullable=False),
    *_profile_columns(),
    sa.Index("ix_profile_history_customer", "customer_id", "as_of"),
)

stage_transitions = sa.Table(
    "stage_transitions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("as_of", UTCDateTime(), nullable=False),
    sa.Column("from_stage", sa.String(20)),
    sa.Column("to_stage", sa.String(20), nullable=False),
    sa.Index("ix_stage_transitions_customer", "customer_id", "as_of"),
)

COUNTED_TABLES += (profiles, stage_transitions, score_runs)

# --- programmes and the engine ------------------------------------------------------------------------------------

# A programme is a name; what it does lives in its versions. Running enrolments keep the version they entered with.
programmes = sa.Table(
    "programmes", metadata,
    sa.Column("programme_id", ID, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),  # the version new enrolments get
    sa.Column("state", sa.String(20), nullable=False),  # draft | running | paused | stopped
    sa.Column("state_reason", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime()),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("trigger_watermark", UTCDateTime()),  # trigger events up to here have been turned into enrolments
    sa.Column("audience_checked_at", UTCDateTime()),
)

programme_versions = sa.Table(
    "programme_versions", metadata,
    sa.Column("programme_id", ID, sa.ForeignKey("programmes.programme_id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),  # the YAML as written
    sa.Column("definition", JSONType, nullable=False),  # the validated, normalised definition
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# One row per (programme, customer, cycle): the customer's position in the programme and who may act on it.
enrolments = sa.Table(
    "enrolments", metadata,
    sa.Column("enrolment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("programme_id", ID, sa.ForeignKey("programmes.programme_id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False),  # 1 for the first entry, 2 for a re-entry, …
    sa.Column("holdout", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # active | holdout | completed | exited | stopped
    sa.Column("outcome", sa.String(40)),  # why it ended: completed, purchase, unsubscribe, goal, sunset, …
    sa.Column("step", sa.String(100)),  # the step to run next (null once ended)
    sa.Column("due_at", UTCDateTime()),  # when that step is due (null once ended)
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # tries of the current step
    sa.Column("step_started_at", UTCDateTime()),  # when the current step (a wait, say) began
    sa.Column("wake_on", sa.String(60)),  # a wait that ends early on these events: "click,purchase"
    sa.Column("entered_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime()),
    sa.Column("trigger", OptionalJSON),  # what brought the customer in (trigger kind, event id, time)
    sa.Column("trigger_key", sa.String(300)),  # the triggering event's key: one enrolment per event
    # The claim: a worker owns the row until lease_until; every claim increments fence, and a worker's writes
    # carry the fence it claimed with, so a stalled worker cannot record over a newer owner.
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", UTCDateTime()),
    sa.Column("fence", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("programme_id", "customer_id", "cycle", name="uq_enrolments_programme_customer_cycle"),
    sa.UniqueConstraint("programme_id", "trigger_key", name="uq_enrolments_programme_trigger_key"),
    sa.Index("ix_enrolments_due", "due_at", sqlite_where=sa.text("due_at IS NOT NULL"),
             postgresql_where=sa.text("due_at IS NOT NULL")),
    sa.Index("ix_enrolments_customer", "customer_id"),
)

# The send ledger: what happened at each (enrolment, step) that acts — sends, tasks, moves, skips, ends.
ledger = sa.Table(
    "ledger", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("enrolment_id", sa.Integer, sa.ForeignKey("enrolments.enrolment_id"), nullable=False),
    sa.Column("step", sa.String(100), nullable=False),
    sa.Column("programme_id", ID, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # send | branch | task | move | end | stop (programme stopped)
    sa.Column("channel", sa.String(20)),
    sa.Column("variant", sa.String(60)),
    sa.Column("address", sa.String(320)),
    sa.Column("message_id", sa.String(255)),
    # sending (handed to the transport, outcome not yet recorded) | sent | soft_failed (will retry) | failed |
    # unknown (the transport could not tell) | skipped | done
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(60)),
    sa.Column("detail", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fence", sa.Integer, nullable=False),
    # Handed to the transport again after a crash or lost reply left the first hand-off's outcome unknown.
    sa.Column("possible_duplicate", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("enrolment_id", "step", name="uq_ledger_enrolment_step"),
    sa.Index("ix_ledger_customer_time", "customer_id", "created_at"),
    sa.Index("ix_ledger_programme_state", "programme_id", "state"),
)

# What recipients did with messages: written by tracking, bounce processing and simulations; read by branches and
# exits. `machine` marks opens and clicks made by privacy proxies and scanners, which never count as engagement.
engagements = sa.Table(
    "engagements", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("enrolment_id", sa.Integer),
    sa.Column("step", sa.String(100)),
    sa.Column("message_id", sa.String(255)),
    sa.Column("kind", sa.String(20), nullable=False),  # open | click | reply | unsubscribe | complaint | bounce
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("machine", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.String(100)),
    sa.Column("detail", OptionalJSON),
    sa.Index("ix_engagements_enrolment", "enrolment_id", "kind"),
    sa.Index("ix_engagements_customer_time", "customer_id", "at"),
)

customer_tags = sa.Table(
    "customer_tags", metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("tag", sa.String(100), primary_key=True),
    sa.Column("added_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.String(200)),
)

# Lists a programme moves customers to (a long-term nurture list after a sunset, …).
list_members = sa.Table(
    "list_members", metadata,
    sa.Column("list_name", sa.String(100), primary_key=True),
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("added_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.String(200)),
    sa.Index("ix_list_members_customer", "customer_id"),
)

# Work for people: an account manager's call, with why and by when.
tasks = sa.Table(
    "tasks", metadata,
    sa.Column("task_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("enrolment_id", sa.Integer, sa.ForeignKey("enrolments.enrolment_id")),
    sa.Column("step", sa.String(100)),
    sa.Column("programme_id", ID),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("assignee", sa.String(200)),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # open | done | cancelled
    sa.Column("due_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("detail", OptionalJSON),
    sa.UniqueConstraint("enrolment_id", "step", name="uq_tasks_enrolment_step"),
    sa.Index("ix_tasks_state_due", "state", "due_at"),
    sa.Index("ix_tasks_customer", "customer_id"),
)

COUNTED_TABLES += (programmes, enrolments, ledger, engagements, tasks, list_members, customer_tags)

# --- messaging --------------------------------------------------------------------------------------------------

# Single-use coupon codes. A code is issued once per (enrolment, step) — a retried send reuses it — either from the
# programme's pre-generated pool (state available → issued) or made at render time; an order carrying the code
# redeems it.
coupons = sa.Table(
    "coupons", metadata,
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("programme_id", ID, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # percent | amount | free_shipping
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # available | issued | redeemed | expired | void
    sa.Column("customer_id", ID),
    sa.Column("enrolment_id", sa.Integer),
    sa.Column("step", sa.String(100)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("issued_at", UTCDateTime()),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("redeemed_at", UTCDateTime()),
    sa.Column("order_id", ID),
    sa.UniqueConstraint("enrolment_id", "step", name="uq_coupons_enrolment_step"),
    sa.Index("ix_coupons_programme_state", "programme_id", "state"),
)

# Things an operator must look at: a sender-reputation block (5.7.x), a complaint rate over its limit …
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("scope", sa.String(320)),  # a sending domain, a programme, a recipient domain
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("detail", OptionalJSON),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("acknowledged_at", UTCDateTime()),
    sa.Index("ix_alerts_kind_time", "kind", "created_at"),
)

# Every inbound message (bounce, complaint, auto-reply, anything else) read from a mailbox or a provider webhook,
# once: processing is idempotent by (source, source_key); what cannot be understood is kept for review.
inbound_messages = sa.Table(
    "inbound_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False),  # maildir:PATH, imap://…, webhook:PROVIDER
    sa.Column("source_key", sa.String(300), nullable=False),  # file name, IMAP UID, provider event id, or a hash
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # dsn | arf | auto_reply | other | malformed
    sa.Column("status", sa.String(20), nullable=False),  # processed | ignored | quarantined
    sa.Column("reason", sa.Text),
    sa.Column("message_id", sa.String(255)),  # the original message's Message-ID, when found
    sa.Column("detail", OptionalJSON),
    sa.Column("raw", sa.LargeBinary),  # kept (capped) for quarantined messages only
    sa.UniqueConstraint("source", "source_key", name="uq_inbound_messages_source_key"),
)

# Soft bounces in a row per address: more than the limit suppresses it.
address_bounces = sa.Table(
    "address_bounces", metadata,
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("address_key", sa.String(320), primary_key=True),
    sa.Column("consecutive_soft", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_soft_at", UTCDateTime()),
    sa.Column("last_hard_at", UTCDateTime()),
    sa.Column("last_code", sa.String(20)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

COUNTED_TABLES += (coupons, alerts, inbound_messages)

# --- tracking ---------------------------------------------------------------------------------------------------

# The links of each message as rendered: a click token names (enrolment, step, link), and the tracking service
# redirects only to a URL recorded here. Written before the message is handed over; a retry that renders the same
# URL again finds its row (link_key is a hash of the URL), a changed URL adds one.
message_links = sa.Table(
    "message_links", metadata,
    sa.Column("enrolment_id", sa.Integer, primary_key=True),
    sa.Column("step", sa.String(100), primary_key=True),
    sa.Column("link_key", sa.String(16), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("programme_id", ID, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Keys for servers calling the real-time API: the secret is shown once; only its SHA-256 is stored.
api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),  # the public part, printed in the key before its secret
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", OptionalJSON),  # null = every scope
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
)

# What a customer chose in the preference centre.
customer_preferences = sa.Table(
    "customer_preferences", metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("topics", OptionalJSON),  # list of topic names they want; null = all
    sa.Column("frequency", sa.String(20)),  # weekly | monthly | null (no limit of their own)
    sa.Column("paused_until", UTCDateTime()),
    sa.Column("channels", OptionalJSON),  # list of channels they accept; null = all
    sa.Column("language", sa.String(20)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("source", sa.String(200)),
)

# Requests to the tracking service that were refused (bad token, unknown link …), counted so that every request is
# accounted for; the reason is kept here, never shown to the caller.
tracking_rejects = sa.Table(
    "tracking_rejects", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("route", sa.String(20), nullable=False),  # open | click | unsubscribe | preferences | survey | view
    sa.Column("reason", sa.String(60), nullable=False),
    sa.Column("detail", OptionalJSON),
    sa.Index("ix_tracking_rejects_at", "at"),
)

COUNTED_TABLES += (message_links, api_keys, customer_preferences, tracking_rejects)

# --- people -------------------------------------------------------------------------------------------------------

# The people who use the dashboard and the REST API, with one role each (docs/users.md).
users = sa.Table(
    "users", metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # lower-cased
    sa.Column("name", sa.String(200)),
    sa.Column("role", sa.String(20), nullable=False),  # admin | marketer | account_manager | viewer
    sa.Column("password_hash", sa.String(200), nullable=False),  # argon2id, with its parameters
    sa.Column("language", sa.String(10)),  # zh | en (null: the browser's)
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_login_at", UTCDateTime()),
    sa.Column("disabled_at", UTCDateTime()),
)

# Dashboard sessions: the cookie carries a random token, only its SHA-256 is stored; each has its CSRF token.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(300)),
    sa.Index("ix_sessions_user", "user_id"),
)

COUNTED_TABLES += (users, sessions)

# --- experiments --------------------------------------------------------------------------------------------------

# The variant a send step's A/B test chose (`auto_winner`): every later customer of the step gets it.
experiment_winners = sa.Table(
    "experiment_winners", metadata,
    sa.Column("programme_id", ID, primary_key=True),
    sa.Column("step", sa.String(100), primary_key=True),
    sa.Column("variant", sa.String(60), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    sa.Column("p_value", sa.Float, nullable=False),
    sa.Column("detail", OptionalJSON),  # the arms (conversions, customers) at the decision, metric, alpha
)

COUNTED_TABLES += (experiment_winners,)
