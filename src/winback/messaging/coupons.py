"""Coupon codes: a pool per programme, issued once per (enrolment, step), redeemed by the orders that carry them.

Codes use a 31-symbol alphabet: Crockford base32 (no I, L, O, U) without `1`, so nothing reads as another symbol.
The last symbol is a check character, a weighted sum modulo 31 (a prime, the alphabet size): with symbol values
v_1 … v_n and the check c, (1·v_1 + 2·v_2 + … + n·v_n + (n+1)·c) ≡ 0 (mod 31). Every weight is distinct and
non-zero modulo 31 (codes are at most 30 symbols), so every single-symbol substitution and every transposition of
two adjacent symbols (the check included) changes the sum and is caught.

Stored codes are normalised: upper case, no spaces or hyphens (`O` is read as `0`). Orders carry codes as customers
typed them, so `orders.coupon_code` is normalised before it is compared.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import sqlalchemy as sa

from winback.domain.errors import UserError
from winback.store import tables as t
from winback.store.bulk import insert_rows

ALPHABET = "023456789ABCDEFGHJKMNPQRSTVWXYZ"
MODULUS = len(ALPHABET)  # 31, prime
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
BODY_LENGTH = 8
MAX_LENGTH = MODULUS - 1  # data symbols + check; weights 1..30 stay distinct modulo 31
KINDS = ("percent", "amount", "free_shipping")
STATES = ("available", "issued", "redeemed", "expired", "void")

c = t.coupons.c


def normalise(code: str) -> str:
    """Upper case, without spaces or hyphens; `O` read as `0`."""
    return "".join(code.split()).replace("-", "").upper().replace("O", "0")


def check_symbol(body: str) -> str:
    """The check symbol that makes the weighted sum of body + check zero modulo 31."""
    n = len(body)
    total = sum((i + 1) * _VALUE[ch] for i, ch in enumerate(body))
    # (n+1)·c ≡ -total (mod 31) → c = -total · (n+1)^-1
    return ALPHABET[(-total * pow(n + 1, -1, MODULUS)) % MODULUS]


def valid_code(code: str) -> bool:
    """A well-formed code whose check symbol matches (case, spaces and hyphens do not matter)."""
    if not isinstance(code, str):
        return False
    norm = normalise(code)
    if not 2 <= len(norm) <= MAX_LENGTH or any(ch not in _VALUE for ch in norm):
        return False
    return sum((i + 1) * _VALUE[ch] for i, ch in enumerate(norm)) % MODULUS == 0


def valid_prefix(prefix: str) -> str:
    norm = normalise(prefix)
    bad = sorted({ch for ch in norm if ch not in _VALUE})
    if bad:
        raise UserError(f"coupon prefix {prefix!r} uses {''.join(bad)!r}; use only {ALPHABET}")
    if len(norm) + BODY_LENGTH + 1 > MAX_LENGTH:
        raise UserError(f"coupon prefix {prefix!r} is too long (at most {MAX_LENGTH - BODY_LENGTH - 1} symbols)")
    return norm


def make_code(rng: Random | None = None, *, prefix: str = "", length: int = BODY_LENGTH) -> str:
    """A random code: prefix + `length` random symbols + check symbol (normalised, no separators)."""
    rng = rng or secrets.SystemRandom()
    body = valid_prefix(prefix) + "".join(rng.choice(ALPHABET) for _ in range(length))
    return body + check_symbol(body)


def display(code: str) -> str:
    """Groups of four for reading aloud or typing: `7K3M-9QXT-R`."""
    norm = normalise(code)
    return "-".join(norm[i:i + 4] for i in range(0, len(norm), 4))


@dataclass(frozen=True)
class Coupon:
    code: str
    programme_id: str
    kind: str
    value: float
    state: str
    customer_id: str | None = None
    enrolment_id: int | None = None
    step: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None

    def as_context(self) -> dict[str, Any]:
        """What templates see as `coupon`."""
        return {"code": self.code, "kind": self.kind, "value": self.value, "expires_at": self.expires_at}


def _coupon(row: Any) -> Coupon:
    return Coupon(code=row.code, programme_id=row.programme_id, kind=row.kind, value=row.value, state=row.state,
                  customer_id=row.customer_id, enrolment_id=row.enrolment_id, step=row.step,
                  issued_at=row.issued_at, expires_at=row.expires_at)


def _check_kind(kind: str, value: float) -> None:
    if kind not in KINDS:
        raise UserError(f"coupon kind {kind!r} is not one of {', '.join(KINDS)}")
    if value < 0 or (kind == "percent" and not 0 < value <= 100):
        raise UserError(f"coupon value {value} does not fit kind {kind!r} (percent: 0 < value <= 100)")


def _existing(conn: sa.Connection, codes: Iterable[str]) -> set[str]:
    found: set[str] = set()
    codes = list(codes)
    for i in range(0, len(codes), 500):
        found.update(conn.scalars(sa.select(c.code).where(c.code.in_(codes[i:i + 500]))))
    return found


def _fresh_codes(conn: sa.Connection, count: int, rng: Random | None, prefix: str) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        batch = {make_code(rng, prefix=prefix) for _ in range(count - len(codes))} - codes
        codes |= batch - _existing(conn, batch)
    return sorted(codes)


def generate_pool(conn: sa.Connection, *, programme_id: str, count: int, kind: str, value: float, now: datetime,
                  prefix: str = "", rng: Random | None = None) -> list[str]:
    """Add `count` unique available codes to the programme's pool; returns them."""
    if count < 1:
        raise UserError("coupon count must be at least 1")
    _check_kind(kind, value)
    codes = _fresh_codes(conn, count, rng, prefix)
    insert_rows(conn, t.coupons, ["code"], [(code,) for code in codes],
                constants={"programme_id": programme_id, "kind": kind, "value": float(value), "state": "available",
                           "created_at": now})
    return codes


def _claim_available(conn: sa.Connection, programme_id: str, kind: str, value: float) -> str | None:
    query = (sa.select(c.code).where(c.programme_id == programme_id, c.state == "available", c.kind == kind,
                                     c.value == float(value)).order_by(c.code).limit(1))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return conn.scalar(query)  # SQLite: the caller holds the write lock (write_transaction)


def issue(conn: sa.Connection, *, programme_id: str, enrolment_id: int, step: str, customer_id: str, kind: str,
          value: float, expires_at: datetime | None, now: datetime, prefix: str = "",
          rng: Random | None = None) -> Coupon:
    """The coupon of one (enrolment, step): the one issued before (a retried send gets the same code), else one
    claimed from the programme's pool of the same kind and value, else a new code. Run inside a write
    transaction (`winback.store.db.write_transaction`)."""
    by_step = sa.select(t.coupons).where(c.enrolment_id == enrolment_id, c.step == step)
    row = conn.execute(by_step).first()
    if row is not None:
        return _coupon(row)
    values = {"state": "issued", "customer_id": customer_id, "enrolment_id": enrolment_id, "step": step,
              "issued_at": now, "expires_at": expires_at}
    try:
        with conn.begin_nested():
            code = _claim_available(conn, programme_id, kind, value)
            if code is not None and not conn.execute(
                    sa.update(t.coupons).where(c.code == code, c.state == "available").values(**values)).rowcount:
                code = None  # taken meanwhile (cannot happen under the lock; a fresh code is always correct)
            if code is None:
                code = _fresh_codes(conn, 1, rng, prefix)[0]
                conn.execute(sa.insert(t.coupons).values(code=code, programme_id=programme_id, kind=kind,
                                                         value=float(value), created_at=now, **values))
    except sa.exc.IntegrityError:  # another transaction issued this (enrolment, step) first
        pass
    return _coupon(conn.execute(by_step).one())


@dataclass
class RedeemReport:
    redeemed: int = 0
    other_customer: int = 0  # an order carried a code issued to someone else
    after_expiry: int = 0  # an order carried its own code after the code expired
    before_issue: int = 0  # an order dated before the code was sent (a typo, a guess, or a clock gone wrong)
    unknown: int = 0  # a code that is not ours (or mistyped)
    codes: list[str] = field(default_factory=list)

    def __int__(self) -> int:
        return self.redeemed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def redeem_orders(conn: sa.Connection, *, now: datetime, since: datetime | None = None) -> RedeemReport:
    """Mark issued (or already expired) codes redeemed by the first order of the coupon's customer that carries
    the code between its issue and its expiry; orders updated after `since` only (all when None). Idempotent: a redeemed
    code stays as it is. Returns counts; `int(report)` is the number redeemed now."""
    o = t.orders.c
    query = sa.select(o.order_id, o.customer_id, o.ordered_at, o.coupon_code).where(
        o.coupon_code.is_not(None), o.coupon_code != "")
    if since is not None:
        query = query.where(o.updated_at > since)
    orders: dict[str, list[Any]] = {}
    for row in conn.execute(query):
        orders.setdefault(normalise(row.coupon_code), []).append(row)
    report = RedeemReport()
    if not orders:
        return report
    coupons: dict[str, Any] = {}
    codes = list(orders)
    for i in range(0, len(codes), 500):
        for row in conn.execute(sa.select(t.coupons).where(c.code.in_(codes[i:i + 500]))):
            coupons[row.code] = row
    for code, rows in orders.items():
        coupon = coupons.get(code)
        if coupon is None or coupon.state in ("available", "void"):
            report.unknown += len(rows)
            continue
        if coupon.state == "redeemed":
            continue
        winner = None
        for order in sorted(rows, key=lambda r: (r.ordered_at, r.order_id)):
            if order.customer_id != coupon.customer_id:
                report.other_customer += 1
            elif coupon.expires_at is not None and order.ordered_at > coupon.expires_at:
                report.after_expiry += 1
            elif coupon.issued_at is not None and order.ordered_at < coupon.issued_at:
                report.before_issue += 1
            elif winner is None:
                winner = order
        if winner is not None:
            done = conn.execute(sa.update(t.coupons).where(c.code == code, c.state.in_(("issued", "expired")))
                                .values(state="redeemed", order_id=winner.order_id, redeemed_at=now))
            if done.rowcount:
                report.redeemed += 1
                report.codes.append(code)
    return report


def expire(conn: sa.Connection, now: datetime) -> int:
    """Issued codes past their expiry become expired; returns how many."""
    return conn.execute(sa.update(t.coupons).where(c.state == "issued", c.expires_at.is_not(None),
                                                   c.expires_at < now).values(state="expired")).rowcount


def counts(conn: sa.Connection, *, programme_id: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(c.programme_id, c.state, sa.func.count()).group_by(c.programme_id, c.state).order_by(
        c.programme_id, c.state)
    if programme_id is not None:
        query = query.where(c.programme_id == programme_id)
    if state is not None:
        query = query.where(c.state == state)
    return [{"programme": p, "state": s, "count": n} for p, s, n in conn.execute(query)]


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ("code", "kind", "value", "expires_at", "customer_id", "state")


def neutralise(cell: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (a leading quote before = + - @ TAB CR)."""
    text = "" if cell is None else cell.isoformat() if isinstance(cell, datetime) else str(cell)
    return "'" + text if text.startswith(_FORMULA) else text


def export_csv(conn: sa.Connection, path: Path | str, *, programme_id: str | None = None,
               state: str | None = None) -> int:
    """Write codes for a shop platform (code, kind, value, expires_at, customer_id, state); returns the row count."""
    if state is not None and state not in STATES:
        raise UserError(f"coupon state {state!r} is not one of {', '.join(STATES)}")
    query = sa.select(*(c[name] for name in EXPORT_COLUMNS)).order_by(c.code)
    if programme_id is not None:
        query = query.where(c.programme_id == programme_id)
    if state is not None:
        query = query.where(c.state == state)
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for row in conn.execute(query):
            writer.writerow([neutralise(v) for v in row])
            n += 1
    return n


def expires_at(sent_at: datetime, incentive: Any) -> datetime | None:
    """When a coupon for `incentive` sent at `sent_at` stops working."""
    expires = getattr(incentive, "expires", None)
    if expires is None and isinstance(incentive, dict):
        expires = incentive.get("expires")
    if expires is None:
        return None
    return sent_at + (expires if isinstance(expires, timedelta) else timedelta(seconds=float(expires)))


def issue_for_drafts(conn: sa.Connection, drafts: Iterable[Any]) -> dict[tuple[int, str], dict[str, Any]]:
    """The coupons of a batch of drafts that carry an incentive, keyed by (enrolment_id, step)."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for d in drafts:
        inc = d.incentive
        if inc is None:
            continue
        get = inc.get if isinstance(inc, dict) else lambda k, i=inc: getattr(i, k)
        coupon = issue(conn, programme_id=d.programme_id, enrolment_id=d.enrolment_id, step=d.step,
                       customer_id=d.recipient.customer_id, kind=get("kind"), value=float(get("value") or 0),
                       expires_at=expires_at(d.sent_at, inc), now=d.sent_at)
        out[(d.enrolment_id, d.step)] = coupon.as_context()
    return out
