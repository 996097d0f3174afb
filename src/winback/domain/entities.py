"""The canonical data model: every entity winback ingests, its columns, and what each column accepts.

This module is the single source for the documented import columns (docs/data-model.md is generated
from it by `winback entities --markdown`) and for the validation in `winback.ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal[
    "id", "text", "email", "phone", "locale", "time_zone", "datetime", "decimal", "int", "enum",
    "currency", "json", "bool",
]


@dataclass(frozen=True)
class Column:
    """One importable column."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    future_allowed: bool = False
    choice_aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """A column that must name a row of another entity already in the store."""

    column: str
    entity: str


@dataclass(frozen=True)
class Entity:
    """An ingestable entity: its table, external key, columns, and where unknown columns go."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str
    extras_into: str | None = None
    references: tuple[Reference, ...] = ()
    derived_key: bool = False

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)


ORDER_STATUSES = ("placed", "paid", "shipped", "completed", "cancelled", "refunded", "partially_refunded")
EXCLUDED_ORDER_STATUSES = ("cancelled", "refunded")  # orders that are not purchases (features, segments, exits)
EVENT_TYPES = (
    "page_view", "app_session", "login", "feature_use", "cart_add", "cart_abandon", "search",
    "product_view", "checkout_start", "email_open", "email_click", "sms_click", "push_open", "support_chat",
    "plan_downgrade", "plan_upgrade", "payment_failed",
)
CHANNELS = ("email", "sms", "push", "phone", "mail", "webhook")
SUPPRESSION_BASES = ("unsubscribe", "hard_bounce", "complaint", "invalid", "manual", "spam_trap", "do_not_contact")
CONSENT_STATUSES = ("subscribed", "unsubscribed")
CONSENT_BASES = ("consent", "soft_opt_in", "legitimate_interest", "contract")
FEEDBACK_KINDS = ("survey", "ticket", "review", "complaint")
FEEDBACK_STATUSES = ("open", "pending", "resolved", "closed")
SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "paused", "cancelled", "expired")

_CUSTOMER_ID = Column(
    "customer_id", "id", "The customer's id in your systems.",
    required=True,
    aliases=("customer", "cust_id", "customerid", "user_id", "client_id", "客户id", "客户编号", "会员id"),
)

CUSTOMERS = Entity(
    name="customers",
    key=("customer_id",),
    description="People or accounts you sell to. Unknown columns are kept in `attributes`.",
    extras_into="attributes",
    columns=(
        Column(
            "customer_id", "id",
            "Your id for the customer. May be left out when `email` is given: the normalised address is then the id.",
            aliases=_CUSTOMER_ID.aliases,
        ),
        Column("email", "email", "Email address; normalised (trimmed, NFC, lower-case IDNA domain).",
               aliases=("email_address", "e_mail", "mail", "邮箱", "电子邮件", "邮件地址")),
        Column("phone", "phone", "Phone number, digits with an optional leading +.",
               aliases=("mobile", "phone_number", "tel", "手机", "手机号", "电话")),
        Column("name", "text", "Display name.", aliases=("full_name", "customer_name", "姓名", "名字", "客户名称")),
        Column("locale", "locale", "Language tag such as en-US or zh-CN.", aliases=("language", "lang", "语言")),
        Column("time_zone", "time_zone", "IANA time zone such as Asia/Shanghai.", aliases=("timezone", "tz", "时区")),
        Column("created_at", "datetime", "When the customer signed up.",
               aliases=("signup_date", "signed_up_at", "registered_at", "注册时间")),
        Column("email_status", "enum",
               "Optional marketing consent for email: subscribed or unsubscribed. Recorded as a consent; "
               "a suppressed address stays suppressed.",
               choices=CONSENT_STATUSES, aliases=("email_consent", "subscription_status", "accepts_marketing"),
               choice_aliases={"true": "subscribed", "yes": "subscribed", "1": "subscribed", "opted_in": "subscribed",
                               "false": "unsubscribed", "no": "unsubscribed", "0": "unsubscribed",
                               "opted_out": "unsubscribed"}),
    ),
)

PRODUCTS = Entity(
    name="products",
    key=("sku",),
    description="What you sell.",
    columns=(
        Column("sku", "id", "Your product id.", required=True, aliases=("product_id", "item_id", "商品编号", "货号")),
        Column("name", "text", "Product name.", required=True, aliases=("product_name", "title", "商品名称")),
        Column("category", "text", "Category.", aliases=("product_category", "类目", "分类")),
        Column("price", "decimal", "List price.", minimum=0, aliases=("list_price", "价格")),
        Column("launched_at", "datetime", "When it went on sale.", aliases=("launch_date", "上架时间")),
    ),
)

ORDERS = Entity(
    name="orders",
    key=("order_id",),
    description="Purchases. Refunds are a status, not a negative amount.",
    references=(Reference("customer_id", "customers"),),
    columns=(
        Column("order_id", "id", "Your order id.", required=True,
               aliases=("order", "order_number", "orderid", "transaction_id", "订单号", "订单编号")),
        _CUSTOMER_ID,
        Column("ordered_at", "datetime", "When the order was placed.", required=True,
               aliases=("order_date", "date", "created_at", "purchased_at", "下单时间", "订单时间")),
        Column("amount", "decimal", "Order total, zero or more.", required=True, minimum=0,
               aliases=("total", "order_total", "value", "revenue", "dollar_value", "金额", "订单金额")),
        Column("currency", "currency", "ISO 4217 code; defaults to the import's --currency.", aliases=("币种",)),
        Column("status", "enum", "Order status; defaults to completed.", choices=ORDER_STATUSES,
               aliases=("order_status", "状态"),
               choice_aliases={"complete": "completed", "fulfilled": "completed", "canceled": "cancelled",
                               "refund": "refunded", "partial_refund": "partially_refunded"}),
        Column("coupon_code", "text", "Coupon used, if any.", aliases=("coupon", "discount_code", "优惠码")),
        Column("channel", "text", "Where it was placed (web, app, store, phone …).", aliases=("source", "渠道")),
    ),
)

ORDER_ITEMS = Entity(
    name="order_items",
    key=("order_id", "sku"),
    description="Lines of an order; one row per (order_id, sku).",
    references=(Reference("order_id", "orders"), Reference("sku", "products")),
    columns=(
        Column("order_id", "id", "The order.", required=True, aliases=ORDERS.column("order_id").aliases),
        Column("sku", "id", "The product.", required=True, aliases=PRODUCTS.column("sku").aliases),
        Column("quantity", "int", "How many.", required=True, minimum=1, aliases=("qty", "number_of_cds", "数量")),
        Column("unit_price", "decimal", "Price paid per unit.", minimum=0, aliases=("price", "单价")),
    ),
)

EVENTS = Entity(
    name="events",
    key=("event_id",),
    derived_key=True,
    description="Site, app and engagement activity. Unknown columns are kept in `properties`.",
    extras_into="properties",
    references=(Reference("customer_id", "customers"),),
    columns=(
        Column("event_id", "id", "Your event id; when absent, derived from the row's content.",
               aliases=("id",)),
        _CUSTOMER_ID,
        Column("occurred_at", "datetime", "When it happened.", required=True,
               aliases=("timestamp", "time", "event_time", "at", "发生时间")),
        Column("type", "enum", "Event type.", required=True, choices=EVENT_TYPES,
               aliases=("event", "event_type", "name", "类型")),
        Column("properties", "json", "A JSON object of details.", aliases=("props", "data")),
    ),
)

FEEDBACK = Entity(
    name="feedback",
    key=("feedback_id",),
    derived_key=True,
    description="Surveys, tickets, reviews and complaints.",
    references=(Reference("customer_id", "customers"),),
    columns=(
        Column("feedback_id", "id", "Your id; when absent, derived from the row's content.",
               aliases=("ticket_id", "review_id", "id")),
        _CUSTOMER_ID,
        Column("kind", "enum", "survey, ticket, review or complaint.", required=True, choices=FEEDBACK_KINDS,
               aliases=("type", "feedback_type", "类型")),
        Column("rating", "int", "1 to 5.", minimum=1, maximum=5, aliases=("score", "stars", "评分")),
        Column("text", "text", "What the customer wrote.", aliases=("comment", "body", "message", "内容", "评论")),
        Column("status", "enum", "open, pending, resolved or closed.", choices=FEEDBACK_STATUSES,
               aliases=("state", "状态"), choice_aliases={"solved": "resolved", "new": "open"}),
        Column("opened_at", "datetime", "When it was raised.", required=True,
               aliases=("created_at", "submitted_at", "date", "提交时间")),
        Column("resolved_at", "datetime", "When it was resolved.", aliases=("closed_at", "解决时间")),
        Column("category", "text", "Your category (billing, delivery …).", aliases=("topic", "分类")),
    ),
)

SUBSCRIPTIONS = Entity(
    name="subscriptions",
    key=("subscription_id",),
    description="Contracts and plans.",
    references=(Reference("customer_id", "customers"),),
    columns=(
        Column("subscription_id", "id", "Your id.", required=True, aliases=("id", "contract_id", "订阅编号")),
        _CUSTOMER_ID,
        Column("plan", "text", "Plan name.", required=True, aliases=("plan_name", "tier", "套餐")),
        Column("status", "enum", "Subscription status.", required=True, choices=SUBSCRIPTION_STATUSES,
               aliases=("state", "状态"), choice_aliases={"canceled": "cancelled", "trial": "trialing"}),
        Column("amount", "decimal", "Recurring price per period.", minimum=0, aliases=("mrr", "price")),
        Column("currency", "currency", "ISO 4217 code; defaults to the import's --currency."),
        Column("started_at", "datetime", "Start.", required=True, aliases=("start_date", "开始时间")),
        Column("renews_at", "datetime", "Next renewal.", future_allowed=True, aliases=("renewal_date", "next_billing")),
        Column("cancelled_at", "datetime", "When it was cancelled.", aliases=("canceled_at", "取消时间")),
        Column("cancel_reason", "text", "Why, in the customer's or your words.",
               aliases=("cancellation_reason", "churn_reason", "取消原因")),
        Column("paused_until", "datetime", "End of a pause.", future_allowed=True),
    ),
)

CONSENTS = Entity(
    name="consents",
    key=("customer_id", "channel"),
    description="Marketing permission per customer and channel (latest wins; history is kept).",
    references=(Reference("customer_id", "customers"),),
    columns=(
        _CUSTOMER_ID,
        Column("channel", "enum", "email, sms, push, phone, mail or webhook.", required=True, choices=CHANNELS),
        Column("status", "enum", "subscribed or unsubscribed.", required=True, choices=CONSENT_STATUSES,
               choice_aliases=CUSTOMERS.column("email_status").choice_aliases),
        Column("basis", "enum", "Legal basis.", choices=CONSENT_BASES),
        Column("source", "text", "Where the permission was given (signup form, checkout …)."),
        Column("at", "datetime", "When.", aliases=("updated_at", "consented_at")),
    ),
)

SUPPRESSIONS = Entity(
    name="suppressions",
    key=("channel", "address"),
    description="Addresses that must never receive marketing on a channel.",
    columns=(
        Column("channel", "enum", "email, sms …", required=True, choices=CHANNELS),
        Column("address", "text", "The email address or phone number.", required=True,
               aliases=("email", "phone", "recipient")),
        Column("basis", "enum", "Why it is suppressed.", required=True, choices=SUPPRESSION_BASES,
               aliases=("reason",), choice_aliases={"unsubscribed": "unsubscribe", "bounce": "hard_bounce",
                                                    "spam": "complaint", "abuse": "complaint"}),
        Column("source", "text", "Where it came from (ESP export, bounce processing …)."),
        Column("at", "datetime", "When.", aliases=("suppressed_at", "created_at")),
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (CUSTOMERS, PRODUCTS, ORDERS, ORDER_ITEMS, EVENTS, FEEDBACK, SUBSCRIPTIONS, CONSENTS, SUPPRESSIONS)
}

# Load order that satisfies every reference; suppressions first, so consents and customers' email_status
# imported afterwards are checked against them.
LOAD_ORDER = ("suppressions", "customers", "products", "orders", "order_items", "events", "feedback",
              "subscriptions", "consents")
