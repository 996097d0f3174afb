"""A seeded generator of a multi-source retention world: customers, orders, events, feedback, subscriptions, consents.

Each customer gets a hidden story, written to truth/truth.csv: a purchase rate, whether and when they drop out, why,
and which dormancy pattern they follow. The data files show only its traces:

- natural_cycle: long, regular gaps (90-180 days) and a last order that is not yet overdue; never drops out.
- content_fatigue: human email opens and clicks almost stop 60-90 days before the last activity (the end, for those
  who stay) while site and app visits go on.
- bad_experience: a complaint, an unresolved ticket or a 1-2 star review 2-25 days before the last activity, then
  silence; always drops out, mostly over service or product quality.
- channel_shift: no human email activity for the last 100+ days of activity while app sessions, logins and SMS
  clicks rise and orders move to the app.
Customers without a type are steady. Purchase rates are gamma-distributed across customers (truncated so steady
buyers' gaps stay under 70 days); gaps between one customer's orders are gamma-distributed too, so cadences are more
regular than Poisson. Activity thins out in the weeks before a drop-out; `dropout_at` is the last visit, after which
only quiet leavers look in, rarely. Most dropped-out customers say why in words (a complaint, an exit survey, a ticket
or a cancellation reason). Machine opens (Apple Mail Privacy Protection) reach some customers whatever they do, even
after they leave, flagged {"machine": true}; they are not activity.

The world is observed at 00:00 UTC on `end`: no timestamp is later, except renews_at and paused_until.
All randomness comes from one `numpy.random.default_rng(seed)`, consumed in a fixed order, chunk by chunk.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from winback.datasets import names as vocab
from winback.domain.errors import UserError

__all__ = ["CHURN_REASONS", "DORMANCY_TYPES", "HEADERS", "WorldParams", "generate_world"]

DORMANCY_TYPES = ("natural_cycle", "content_fatigue", "bad_experience", "channel_shift")
CHURN_REASONS = vocab.REASONS
STEADY, NATURAL, FATIGUE, BAD, SHIFT = range(5)
_KINDS = ("steady", *DORMANCY_TYPES)
_LOCALES = ("zh-CN", "en-US", "en-GB")
_CURRENCIES = ("CNY", "USD", "GBP")
_LANGS = ("zh", "en", "en")
_EVENT_TYPES = ("page_view", "app_session", "login", "feature_use", "cart_add", "cart_abandon", "search",
               "email_open", "email_click", "sms_click")
_EV = {name: code for code, name in enumerate(_EVENT_TYPES)}
_CHANNELS = ("web", "app", "store")
_STATUSES = ("completed", "refunded", "cancelled")
_COUPONS = (("WELCOME10", 0.10), ("SAVE10", 0.10), ("SPRING15", 0.15), ("VIP20", 0.20), ("BACK15", 0.15))

HEADERS: dict[str, tuple[str, ...]] = {
    "customers.csv": ("customer_id", "email", "phone", "name", "locale", "time_zone", "created_at", "email_status",
                      "tier", "city"),
    "products.csv": ("sku", "name", "category", "price", "launched_at"),
    "orders.csv": ("order_id", "customer_id", "ordered_at", "amount", "currency", "status", "coupon_code", "channel"),
    "order_items.csv": ("order_id", "sku", "quantity", "unit_price"),
    "events.csv": ("event_id", "customer_id", "occurred_at", "type", "properties"),
    "feedback.csv": ("feedback_id", "customer_id", "kind", "rating", "text", "status", "opened_at", "resolved_at",
                     "category"),
    "subscriptions.csv": ("subscription_id", "customer_id", "plan", "status", "amount", "currency", "started_at",
                          "renews_at", "cancelled_at", "cancel_reason", "paused_until"),
    "consents.csv": ("customer_id", "channel", "status", "basis", "source", "at"),
    "suppressions.csv": ("channel", "address", "basis", "source", "at"),
    "truth/truth.csv": ("customer_id", "dropped_out", "dropout_at", "churn_reason", "dormancy_type", "purchase_rate",
                        "locale"),
}


@dataclass(frozen=True)
class WorldParams:
    """The distributions the world is drawn from; written to truth/world.json."""

    chunk_size: int = 5_000
    locale_shares: tuple[float, float, float] = (0.5, 0.3, 0.2)  # zh-CN, en-US, en-GB
    kind_shares: dict[str, float] = field(default_factory=lambda: {
        "steady": 0.48, "natural_cycle": 0.12, "content_fatigue": 0.16, "bad_experience": 0.12,
        "channel_shift": 0.12})
    dropout_probability: dict[str, float] = field(default_factory=lambda: {
        "steady": 0.0, "natural_cycle": 0.0, "content_fatigue": 0.6, "bad_experience": 1.0, "channel_shift": 0.25})
    # P(reason | kind, dropped out), in the order of CHURN_REASONS.
    reason_mix: dict[str, tuple[float, ...]] = field(default_factory=lambda: {
        "content_fatigue": (0.30, 0.15, 0.0, 0.0, 0.20, 0.25, 0.10),
        "bad_experience": (0.05, 0.0, 0.50, 0.40, 0.0, 0.0, 0.05),
        "channel_shift": (0.15, 0.35, 0.0, 0.0, 0.35, 0.0, 0.15)})
    # Purchase rate per day ~ Gamma(shape r, rate alpha), truncated to the bounds (redrawn outside them) so that
    # steady buyers' gaps stay clearly shorter than natural cycles; natural cycles draw their mean gap instead.
    rate_r: float = 6.0
    rate_alpha: float = 420.0
    rate_bounds: tuple[float, float] = (1 / 70, 1 / 20)
    natural_gap_days: tuple[float, float] = (90.0, 180.0)
    gap_shape: float = 3.0  # gaps ~ Gamma(shape, mean 1/rate): more regular than Poisson
    natural_gap_shape: float = 10.0
    max_orders: int = 48
    # Customers sign up early enough for their story to fit before the end.
    min_tenure_days: dict[str, float] = field(default_factory=lambda: {
        "steady": 60, "natural_cycle": 365, "content_fatigue": 240, "bad_experience": 120, "channel_shift": 340})
    weekly_rates: dict[str, float] = field(default_factory=lambda: {
        "page_view": 0.15, "search": 0.03, "cart_add": 0.03, "cart_abandon": 0.01, "app_session": 0.15,
        "feature_use": 0.02, "login": 0.03, "email_open": 0.36, "email_click": 0.05, "sms_click": 0.03,
        "machine_open": 0.35, "fatigued_open": 0.006, "shifted_app_session": 0.45, "shifted_login": 0.12,
        "shifted_feature_use": 0.06, "shifted_sms_click": 0.2, "after_dropout": 0.007})
    mpp_share: dict[str, float] = field(default_factory=lambda: {"zh": 0.05, "en": 0.25})
    sms_share: dict[str, float] = field(default_factory=lambda: {"zh": 0.35, "en": 0.15})
    never_subscribed: float = 0.03
    unsubscribe: float = 0.06
    fatigue_unsubscribe: float = 0.30
    hard_bounce: float = 0.015
    complaint: float = 0.004
    subscription_share: float = 0.30
    exit_survey: float = 0.85
    early_ticket: float = 0.25
    positive_review: float = 0.20
    routine_ticket: float = 0.08
    minor_grumble: float = 0.03


_PARAMS = WorldParams()
_DAY = 86_400
# Local hour-of-day weights: little at night, a lunch bump and an evening peak.
_HOURS = np.array([1, .5, .3, .2, .2, .4, 1, 2, 3, 3.5, 3.5, 3.5, 4, 3.5, 3, 3, 3.2, 3.5, 4, 5, 5.5, 5, 3.5, 2])
_HOURS = _HOURS / _HOURS.sum()


def generate_world(out_dir: Path, *, customers: int, seed: int,
                   start: date = date(2024, 10, 1), end: date = date(2026, 9, 30)) -> dict[str, int]:
    """Write the world's CSV files to out_dir and its ground truth to out_dir/truth/; return rows per file."""
    horizon = (end - start).days
    if customers < 1:
        raise UserError(f"customers must be at least 1, got {customers}")
    if horizon < 400:
        raise UserError(f"the window {start}..{end} is {horizon} days; a world needs at least 400")
    frame = _Frame(start=start, horizon=float(horizon))
    rng = np.random.default_rng(seed)
    catalog = _Catalog.draw(rng, frame)
    pools = _Pools(catalog, frame)
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    with _Sink(out_dir) as sink:
        sink.write("products.csv", catalog.rows(frame))
        for first in range(0, customers, _PARAMS.chunk_size):
            n = min(_PARAMS.chunk_size, customers - first)
            _write_chunk(rng, sink=sink, people=_draw_people(rng, first=first, n=n, frame=frame),
                         catalog=catalog, pools=pools, frame=frame)
        rows = dict(sink.rows)
    _write_world_json(out_dir / "truth" / "world.json", seed=seed, customers=customers, start=start, end=end)
    return rows


@dataclass(frozen=True)
class _Frame:
    """Time in float days: day 0 is `start` 00:00 UTC, day `horizon` is `end` 00:00 UTC."""

    start: date
    horizon: float

    def iso(self, days: np.ndarray) -> list[str]:
        """ISO 8601 UTC timestamps (with a Z) for day offsets; NaN becomes an empty cell."""
        days = np.asarray(days, dtype=float)
        epoch = int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp())
        secs = epoch + np.floor(np.nan_to_num(days) * _DAY).astype(np.int64)
        text = np.datetime_as_string(secs.astype("datetime64[s]"), timezone="UTC")
        return np.where(np.isnan(days), "", text).tolist()


class _Sink:
    """One csv writer per file, opened once and streamed to; counts data rows."""

    def __init__(self, out_dir: Path) -> None:
        self._out_dir = out_dir
        self._files: dict[str, Any] = {}
        self._writers: dict[str, Any] = {}
        self.rows: dict[str, int] = {}

    def __enter__(self) -> _Sink:
        for name, header in HEADERS.items():
            handle = (self._out_dir / name).open("w", encoding="utf-8", newline="")
            self._files[name] = handle
            self._writers[name] = csv.writer(handle, lineterminator="\n")
            self._writers[name].writerow(header)
            self.rows[name] = 0
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._files.values():
            handle.close()

    def next_ids(self, name: str, prefix: str, n: int, *, width: int) -> np.ndarray:
        """Sequential ids for the next n rows of a file, e.g. O00000042."""
        base = self.rows[name]
        return np.array([f"{prefix}{base + i + 1:0{width}d}" for i in range(n)], dtype=object)

    def write(self, name: str, columns: list[list[str]]) -> None:
        self._writers[name].writerows(zip(*columns, strict=True))
        self.rows[name] += len(columns[0])


# ---------------------------------------------------------------------------------------------------- products


@dataclass(frozen=True)
class _Catalog:
    """Products with their launch days and prices in each currency (cents), grouped by category for sampling."""

    sku: np.ndarray
    name: list[str]
    cat: np.ndarray
    launch: np.ndarray
    cents: np.ndarray  # (currency, product)
    members: list[np.ndarray]  # per category: product indices sorted by launch
    launches: list[np.ndarray]  # per category: their launch days, sorted

    @staticmethod
    def draw(rng: np.random.Generator, frame: _Frame) -> _Catalog:
        """15 products per category; most on sale from the start, some launched late (news for returners)."""
        skus, names, cats, usd = [], [], [], []
        for c, (prefix, (low, high), nouns, _) in enumerate(vocab.CATEGORIES.values()):
            combos = rng.permutation(len(nouns) * len(vocab.PRODUCT_ADJECTIVES))[:15]
            for i, combo in enumerate(combos):
                noun, adj = nouns[combo % len(nouns)], vocab.PRODUCT_ADJECTIVES[combo // len(nouns)]
                skus.append(f"{prefix}-{i + 1:04d}")
                names.append(f"{adj} {noun}")
                cats.append(c)
                usd.append(int(rng.uniform(low, high)) * 100 + 99)
        n, h = len(skus), frame.horizon
        u = rng.random(n)
        later, late = rng.uniform(30, h - 180, n), rng.uniform(h - 180, h - 7, n)
        launch = np.where(u < 0.70, 0.0, np.where(u < 0.88, later, late))
        usd_cents = np.array(usd, dtype=np.int64)
        cents = np.stack([np.round(usd_cents * 7.1 / 100) * 100,  # whole yuan
                          usd_cents,
                          np.maximum(np.round(usd_cents * 0.79 / 100), 1) * 100 - 1]).astype(np.int64)
        cat = np.array(cats)
        members = [np.flatnonzero(cat == c)[np.argsort(launch[cat == c], kind="stable")]
                   for c in range(len(vocab.CATEGORIES))]
        return _Catalog(sku=np.array(skus, dtype=object), name=names, cat=cat, launch=launch, cents=cents,
                        members=members, launches=[launch[m] for m in members])

    def rows(self, frame: _Frame) -> list[list[str]]:
        categories = list(vocab.CATEGORIES)
        return [self.sku.tolist(), self.name, [categories[c] for c in self.cat], _money(self.cents[1]),
                frame.iso(self.launch)]

    def pick(self, rng: np.random.Generator, cats: np.ndarray, t: np.ndarray) -> np.ndarray:
        """A product of each category already on sale at each time."""
        out = np.empty(cats.size, dtype=np.int64)
        for c, (members, launches) in enumerate(zip(self.members, self.launches, strict=True)):
            mask = cats == c
            available = np.searchsorted(launches, t[mask], side="right")  # day-0 products make this >= 1
            out[mask] = members[(rng.random(mask.sum()) * available).astype(np.int64)]
        return out


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in np.asarray(cents, dtype=np.int64).tolist()]


# ---------------------------------------------------------------------------------------------------- people


@dataclass
class _People:
    """One chunk of customers and their hidden stories; times are float days, NaN where not applicable."""

    gid: np.ndarray
    loc: np.ndarray
    place: np.ndarray
    created: np.ndarray
    kind: np.ndarray
    dropped: np.ndarray
    dropout: np.ndarray
    reason: np.ndarray
    lam: np.ndarray
    fatigue: np.ndarray
    shift: np.ndarray
    bad_at: np.ndarray
    last_order: np.ndarray
    ramp: np.ndarray
    email_aff: np.ndarray
    site_aff: np.ndarray
    app_share: np.ndarray
    mpp: np.ndarray
    never_subscribed: np.ndarray
    unsub_at: np.ndarray
    suppress: np.ndarray  # -1 none, else index into ("unsubscribe", "hard_bounce", "complaint")
    suppress_at: np.ndarray
    email_stop: np.ndarray
    sms_at: np.ndarray
    subscriber: np.ndarray
    cats: np.ndarray  # (n, 2) preferred categories
    horizon: float
    ids: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.ids = np.array([f"C{g:06d}" for g in self.gid.tolist()], dtype=object)

    @property
    def n(self) -> int:
        return self.gid.size

    @property
    def offset(self) -> np.ndarray:
        """UTC offset of the customer's zone, in days (daylight saving ignored: it only shapes the hour)."""
        return np.array([p[2] for p in vocab.PLACES], dtype=float)[self.place] / 24

    @property
    def activity_end(self) -> np.ndarray:
        """The drop-out day, or the end for those who stay."""
        return np.where(self.dropped, self.dropout, self.horizon)

    @property
    def end(self) -> np.ndarray:
        """The end of the window, once per customer."""
        return np.full(self.n, self.horizon)


def _draw_people(rng: np.random.Generator, *, first: int, n: int, frame: _Frame) -> _People:
    p, h = _PARAMS, frame.horizon
    loc = rng.choice(3, n, p=p.locale_shares)
    place = np.where(loc == 0, 0, np.where(loc == 2, len(vocab.PLACES) - 1, rng.integers(1, len(vocab.PLACES) - 1, n)))
    kind = rng.choice(5, n, p=[p.kind_shares[k] for k in _KINDS])
    dropped = rng.random(n) < np.array([p.dropout_probability[k] for k in _KINDS])[kind]
    tenure = np.array([p.min_tenure_days[k] for k in _KINDS])[kind]
    created = np.sqrt(rng.random(n)) * (h - tenure)  # a growing shop: more sign-ups lately
    lam = _truncated_gamma(rng, shape=p.rate_r, scale=1 / p.rate_alpha, bounds=p.rate_bounds, n=n)
    natural = kind == NATURAL
    lam[natural] = 1 / rng.uniform(*p.natural_gap_days, natural.sum())
    story = _timeline(rng, kind=kind, dropped=dropped, created=created, lam=lam, horizon=h)
    zh = loc == 0
    return _People(
        gid=np.arange(first + 1, first + n + 1), loc=loc, place=place, created=created, kind=kind, dropped=dropped,
        reason=_reasons(rng, kind, dropped), lam=lam, **story,
        email_aff=rng.gamma(8.0, 1 / 8, n), site_aff=rng.gamma(4.0, 0.25, n),
        app_share=np.where(zh, rng.beta(3, 2, n), rng.beta(2, 3, n)),
        mpp=rng.random(n) < np.where(zh, p.mpp_share["zh"], p.mpp_share["en"]),
        **_email_permission(rng, kind=kind, created=created, story=story, horizon=h),
        sms_at=_sms_consent(rng, kind=kind, zh=zh, created=created, shift=story["shift"]),
        subscriber=rng.random(n) < p.subscription_share, cats=_preferences(rng, n), horizon=h,
    )


def _truncated_gamma(rng: np.random.Generator, *, shape: float, scale: float, bounds: tuple[float, float],
                     n: int) -> np.ndarray:
    """Gamma draws restricted to `bounds` by redrawing those outside (no pile-up at the bounds)."""
    out = rng.gamma(shape, scale, n)
    bad = (out < bounds[0]) | (out > bounds[1])
    while bad.any():
        out[bad] = rng.gamma(shape, scale, bad.sum())
        bad = (out < bounds[0]) | (out > bounds[1])
    return out


def _timeline(rng: np.random.Generator, *, kind: np.ndarray, dropped: np.ndarray, created: np.ndarray,
              lam: np.ndarray, horizon: float) -> dict[str, np.ndarray]:
    """Drop-out, fatigue, shift and bad-experience days, the last order, and how long activity fades before leaving."""
    n, h, gap = kind.size, horizon, 1 / lam
    dropout, fatigue, shift, bad_at = (np.full(n, np.nan) for _ in range(4))
    last = h - rng.random(n) * 0.9 * gap  # steady buyers are not overdue at the end
    natural = kind == NATURAL
    last[natural] = h - rng.uniform(0.15, 0.85, natural.sum()) * gap[natural]

    def window(mask: np.ndarray, after_signup: float, before_end: float) -> np.ndarray:
        return rng.uniform(created[mask] + after_signup, h - before_end)

    m = kind == BAD  # complains, then goes quiet within days
    dropout[m] = window(m, 60, 30)
    bad_at[m] = dropout[m] - rng.uniform(2, 25, m.sum())
    last[m] = bad_at[m] - rng.uniform(1, 12, m.sum())
    m = (kind == FATIGUE) & dropped  # stops reading mail, keeps browsing a while, then leaves
    dropout[m] = window(m, 150, 14)
    fatigue[m] = dropout[m] - rng.uniform(60, 90, m.sum())
    m = (kind == FATIGUE) & ~dropped
    fatigue[m] = h - rng.uniform(60, 90, m.sum())
    m = (kind == SHIFT) & dropped  # moves to the app, later leaves from there
    dropout[m] = window(m, 220, 14)
    shift[m] = dropout[m] - rng.uniform(100, 160, m.sum())
    m = (kind == SHIFT) & ~dropped
    shift[m] = h - rng.uniform(100, 240, m.sum())
    m = dropped & (kind != BAD)
    last[m] = dropout[m] - rng.uniform(3, 40, m.sum())
    ramp = np.select([kind == BAD, kind == FATIGUE], [rng.uniform(7, 21, n), rng.uniform(10, 20, n)],
                     rng.uniform(14, 35, n))
    return {"dropout": dropout, "fatigue": fatigue, "shift": shift, "bad_at": bad_at,
            "last_order": np.maximum(last, created), "ramp": ramp}


def _reasons(rng: np.random.Generator, kind: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    reason = np.full(kind.size, -1)
    for k, mix in _PARAMS.reason_mix.items():
        m = dropped & (kind == _KINDS.index(k))
        reason[m] = rng.choice(len(CHURN_REASONS), m.sum(), p=mix)
    return reason


def _email_permission(rng: np.random.Generator, *, kind: np.ndarray, created: np.ndarray,
                      story: dict[str, np.ndarray], horizon: float) -> dict[str, np.ndarray]:
    """Who never subscribed, who unsubscribed when, and whose address is suppressed."""
    p, n = _PARAMS, kind.size
    # Base-rate opt-outs and bounces go to steady customers only, keeping the email signatures of the types clean.
    plain = kind == STEADY
    u = rng.random(n)
    never = plain & (u < p.never_subscribed)
    unsub_at = np.full(n, np.nan)
    m = plain & (u >= p.never_subscribed) & (u < p.never_subscribed + p.unsubscribe)
    unsub_at[m] = created[m] + rng.random(m.sum()) * (horizon - created[m])
    m = (kind == FATIGUE) & (rng.random(n) < p.fatigue_unsubscribe)  # fatigue often ends in an unsubscribe
    unsub_at[m] = story["fatigue"][m] + rng.uniform(0, 30, m.sum())
    suppress, suppress_at = np.full(n, -1), np.full(n, np.nan)
    m = ~np.isnan(unsub_at) & (rng.random(n) < 0.6)
    suppress[m], suppress_at[m] = 0, unsub_at[m]
    u = rng.random(n)
    for basis, low, high in ((1, 0, p.hard_bounce), (2, p.hard_bounce, p.hard_bounce + p.complaint)):
        m = plain & ~never & np.isnan(unsub_at) & (u >= low) & (u < high)
        suppress[m], suppress_at[m] = basis, created[m] + rng.random(m.sum()) * (horizon - created[m])
    stop = np.fmin(np.fmin(unsub_at, suppress_at), horizon)
    stop[never] = created[never]
    return {"never_subscribed": never, "unsub_at": unsub_at, "suppress": suppress, "suppress_at": suppress_at,
            "email_stop": stop}


def _sms_consent(rng: np.random.Generator, *, kind: np.ndarray, zh: np.ndarray, created: np.ndarray,
                 shift: np.ndarray) -> np.ndarray:
    n = kind.size
    base = rng.random(n) < np.where(zh, _PARAMS.sms_share["zh"], _PARAMS.sms_share["en"])
    sms_at = np.where(base, created, np.nan)
    m = (kind == SHIFT) & ~base  # shifting customers opt in to SMS around the time they move
    sms_at[m] = np.maximum(shift[m] - rng.uniform(0, 30, m.sum()), created[m])
    return sms_at


def _preferences(rng: np.random.Generator, n: int) -> np.ndarray:
    first = rng.integers(0, len(vocab.CATEGORIES), n)
    second = (first + rng.integers(1, len(vocab.CATEGORIES), n)) % len(vocab.CATEGORIES)
    return np.stack([first, np.where(rng.random(n) < 0.4, first, second)], axis=1)


# ---------------------------------------------------------------------------------------------------- a chunk


def _write_chunk(rng: np.random.Generator, *, sink: _Sink, people: _People, catalog: _Catalog, pools: _Pools,
                 frame: _Frame) -> None:
    orders = _draw_orders(rng, people)
    items = _draw_items(rng, people=people, orders=orders, catalog=catalog)
    customers = _customer_rows(rng, people, frame)
    sink.write("customers.csv", customers)
    order_ids = sink.next_ids("orders.csv", "O", orders["owner"].size, width=8)
    sink.write("orders.csv", _order_rows(people, orders=orders, amount=items["amount"], ids=order_ids, frame=frame))
    sink.write("order_items.csv", _item_rows(items, ids=order_ids, catalog=catalog))
    sink.write("events.csv", _event_rows(rng, sink=sink, people=people, orders=orders, pools=pools, frame=frame))
    sink.write("feedback.csv", _feedback_rows(rng, sink=sink, people=people, frame=frame))
    sink.write("subscriptions.csv", _subscription_rows(rng, sink=sink, people=people, frame=frame))
    sink.write("consents.csv", _consent_rows(rng, people, frame))
    sink.write("suppressions.csv", _suppression_rows(people, customers[1], frame))
    sink.write("truth/truth.csv", _truth_rows(people, frame))


def _customer_rows(rng: np.random.Generator, people: _People, frame: _Frame) -> list[list[str]]:
    n = people.n
    zh = people.loc == 0
    weights = 1 / (np.arange(len(vocab.ZH_SURNAMES)) + 3)  # common surnames are much more common
    surname = rng.choice(len(vocab.ZH_SURNAMES), n, p=weights / weights.sum())
    given = rng.integers(0, len(vocab.ZH_GIVEN), (n, 2))
    two_char = rng.random(n) < 0.6
    first, last = rng.integers(0, len(vocab.EN_FIRST), n), rng.integers(0, len(vocab.EN_LAST), n)
    domain = rng.choice(len(vocab.EMAIL_DOMAINS), n, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    digits = rng.integers(0, 10_000, (n, 2))
    has_phone = rng.random(n) < np.where(zh, 0.95, 0.75)
    city_pick = rng.random(n)
    names, emails, phones, cities = [], [], [], []
    for i in range(n):
        g = people.gid[i]
        if zh[i]:
            chars = [vocab.ZH_GIVEN[j] for j in given[i, : 1 + two_char[i]]]
            sur = vocab.ZH_SURNAMES[surname[i]]
            names.append(sur[0] + "".join(c[0] for c in chars))
            local = sur[1] + "".join(c[1] for c in chars)
            phone = f"+86 100 {digits[i, 0]:04d} {digits[i, 1]:04d}"  # outside China's mobile plan: nobody's number
        else:
            names.append(f"{vocab.EN_FIRST[first[i]]} {vocab.EN_LAST[last[i]]}")
            local = f"{vocab.EN_FIRST[first[i]]}.{vocab.EN_LAST[last[i]]}".lower()
            phone = (f"+44 7700 900{digits[i, 0] % 1000:03d}" if people.loc[i] == 2  # Ofcom's drama range
                     else f"+1 {vocab.US_AREA_CODES[digits[i, 1] % 12]} 555 01{digits[i, 0] % 100:02d}")
        emails.append(f"{local}{g}@{vocab.EMAIL_DOMAINS[domain[i]]}")  # the number keeps addresses unique
        phones.append(phone if has_phone[i] else "")
        towns = vocab.PLACES[people.place[i]][3]
        cities.append(towns[int(city_pick[i] * len(towns))])
    yearly = people.lam * 365
    tier = np.where(yearly >= 14, "gold", np.where(yearly >= 7, "silver", "bronze")).tolist()
    unsubscribed = people.never_subscribed | ~np.isnan(people.unsub_at)
    return [people.ids.tolist(), emails, phones, names, [_LOCALES[c] for c in people.loc],
            [vocab.PLACES[c][1] for c in people.place], frame.iso(people.created),
            np.where(unsubscribed, "unsubscribed", "subscribed").tolist(), tier, cities]


def _truth_rows(people: _People, frame: _Frame) -> list[list[str]]:
    reasons = ["" if r < 0 else CHURN_REASONS[r] for r in people.reason.tolist()]
    kinds = ["" if k == STEADY else _KINDS[k] for k in people.kind.tolist()]
    return [people.ids.tolist(), np.where(people.dropped, "true", "false").tolist(), frame.iso(people.dropout),
            reasons, kinds, [f"{x:.6f}" for x in people.lam.tolist()], [_LOCALES[c] for c in people.loc]]


# ---------------------------------------------------------------------------------------------------- orders


def _draw_orders(rng: np.random.Generator, people: _People) -> dict[str, np.ndarray]:
    """Orders walked back from each customer's last order with gamma gaps, stopping at sign-up."""
    p, n, k = _PARAMS, people.n, _PARAMS.max_orders
    shape = np.where(people.kind == NATURAL, p.natural_gap_shape, p.gap_shape)
    gaps = rng.gamma(shape[:, None], (1 / people.lam / shape)[:, None], (n, k - 1))
    times = people.last_order[:, None] - np.concatenate([np.zeros((n, 1)), np.cumsum(gaps, axis=1)], axis=1)
    owner, col = np.nonzero(times >= people.created[:, None])
    t = times[owner, col]
    # The latest an order may move to while taking a local time of day.
    ceiling = np.where(people.kind == BAD, people.bad_at, people.activity_end)
    t = _local_time(rng, t, offset=people.offset[owner], low=people.created[owner], high=ceiling[owner])
    order = np.lexsort((t, owner))
    owner, t = owner[order], t[order]
    first = np.r_[True, owner[1:] != owner[:-1]]
    last = np.r_[owner[1:] != owner[:-1], True]
    return {"owner": owner, "t": t, "channel": _order_channels(rng, people, owner, t),
            "status": _order_statuses(rng, people, owner, last), "coupon": _coupons(rng, first)}


def _order_channels(rng: np.random.Generator, people: _People, owner: np.ndarray, t: np.ndarray) -> np.ndarray:
    m = owner.size
    p_app = 0.15 + 0.6 * people.app_share[owner]
    u = rng.random(m)
    channel = np.where(u < 0.1, 2, np.where(u < 0.1 + p_app * 0.9, 1, 0))
    shifted = t > np.nan_to_num(people.shift[owner], nan=np.inf)
    return np.where(shifted, np.where(rng.random(m) < 0.9, 1, 0), channel)


def _order_statuses(rng: np.random.Generator, people: _People, owner: np.ndarray, last: np.ndarray) -> np.ndarray:
    u = rng.random(owner.size)
    status = np.where(u < 0.04, 1, np.where(u < 0.07, 2, 0))
    # The order behind a quality complaint is often sent back.
    faulty = last & (people.reason[owner] == CHURN_REASONS.index("product_quality")) & (rng.random(owner.size) < 0.6)
    return np.where(faulty, 1, status)


def _coupons(rng: np.random.Generator, first: np.ndarray) -> np.ndarray:
    u = rng.random(first.size)
    other = rng.integers(1, len(_COUPONS), first.size)
    return np.where(first, np.where(u < 0.25, 0, -1), np.where(u < 0.10, other, -1))


def _draw_items(rng: np.random.Generator, *, people: _People, orders: dict[str, np.ndarray],
                catalog: _Catalog) -> dict[str, np.ndarray]:
    """1-3 distinct products per order, mostly from the customer's preferred categories, on sale at the time."""
    owner, t = orders["owner"], orders["t"]
    count = rng.choice(3, owner.size, p=[0.55, 0.30, 0.15]) + 1
    line_order = np.repeat(np.arange(owner.size), count)
    line_owner = owner[line_order]
    preferred = people.cats[line_owner, (rng.random(line_order.size) < 0.3).astype(int)]
    cats = np.where(rng.random(line_order.size) < 0.8, preferred,
                    rng.integers(0, len(vocab.CATEGORIES), line_order.size))
    product = catalog.pick(rng, cats, t[line_order])
    qty = rng.choice(3, line_order.size, p=[0.82, 0.14, 0.04]) + 1
    # The same product drawn twice in one order becomes one line with the quantities added.
    key, inverse = np.unique(line_order * catalog.sku.size + product, return_inverse=True)
    qty = np.bincount(inverse, weights=qty).astype(np.int64)
    line_order, product = key // catalog.sku.size, key % catalog.sku.size
    discount = np.array([d for _, d in _COUPONS] + [0.0])[orders["coupon"]][line_order]
    list_cents = catalog.cents[people.loc[owner[line_order]], product]
    unit = np.round(list_cents * (1 - discount)).astype(np.int64)
    amount = np.bincount(line_order, weights=qty * unit, minlength=owner.size).astype(np.int64)
    return {"line_order": line_order, "product": product, "qty": qty, "unit": unit, "amount": amount}


def _order_rows(people: _People, *, orders: dict[str, np.ndarray], amount: np.ndarray, ids: np.ndarray,
                frame: _Frame) -> list[list[str]]:
    owner = orders["owner"]
    codes = [c for c, _ in _COUPONS] + [""]
    return [ids.tolist(), people.ids[owner].tolist(), frame.iso(orders["t"]), _money(amount),
            [_CURRENCIES[c] for c in people.loc[owner]], [_STATUSES[s] for s in orders["status"]],
            [codes[c] for c in orders["coupon"]], [_CHANNELS[c] for c in orders["channel"]]]


def _item_rows(items: dict[str, np.ndarray], *, ids: np.ndarray, catalog: _Catalog) -> list[list[str]]:
    return [ids[items["line_order"]].tolist(), catalog.sku[items["product"]].tolist(),
            items["qty"].astype(str).tolist(), _money(items["unit"])]


def _local_time(rng: np.random.Generator, t: np.ndarray, *, offset: np.ndarray, low: np.ndarray,
                high: np.ndarray) -> np.ndarray:
    """Move each time to a likely hour of its local day, unless that leaves [low, high]."""
    day = np.floor(t + offset)
    moved = day + (rng.choice(24, t.size, p=_HOURS) + rng.random(t.size)) / 24 - offset
    return np.where((moved >= low) & (moved <= high), moved, t)


# ---------------------------------------------------------------------------------------------------- events


class _Pools:
    """Prebuilt JSON property strings, indexed by the generator instead of formatted per event."""

    PATHS = ("/", "/new", "/deals", "/account", "/orders")
    DURATIONS = (45, 120, 300, 600, 1200)
    METHODS = ("password", "app", "sso")
    FEATURES = ("wishlist", "price_alert", "order_tracking", "reviews", "compare", "gift_cards")
    LINKS = ("/new", "/deals", "/picks")

    def __init__(self, catalog: _Catalog, frame: _Frame) -> None:
        self.catalog = catalog

        def js(**kw: object) -> str:
            return json.dumps(kw, ensure_ascii=False)

        weeks = [frame.start + timedelta(weeks=w) for w in range(int(frame.horizon // 7) + 2)]
        self.page = np.array([js(path=p) for p in (*self.PATHS, *(f"/c/{c}" for c in vocab.CATEGORIES),
                                                   "/checkout")], dtype=object)
        self.session = np.array([js(platform=p, duration_s=d) for p in ("ios", "android") for d in self.DURATIONS],
                                dtype=object)
        self.login = np.array([js(method=m) for m in self.METHODS], dtype=object)
        self.feature = np.array([js(feature=f) for f in self.FEATURES], dtype=object)
        self.cart = np.array([js(sku=s) for s in catalog.sku], dtype=object)
        self.abandon = np.array([js(items=k) for k in range(1, 5)], dtype=object)
        zh_words = [w for *_, words in vocab.CATEGORIES.values() for w in words]  # 3 per category, in order
        self.search = np.array([js(query=q) for q in (*zh_words, *vocab.EN_SEARCHES)], dtype=object)
        self.open = np.array([[js(machine=m, campaign=f"nl-{w:%Y%m%d}") for w in weeks] for m in (False, True)],
                             dtype=object)
        self.click = np.array([[js(campaign=f"nl-{w:%Y%m%d}", link=link) for w in weeks] for link in self.LINKS],
                              dtype=object)
        self.sms = np.array([js(campaign=f"sms-{w:%Y%m%d}") for w in weeks], dtype=object)


@dataclass
class _Spawned:
    owner: list[np.ndarray] = field(default_factory=list)
    t: list[np.ndarray] = field(default_factory=list)
    type: list[np.ndarray] = field(default_factory=list)
    flag: list[np.ndarray] = field(default_factory=list)

    def add(self, owner: np.ndarray, t: np.ndarray, etype: int, *, flag: bool = False) -> None:
        """Collect events; `flag` marks machine opens and the page views that lead to a checkout."""
        self.owner.append(owner)
        self.t.append(t)
        self.type.append(np.full(owner.size, etype))
        self.flag.append(np.full(owner.size, flag))


def _event_rows(rng: np.random.Generator, *, sink: _Sink, people: _People, orders: dict[str, np.ndarray],
                pools: _Pools, frame: _Frame) -> list[list[str]]:
    spawned = _Spawned()
    _site_events(rng, spawned, people)
    _message_events(rng, spawned, people)
    _order_events(rng, spawned, people, orders)
    owner, t = np.concatenate(spawned.owner), np.concatenate(spawned.t)
    etype, flag = np.concatenate(spawned.type), np.concatenate(spawned.flag)
    order = np.lexsort((t, owner))
    owner, t, etype, flag = owner[order], t[order], etype[order], flag[order]
    props = _properties(rng, people=people, owner=owner, t=t, etype=etype, flag=flag, pools=pools)
    ids = sink.next_ids("events.csv", "E", owner.size, width=9).tolist()
    return [ids, people.ids[owner].tolist(), frame.iso(t), [_EVENT_TYPES[e] for e in etype.tolist()], props.tolist()]


def _spawn(rng: np.random.Generator, people: _People, *, low: np.ndarray, high: np.ndarray,
           weekly: np.ndarray, fade: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson process per customer on [low, high]; with `fade`, thinned as a drop-out approaches."""
    span = np.nan_to_num(np.clip(high - low, 0, None))
    owner = np.repeat(np.arange(people.n), rng.poisson(weekly / 7 * span))
    t = low[owner] + rng.random(owner.size) * span[owner]
    t = _local_time(rng, t, offset=people.offset[owner], low=low[owner], high=high[owner])
    if fade:
        # Visits thin out linearly to a quarter over the last `ramp` days before leaving.
        left = np.nan_to_num(people.dropout[owner] - t, nan=np.inf) / people.ramp[owner]
        keep = rng.random(owner.size) < np.clip(0.25 + 0.75 * left, 0.25, 1.0)
        owner, t = owner[keep], t[keep]
    return owner, t


def _site_events(rng: np.random.Generator, spawned: _Spawned, people: _People) -> None:
    r, end = _PARAMS.weekly_rates, people.activity_end
    shifted = people.kind == SHIFT
    pivot = np.where(shifted, people.shift, end)  # after the pivot a shifting customer lives in the app
    web, app = people.site_aff * (1 - people.app_share), people.site_aff * people.app_share
    before = {"page_view": web, "search": web, "cart_add": web, "cart_abandon": web, "app_session": app,
              "feature_use": app, "login": people.site_aff}
    for name, weight in before.items():
        spawned.add(*_spawn(rng, people, low=people.created, high=pivot, weekly=r[name] * weight), _EV[name])
    after = {"page_view": 0.3 * r["page_view"] * web, "search": 0.3 * r["search"] * web,
             "app_session": r["shifted_app_session"] * people.site_aff, "login": r["shifted_login"] * people.site_aff,
             "feature_use": r["shifted_feature_use"] * people.site_aff}
    for name, weekly in after.items():
        spawned.add(*_spawn(rng, people, low=pivot, high=end, weekly=np.where(shifted, weekly, 0.0)), _EV[name])
    # The drop-out day is the last visit, on the customer's usual front door.
    gone = np.flatnonzero(people.dropped)
    in_app = shifted[gone] | (people.app_share[gone] > 0.5)
    spawned.add(gone[~in_app], people.dropout[gone[~in_app]], _EV["page_view"])
    spawned.add(gone[in_app], people.dropout[gone[in_app]], _EV["app_session"])
    # Those who left quietly (not after a bad experience) still look in now and then.
    lingering = people.dropped & (people.kind != BAD)
    for name in ("page_view", "app_session"):
        spawned.add(*_spawn(rng, people, low=end, high=people.end, fade=False,
                            weekly=np.where(lingering, r["after_dropout"], 0.0)), _EV[name])


def _message_events(rng: np.random.Generator, spawned: _Spawned, people: _People) -> None:
    r, end, h = _PARAMS.weekly_rates, people.activity_end, people.end
    reading_until = np.fmin(np.fmin(np.fmin(people.email_stop, end), people.fatigue), people.shift)
    for name in ("email_open", "email_click"):
        spawned.add(*_spawn(rng, people, low=people.created, high=reading_until,
                            weekly=r[name] * people.email_aff), _EV[name])
    fatigued = people.kind == FATIGUE  # a trickle of opens after fatigue sets in
    spawned.add(*_spawn(rng, people, low=np.where(fatigued, people.fatigue, h), high=np.fmin(people.email_stop, end),
                        weekly=r["fatigued_open"] * people.email_aff), _EV["email_open"])
    # Apple Mail Privacy Protection opens every delivered newsletter, whether anyone reads it or not.
    spawned.add(*_spawn(rng, people, low=people.created, high=people.email_stop, fade=False,
                        weekly=np.where(people.mpp, r["machine_open"], 0.0)), _EV["email_open"], flag=True)
    sms = np.nan_to_num(people.sms_at, nan=people.horizon)
    spawned.add(*_spawn(rng, people, low=sms, high=end, weekly=np.full(people.n, r["sms_click"])), _EV["sms_click"])
    shifted = people.kind == SHIFT
    spawned.add(*_spawn(rng, people, low=np.where(shifted, np.fmax(sms, people.shift), h), high=end,
                        weekly=np.full(people.n, r["shifted_sms_click"])), _EV["sms_click"])


def _order_events(rng: np.random.Generator, spawned: _Spawned, people: _People, orders: dict[str, np.ndarray]) -> None:
    """A page view or app session minutes before each online order."""
    online = orders["channel"] != 2
    owner = orders["owner"][online]
    t = np.maximum(orders["t"][online] - rng.uniform(2, 40, owner.size) / 1440, people.created[owner])
    app = orders["channel"][online] == 1
    spawned.add(owner[~app], t[~app], _EV["page_view"], flag=True)
    spawned.add(owner[app], t[app], _EV["app_session"])


def _properties(rng: np.random.Generator, *, people: _People, owner: np.ndarray, t: np.ndarray, etype: np.ndarray,
                flag: np.ndarray, pools: _Pools) -> np.ndarray:
    props = np.empty(owner.size, dtype=object)
    week = np.floor(t / 7).astype(np.int64)
    # Apple Mail users are on iPhones; otherwise about 60% (en) or 40% (zh) are, fixed per customer.
    ios = (people.mpp | (people.gid % 5 < np.where(people.loc == 0, 2, 3)))[owner]
    pref = people.cats[owner, 0]
    for code, name in enumerate(_EVENT_TYPES):
        m = etype == code
        k = int(m.sum())
        if k == 0:
            continue
        u = rng.random(k)
        match name:
            case "page_view":
                general = rng.integers(0, len(pools.PATHS), k)
                paths = np.where(u < 0.45, len(pools.PATHS) + pref[m], general)
                props[m] = pools.page[np.where(flag[m], len(pools.page) - 1, paths)]
            case "app_session":
                props[m] = pools.session[np.where(ios[m], 0, 1) * 5 + rng.integers(0, 5, k)]
            case "login":
                props[m] = pools.login[rng.choice(3, k, p=[0.5, 0.4, 0.1])]
            case "feature_use":
                props[m] = pools.feature[rng.integers(0, len(pools.FEATURES), k)]
            case "cart_add":
                cats = people.cats[owner[m], (u < 0.3).astype(int)]
                props[m] = pools.cart[pools.catalog.pick(rng, cats, t[m])]
            case "cart_abandon":
                props[m] = pools.abandon[rng.integers(0, 4, k)]
            case "search":
                zh_word = pref[m] * 3 + rng.integers(0, 3, k)
                en_word = 3 * len(vocab.CATEGORIES) + rng.integers(0, len(vocab.EN_SEARCHES), k)
                props[m] = pools.search[np.where(people.loc[owner[m]] == 0, zh_word, en_word)]
            case "email_open":
                props[m] = pools.open[flag[m].astype(int), week[m]]
            case "email_click":
                props[m] = pools.click[rng.integers(0, len(pools.LINKS), k), week[m]]
            case "sms_click":
                props[m] = pools.sms[week[m]]
    return props



# ---------------------------------------------------------------------------------------------------- feedback

# owner, opened, kind, rating, text, status, resolved, category
_Feedback = tuple[int, float, str, str, str, str, float, str]


def _feedback_rows(rng: np.random.Generator, *, sink: _Sink, people: _People, frame: _Frame) -> list[list[str]]:
    rows = [*_bad_experience_feedback(rng, people), *_leaver_feedback(rng, people), *_stayer_feedback(rng, people)]
    rows.sort(key=lambda row: (row[0], row[1]))
    owner, opened, kind, rating, text, status, resolved, category = _transpose(rows, 8)
    ids = sink.next_ids("feedback.csv", "F", len(rows), width=7).tolist()
    return [ids, people.ids[np.array(owner, dtype=np.int64)].tolist(), kind, rating, text, status, frame.iso(opened),
            frame.iso(resolved), category]


def _transpose(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _say(rng: np.random.Generator, texts: tuple[str, ...], endings: tuple[str, ...] = ("",)) -> str:
    return texts[rng.integers(len(texts))] + endings[rng.integers(len(endings))]


def _reason_text(rng: np.random.Generator, people: _People, i: int, endings: dict[str, tuple[str, ...]]) -> str:
    lang = _LANGS[people.loc[i]]
    return _say(rng, vocab.REASON_TEXTS[CHURN_REASONS[people.reason[i]]][lang], endings[lang])


def _bad_experience_feedback(rng: np.random.Generator, people: _People) -> list[_Feedback]:
    """The complaint, unresolved ticket or 1-2 star review that comes just before a customer goes silent."""
    rows = []
    for i in np.flatnonzero(people.kind == BAD).tolist():
        at, reason = people.bad_at[i], CHURN_REASONS[people.reason[i]]
        text = _reason_text(rng, people, i, vocab.COMPLAINT_ENDINGS)
        kind = ("complaint", "ticket", "review")[rng.choice(3, p=[0.40, 0.35, 0.25])]
        resolved = np.nan
        if kind == "review":
            rating, status, category = str(rng.integers(1, 3)), "closed", "review"
        elif kind == "ticket":
            rating, status, category = "", ("open", "pending")[rng.integers(2)], vocab.REASON_CATEGORIES[reason]
        else:
            rating = str(rng.integers(1, 3)) if rng.random() < 0.6 else ""
            status = ("open", "pending", "resolved")[rng.choice(3, p=[0.5, 0.2, 0.3])]
            category = vocab.REASON_CATEGORIES[reason]
            if status == "resolved":
                resolved = min(at + rng.uniform(1, 10), people.horizon)
        rows.append((i, at, kind, rating, text, status, resolved, category))
    return rows


def _leaver_feedback(rng: np.random.Generator, people: _People) -> list[_Feedback]:
    """Exit surveys after a quiet drop-out, earlier tickets on the same theme, and the odd happier review."""
    p, h, rows = _PARAMS, people.horizon, []
    for i in np.flatnonzero(people.dropped).tolist():
        created, gone, reason = people.created[i], people.dropout[i], CHURN_REASONS[people.reason[i]]
        if people.kind[i] != BAD and rng.random() < p.exit_survey:
            rating = ("", "3", "4")[rng.choice(3, p=[0.55, 0.35, 0.10])]
            text = _reason_text(rng, people, i, vocab.GOODBYE_ENDINGS)
            rows.append((i, min(gone + rng.uniform(2, 40), h), "survey", rating, text, "closed", np.nan,
                         "exit_survey"))
        if people.kind[i] != BAD and gone - 45 - created > 1 and rng.random() < p.early_ticket:
            opened = created + rng.random() * (gone - 45 - created)
            rows.append((i, opened, "ticket", "", _reason_text(rng, people, i, {"en": ("",), "zh": ("",)}),
                         "resolved", opened + rng.uniform(0.2, 5), vocab.REASON_CATEGORIES[reason]))
        if gone - 90 - created > 1 and rng.random() < 0.1:
            rows.append(_review(rng, people, i, created + rng.random() * (gone - 90 - created)))
    return rows


def _review(rng: np.random.Generator, people: _People, i: int, at: float) -> _Feedback:
    text = _say(rng, vocab.POSITIVE_TEXTS[_LANGS[people.loc[i]]])
    return (i, at, "review", ("4", "5")[rng.random() < 0.6], text, "closed", np.nan, "review")


def _stayer_feedback(rng: np.random.Generator, people: _People) -> list[_Feedback]:
    """Happy reviews, routine questions, and small grumbles long before the end from customers who stay."""
    p, h, rows = _PARAMS, people.horizon, []
    for i in np.flatnonzero(~people.dropped).tolist():
        created, zh = people.created[i], people.loc[i] == 0
        if rng.random() < p.positive_review:
            rows.append(_review(rng, people, i, created + rng.random() * (h - created)))
        if h - 5 - created > 0 and rng.random() < p.routine_ticket:
            category, en, cn = vocab.ROUTINE_TICKETS[rng.integers(len(vocab.ROUTINE_TICKETS))]
            opened = created + rng.random() * (h - 5 - created)
            rows.append((i, opened, "ticket", "", cn if zh else en, "resolved", opened + rng.uniform(0.1, 3),
                         category))
        if h - 120 - created > 0 and rng.random() < p.minor_grumble:
            category, en, cn = vocab.MINOR_GRUMBLES[rng.integers(len(vocab.MINOR_GRUMBLES))]
            opened = created + rng.random() * (h - 120 - created)
            rows.append((i, opened, "complaint", ("2", "")[rng.integers(2)], cn if zh else en, "resolved",
                         opened + rng.uniform(1, 7), category))
    return rows


# ---------------------------------------------------------------------------------------------------- subscriptions

# (plan, days per period, price in cents per currency: CNY, USD, GBP)
_PLANS = (("basic-monthly", 30, (6800, 999, 799)), ("plus-monthly", 30, (12800, 1999, 1599)),
          ("premium-annual", 365, (68800, 9900, 7900)))


def _subscription_rows(rng: np.random.Generator, *, sink: _Sink, people: _People, frame: _Frame) -> list[list[str]]:
    rows = []
    for i in np.flatnonzero(people.subscriber).tolist():
        plan, period, prices = _PLANS[rng.choice(3, p=[0.5, 0.3, 0.2])]
        row = _leaver_plan(rng, people, i) if people.dropped[i] else _stayer_plan(rng, people, i, period)
        rows.append((people.ids[i], plan, row[0], _money(np.array([prices[people.loc[i]]]))[0],
                     _CURRENCIES[people.loc[i]], *row[1:]))
    customer, plan, status, amount, currency, started, renews, cancelled, why, paused = _transpose(rows, 10)
    ids = sink.next_ids("subscriptions.csv", "S", len(rows), width=7).tolist()
    return [ids, customer, plan, status, amount, currency, frame.iso(started), frame.iso(renews), frame.iso(cancelled),
            why, frame.iso(paused)]


def _leaver_plan(rng: np.random.Generator, people: _People, i: int) -> tuple[Any, ...]:
    """A cancelled plan, with the reason in the customer's words: (status, started, renews, cancelled, why, paused)."""
    created, gone = people.created[i], people.dropout[i]
    started = created + rng.random() * min(60, (gone - created) / 2)
    lang, reason = _LANGS[people.loc[i]], CHURN_REASONS[people.reason[i]]
    texts = (vocab.CANCEL_TEXTS if rng.random() < 0.7 else vocab.REASON_TEXTS)[reason][lang]
    cancelled = min(gone + rng.uniform(0, 10), people.horizon)
    return ("cancelled", started, np.nan, cancelled, _say(rng, texts), np.nan)


def _stayer_plan(rng: np.random.Generator, people: _People, i: int, period: int) -> tuple[Any, ...]:
    created, h = people.created[i], people.horizon
    status = ("active", "past_due", "paused", "trialing", "expired")[rng.choice(5, p=[0.78, 0.05, 0.07, 0.05, 0.05])]
    started = created + rng.random() * min(60, h - created)
    periods = np.floor((h - started) / period)
    if status == "past_due" and periods < 1:  # nothing has come due yet
        status = "active"
    renews, paused = started + period * (periods + 1), np.nan
    if status == "trialing":  # a 14-day trial still running at the end
        started = max(created, h - rng.uniform(1, 13))
        renews = started + 14
    elif status == "expired":  # a trial that lapsed without converting
        started = created + rng.random() * max(min(60, h - created - 15), 0)
        renews = np.nan
    elif status == "past_due":
        renews = started + period * periods
    elif status == "paused":
        paused = h + rng.uniform(5, 60)
        renews = paused
    return (status, started, renews, np.nan, "", paused)


# ---------------------------------------------------------------------------------------------------- permissions


def _consent_rows(rng: np.random.Generator, people: _People, frame: _Frame) -> list[list[str]]:
    rows = []
    soft = rng.random(people.n) < np.where(people.loc == 2, 0.5, 0.2)  # soft opt-in is common for UK shoppers
    left_by = rng.integers(0, 2, people.n)
    for i in range(people.n):
        cid = people.ids[i]
        if people.never_subscribed[i]:
            rows.append((cid, "email", "unsubscribed", "consent", "signup_form", people.created[i]))
        elif not np.isnan(people.unsub_at[i]):
            source = ("unsubscribe_link", "preference_centre")[left_by[i]]
            rows.append((cid, "email", "unsubscribed", "consent", source, people.unsub_at[i]))
        elif soft[i]:
            rows.append((cid, "email", "subscribed", "soft_opt_in", "checkout", people.created[i]))
        else:
            rows.append((cid, "email", "subscribed", "consent", "signup_form", people.created[i]))
        if not np.isnan(people.sms_at[i]):
            source = "app" if people.kind[i] == SHIFT else "checkout"
            rows.append((cid, "sms", "subscribed", "consent", source, people.sms_at[i]))
    cols = [list(c) for c in zip(*rows, strict=True)]
    return [*cols[:5], frame.iso(np.array(cols[5]))]


def _suppression_rows(people: _People, emails: list[str], frame: _Frame) -> list[list[str]]:
    idx = np.flatnonzero(people.suppress >= 0)
    bases = ("unsubscribe", "hard_bounce", "complaint")
    sources = ("esp_export", "bounce_processing", "feedback_loop")
    return [["email"] * idx.size, [emails[i] for i in idx.tolist()], [bases[people.suppress[i]] for i in idx],
            [sources[people.suppress[i]] for i in idx], frame.iso(people.suppress_at[idx])]


def _write_world_json(path: Path, *, seed: int, customers: int, start: date, end: date) -> None:
    world = {
        "seed": seed, "customers": customers, "start": start.isoformat(), "end": end.isoformat(),
        "observed_until": f"{end.isoformat()}T00:00:00Z", "product_price_currency": "USD",
        "order_currency": dict(zip(_LOCALES, _CURRENCIES, strict=True)), "churn_reasons": list(CHURN_REASONS),
        "dormancy_types": list(DORMANCY_TYPES), "params": asdict(_PARAMS),
    }
    path.write_text(json.dumps(world, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
