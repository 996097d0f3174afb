"""A simulated response to a programme, with a known true effect: what the demo measures itself against.

Every enrolled customer — treated or held out — buys within the window with the base rate; a treated customer with
the base rate plus the true uplift. Order values are log-normal and the same in both groups, so the true
incremental revenue per customer is uplift × mean order value. Recipients open and click some of the messages they
get; a share of them read mail in Apple Mail, whose privacy protection fetches every message's images seconds after
delivery (a machine open, which the measurement must not count).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

__all__ = ["Engagement", "Enrolled", "ResponseModel", "plan_engagement", "simulate_orders"]

HUMAN_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
APPLE_PROXY_AGENT = "Mozilla/5.0"  # what Apple's Mail Privacy Protection proxy sends, from Apple's address ranges
APPLE_PROXY_IP = "17.58.0.10"


@dataclass(frozen=True)
class ResponseModel:
    base_rate: float = 0.05  # chance of buying within the window without the programme
    uplift: float = 0.04  # the true effect: extra chance of buying for a treated customer
    order_value_median: float = 40.0
    order_value_sigma: float = 0.7  # of log order value
    window_days: int = 28
    open_rate: float = 0.3  # human opens per delivered message
    click_rate: float = 0.3  # clicks among human opens
    apple_share: float = 0.25  # recipients whose opens are prefetched by a privacy proxy
    coupon_use: float = 0.7  # buyers who had been sent a coupon and use it

    @property
    def mean_order_value(self) -> float:
        return self.order_value_median * math.exp(self.order_value_sigma ** 2 / 2)

    @property
    def true_incremental_revenue_per_customer(self) -> float:
        return self.uplift * self.mean_order_value


@dataclass(frozen=True)
class Enrolled:
    enrolment_id: int
    customer_id: str
    holdout: bool
    entered_at: datetime


@dataclass(frozen=True)
class Engagement:
    """One request a recipient's mail client makes: the pixel or a link, at `at`, from `ip` with `agent`."""

    kind: str  # open | click
    at: datetime
    agent: str
    ip: str


def simulate_orders(enrolled: Sequence[Enrolled], *, model: ResponseModel, currency: str, seed: int,
                    ) -> list[dict[str, object]]:
    """The orders the customers place after entering (rows for the orders table, without audit columns)."""
    rng = random.Random(seed)
    orders = []
    for e in enrolled:
        rate = model.base_rate + (0.0 if e.holdout else model.uplift)
        if rng.random() >= rate:
            continue
        at = e.entered_at + timedelta(seconds=rng.uniform(3_600, (model.window_days - 1) * 86_400))
        value = model.order_value_median * math.exp(rng.gauss(0.0, model.order_value_sigma))
        orders.append({"order_id": f"sim-{e.enrolment_id}", "customer_id": e.customer_id, "ordered_at": at,
                       "amount": Decimal(f"{value:.2f}"), "currency": currency, "status": "completed"})
    return orders


def plan_engagement(customer_id: str, sent_at: datetime, *, links: int, model: ResponseModel,
                    seed: int) -> list[Engagement]:
    """What the recipient's mail client does with one message: a privacy-proxy fetch seconds after delivery for an
    Apple Mail reader, and maybe a human open hours later, maybe followed by a click."""
    rng = random.Random(f"{seed}:{customer_id}:{sent_at.isoformat()}")
    out = []
    apple = random.Random(f"{seed}:{customer_id}").random() < model.apple_share
    if apple:
        out.append(Engagement("open", sent_at + timedelta(seconds=rng.uniform(1, 8)), APPLE_PROXY_AGENT,
                              APPLE_PROXY_IP))
    if rng.random() < model.open_rate:
        opened = sent_at + timedelta(hours=rng.uniform(1, 30))
        ip = f"198.51.100.{rng.randint(1, 254)}"
        if not apple:  # an Apple reader's own open is served from the proxy's cache: the sender never sees it
            out.append(Engagement("open", opened, HUMAN_AGENT, ip))
        if links and rng.random() < model.click_rate:
            out.append(Engagement("click", opened + timedelta(seconds=rng.uniform(20, 300)), HUMAN_AGENT, ip))
    return out
