"""The personalisation context of a message, built in bulk for a batch of customers.

`CONTEXT_VARIABLES` lists every variable a template may use (`TemplateLibrary.check` holds templates to it); the
composer adds the links, the postal address, the coupon and the sender.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.messaging.recommend import CoPurchase, fit_co_purchase, recommend
from winback.store import tables as t

CONTEXT_VARIABLES: dict[str, str] = {
    "customer_id": "the customer's id",
    "name": "full name, else the part of the email before @, else a friendly default",
    "first_name": "the first word of the name (the whole name when it has no spaces, as in Chinese)",
    "greeting_name": "the name to greet with (first_name with the same fallbacks)",
    "locale": "the customer's locale, e.g. zh-CN or en-GB",
    "lang": "the template language: zh or en",
    "currency": "the currency of amounts: the last purchase's, else the workspace default",
    "last_purchase": "the last order: {product, category, date, amount, currency}, or None",
    "purchase_history": "up to 5 products bought, most recent first: [{sku, name, category, price, url}]",
    "days_since_last_purchase": "whole days since the last order, or None",
    "member_benefits": "{tier, points} from the customer's attributes (None where unknown)",
    "whats_new": "up to 3 products launched since the last order in their categories, newest first "
                 "(each {sku, name, category, price, url, launched_at}; url from WINBACK_PRODUCT_URL, else None)",
    "recommendations": "up to 3 products they have not bought: bought together with theirs, else popular "
                       "(each {sku, name, category, price, url})",
    "churn_reason": "the scored churn reason (price, service …), or None",
    "dormancy_type": "the scored dormancy type (natural_cycle, content_fatigue …), or None",
    "unsubscribe_url": "one-click unsubscribe link (added by the composer)",
    "preferences_url": "preference-centre link (added by the composer)",
    "view_in_browser_url": "link to this message on the web (added by the composer)",
    "postal_address": "the sender's postal address (added by the composer)",
    "sender_name": "the sender's display name (added by the composer)",
    "shop_url": "where buttons lead, from WINBACK_SHOP_URL (optional: buttons are left out without it)",
    "coupon": "the offer: {code, kind, value, expires_at or None}, or None (added by the composer)",
}

DEFAULT_NAME = {"en": "there", "zh": "朋友"}
CHUNK = 500  # ids per IN (…) list


def _lang(locale: str | None) -> str:
    return "zh" if (locale or "").replace("_", "-").lower().split("-")[0] == "zh" else "en"


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i:i + CHUNK])


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def fit_recommender(conn: sa.Connection) -> CoPurchase:
    """Co-purchase counts over every customer's order items (once per batch, or cached by the caller)."""
    rows = conn.execute(sa.select(t.orders.c.customer_id, t.order_items.c.sku).distinct()
                        .select_from(t.orders.join(t.order_items, t.orders.c.order_id == t.order_items.c.order_id))
                        .where(t.orders.c.status.not_in(EXCLUDED_ORDER_STATUSES)))
    categories = dict(conn.execute(sa.select(t.products.c.sku, t.products.c.category)).all())
    return fit_co_purchase(((r[0], r[1]) for r in rows), categories)


def build_contexts(conn: sa.Connection, customer_ids: Sequence[str], *, now: datetime, currency_default: str,
                   recommender: CoPurchase | None = None) -> dict[str, dict[str, Any]]:
    """The context of each customer in `customer_ids` (unknown ids are left out)."""
    model = recommender if recommender is not None else fit_recommender(conn)
    products = {r.sku: r for r in conn.execute(sa.select(t.products.c.sku, t.products.c.name, t.products.c.category,
                                                         t.products.c.price, t.products.c.launched_at))}
    by_category: dict[str, list[Any]] = defaultdict(list)
    for p in products.values():
        if p.category is not None and p.launched_at is not None:
            by_category[p.category].append(p)
    for launched in by_category.values():
        launched.sort(key=lambda p: (p.launched_at, p.sku), reverse=True)
    out: dict[str, dict[str, Any]] = {}
    for ids in _chunks(list(dict.fromkeys(customer_ids))):
        customers = conn.execute(sa.select(t.customers.c.customer_id, t.customers.c.name, t.customers.c.email,
                                           t.customers.c.locale, t.customers.c.attributes)
                                 .where(t.customers.c.customer_id.in_(ids))).all()
        profiles = {r.customer_id: r for r in conn.execute(
            sa.select(t.profiles.c.customer_id, t.profiles.c.churn_reason, t.profiles.c.dormancy_type)
            .where(t.profiles.c.customer_id.in_(ids)))}
        orders: dict[str, list[Any]] = defaultdict(list)
        for r in conn.execute(sa.select(t.orders.c.customer_id, t.orders.c.order_id, t.orders.c.ordered_at,
                                        t.orders.c.amount, t.orders.c.currency)
                              .where(t.orders.c.customer_id.in_(ids), t.orders.c.status.not_in(EXCLUDED_ORDER_STATUSES),
                                     t.orders.c.ordered_at <= now)
                              .order_by(t.orders.c.ordered_at.desc(), t.orders.c.order_id.desc())):
            orders[r.customer_id].append(r)
        items: dict[str, list[Any]] = defaultdict(list)
        for r in conn.execute(sa.select(t.order_items.c.order_id, t.order_items.c.sku, t.order_items.c.quantity,
                                        t.order_items.c.unit_price)
                              .select_from(t.order_items.join(t.orders,
                                                              t.orders.c.order_id == t.order_items.c.order_id))
                              .where(t.orders.c.customer_id.in_(ids))):
            items[r.order_id].append(r)
        for c in customers:
            out[c.customer_id] = _context(c, orders[c.customer_id], items, products, by_category,
                                          profiles.get(c.customer_id), model, now=now,
                                          currency_default=currency_default)
    return out


def _names(name: str | None, email: str | None, lang: str) -> tuple[str, str]:
    full = (name or "").strip() or ((email or "").split("@")[0].strip() if email and "@" in email else "")
    if not full:
        return DEFAULT_NAME[lang], DEFAULT_NAME[lang]
    first = full.split()[0] if " " in full else full
    return full, first


def _product(products: dict[str, Any], sku: str) -> dict[str, Any]:
    p = products.get(sku)
    return {"sku": sku, "name": p.name if p else sku, "category": p.category if p else None,
            "price": _money(p.price) if p else None, "url": None}


def _context(c: Any, orders: list[Any], items: dict[str, list[Any]], products: dict[str, Any],
             by_category: dict[str, list[Any]], profile: Any, model: CoPurchase, *, now: datetime,
             currency_default: str) -> dict[str, Any]:
    lang = _lang(c.locale)
    name, first = _names(c.name, c.email, lang)
    attributes = c.attributes if isinstance(c.attributes, dict) else {}
    bought: list[str] = []  # skus, most recent first
    for order in orders:
        for item in sorted(items.get(order.order_id, []), key=lambda i: (-(i.unit_price or 0) * i.quantity, i.sku)):
            if item.sku not in bought:
                bought.append(item.sku)
    last = orders[0] if orders else None
    last_purchase = None
    if last is not None:
        lines = sorted(items.get(last.order_id, []), key=lambda i: (-(i.unit_price or 0) * i.quantity, i.sku))
        top = _product(products, lines[0].sku) if lines else {"name": None, "category": None}
        last_purchase = {"product": top["name"], "category": top["category"], "date": last.ordered_at,
                         "amount": _money(last.amount), "currency": last.currency}
    categories = list(dict.fromkeys(products[s].category for s in bought
                                    if s in products and products[s].category is not None))
    new: list[Any] = []
    if last is not None:
        for cat in categories:
            new += [p for p in by_category.get(cat, [])
                    if last.ordered_at < p.launched_at <= now and p.sku not in bought]
        new.sort(key=lambda p: (p.launched_at, p.sku), reverse=True)
    return {
        "customer_id": c.customer_id, "name": name, "first_name": first, "greeting_name": first,
        "locale": c.locale, "lang": lang,
        "currency": last.currency if last is not None else currency_default,
        "last_purchase": last_purchase,
        "purchase_history": [_product(products, s) for s in bought[:5]],
        "days_since_last_purchase": (now - last.ordered_at).days if last is not None else None,
        "member_benefits": {"tier": attributes.get("tier"), "points": attributes.get("points")},
        "whats_new": [_product(products, p.sku) | {"launched_at": p.launched_at} for p in new[:3]],
        "recommendations": [_product(products, s) for s in recommend(model, bought, k=3)],
        "churn_reason": profile.churn_reason if profile is not None else None,
        "dormancy_type": profile.dormancy_type if profile is not None else None,
    }
