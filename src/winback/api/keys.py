"""API keys for servers that call the real-time API: made once, stored as a SHA-256 of the secret, revocable;
and what an API process keeps per key in memory (verified keys, rate-limit buckets).

A key reads `wbk_<key_id>_<secret>`: `key_id` (16 hex digits) finds the row, `secret` (32 random bytes, URL-safe
base64) proves the caller. A plain SHA-256 is enough for a secret of 256 random bits: slow password hashes exist
to stop guessing of low-entropy passwords, and no amount of guessing reaches a 256-bit secret, so each request
costs one fast hash rather than a deliberate tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from winback.domain.errors import NotFoundError, UserError
from winback.store import tables as t
from winback.store.db import write_transaction

__all__ = ["PREFIX", "SCOPES", "ApiKey", "KeyCache", "RateLimiter", "check_scopes", "create_key", "list_keys",
           "parse_key", "revoke_key", "verify_key"]

PREFIX = "wbk"
SCOPES = ("orders:write", "events:write", "feedback:write", "subscriptions:write", "webhooks:write",
          # the admin app (dashboard REST API): the key acts with this role (docs/users.md)
          "role:viewer", "role:account_manager", "role:marketer", "role:admin")
SECRET_BYTES = 32
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is a hint, not an audit log: no write per request
k = t.api_keys.c


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    scopes: tuple[str, ...] | None  # None = every scope
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        """True when the key may use `scope`."""
        return self.scopes is None or scope in self.scopes

    def as_dict(self) -> dict[str, Any]:
        """The key's public facts, times in ISO 8601."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"key_id": self.key_id, "name": self.name, "scopes": list(self.scopes) if self.scopes else None,
                "created_at": iso(self.created_at), "last_used_at": iso(self.last_used_at),
                "revoked_at": iso(self.revoked_at), "revoked": self.revoked_at is not None}


def _key(row: Any) -> ApiKey:
    scopes = tuple(row.scopes) if row.scopes is not None else None
    return ApiKey(key_id=row.key_id, name=row.name, scopes=scopes, created_at=row.created_at,
                  last_used_at=row.last_used_at, revoked_at=row.revoked_at)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_scopes(scopes: Iterable[str] | None) -> list[str] | None:
    """The scopes as stored (sorted, unique), or None for every scope; refuses unknown names."""
    if scopes is None:
        return None
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise UserError(f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    return wanted or None


def create_key(engine: sa.Engine, *, name: str, scopes: Iterable[str] | None = None, now: datetime) -> str:
    """Store a new key and return it in full; this is the only time the secret exists outside the caller."""
    name = name.strip()
    if not name or len(name) > 200:
        raise UserError("a key needs a name of 1 to 200 characters (who or what uses it)")
    stored_scopes = check_scopes(scopes)
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(SECRET_BYTES)
    with write_transaction(engine) as conn:
        conn.execute(t.api_keys.insert().values(key_id=key_id, name=name, secret_hash=_digest(secret),
                                                scopes=stored_scopes, created_at=now))
    return f"{PREFIX}_{key_id}_{secret}"


def parse_key(presented: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    prefix, _, rest = presented.strip().partition("_")
    key_id, _, secret = rest.partition("_")  # the secret may itself contain `_`
    if prefix != PREFIX or len(key_id) != 16 or not all(ch in "0123456789abcdef" for ch in key_id) or len(secret) < 32:
        return None
    return key_id, secret


def verify_key(engine: sa.Engine, presented: str, *, now: datetime) -> ApiKey | None:
    """The key when `presented` is a live key (right secret, not revoked), else None."""
    parsed = parse_key(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.api_keys).where(k.key_id == key_id)).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)) or row.revoked_at is not None:
        return None
    key = _key(row)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        with engine.begin() as conn:  # conditional, so concurrent requests write it once
            conn.execute(t.api_keys.update().where(
                k.key_id == key_id, sa.or_(k.last_used_at.is_(None), k.last_used_at <= now - LAST_USED_EVERY))
                .values(last_used_at=now))
    return key


def _id_of(key_or_id: str) -> str:
    parsed = parse_key(key_or_id)
    return parsed[0] if parsed else key_or_id.strip()


def revoke_key(engine: sa.Engine, key_id: str, *, now: datetime) -> ApiKey:
    """Revoke a key (by id, or the full key); revoking a revoked key changes nothing."""
    key_id = _id_of(key_id)
    with write_transaction(engine) as conn:
        conn.execute(t.api_keys.update().where(k.key_id == key_id, k.revoked_at.is_(None)).values(revoked_at=now))
        row = conn.execute(sa.select(t.api_keys).where(k.key_id == key_id)).first()
    if row is None:
        raise NotFoundError(f"no API key {key_id!r} (see `winback apikeys list`)")
    return _key(row)


def list_keys(engine: sa.Engine, *, include_revoked: bool = True) -> list[ApiKey]:
    """Every key, oldest first."""
    query = sa.select(t.api_keys).order_by(k.created_at, k.key_id)
    if not include_revoked:
        query = query.where(k.revoked_at.is_(None))
    with engine.connect() as conn:
        return [_key(row) for row in conn.execute(query)]


class KeyCache:
    """Verified keys, remembered for `ttl` seconds so most requests neither hash nor query.

    The price is that a revoked key keeps working in this process until its entry expires (at most `ttl`).
    Only live keys are remembered: an unknown or revoked key is looked up every time.
    """

    def __init__(self, ttl: float = 30.0, *, timer: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.timer = timer
        self._entries: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def get(self, presented: str) -> ApiKey | None:
        """The cached key for this exact presented string, while fresh."""
        with self._lock:
            entry = self._entries.get(presented)
            if entry is None:
                return None
            if self.timer() >= entry[1]:
                del self._entries[presented]
                return None
            return entry[0]

    def put(self, presented: str, key: ApiKey) -> None:
        """Remember a verified key; stale entries are dropped on the way."""
        at = self.timer()
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries = {p: e for p, e in self._entries.items() if e[1] > at}
            self._entries[presented] = (key, at + self.ttl)


class RateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `rate` per second (0 = no limit).

    The buckets live in this process: with several API processes, each allows the full rate.
    """

    def __init__(self, rate: float, burst: int, *, timer: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.timer = timer
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> float:
        """0 when the request may go ahead (a token is used), else the seconds until a token is free."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            at = self.timer()
            tokens, last = self._buckets.get(key_id, (float(self.burst), at))
            tokens = min(float(self.burst), tokens + (at - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, at)
                return 0.0
            self._buckets[key_id] = (tokens, at)
            return (1 - tokens) / self.rate
