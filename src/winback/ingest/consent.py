"""Applying consent changes: suppression wins, and every refused attempt is written down."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winback.domain.entities import CONSENTS
from winback.ingest.parse import phone_key
from winback.ingest.validate import content_hash
from winback.store import tables as t


@dataclass(frozen=True)
class ConsentRequest:
    customer_id: str
    channel: str
    status: str
    basis: str | None
    source: str | None
    at: datetime | None


def address_keys(conn: sa.Connection, customer_ids: set[str]) -> dict[str, dict[str, str | None]]:
    """customer_id -> {channel: suppression key of the customer's address on that channel}."""
    keys: dict[str, dict[str, str | None]] = {}
    ids = list(customer_ids)
    for i in range(0, len(ids), 2_000):
        stmt = sa.select(t.customers.c.customer_id, t.customers.c.email_key, t.customers.c.phone).where(
            t.customers.c.customer_id.in_(ids[i:i + 2_000]))
        for cid, email_key, phone in conn.execute(stmt):
            phone_k = phone_key(phone) if phone else None
            keys[cid] = {"email": email_key, "sms": phone_k, "phone": phone_k}
    return keys


def suppressed(conn: sa.Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, Any]]:
    """(channel, address_key) -> (basis, at) for the pairs that are suppressed."""
    found: dict[tuple[str, str], tuple[str, Any]] = {}
    items = list(pairs)
    s = t.suppressions.c
    for i in range(0, len(items), 2_000):
        stmt = sa.select(s.channel, s.address_key, s.basis, s.at).where(
            sa.tuple_(s.channel, s.address_key).in_(items[i:i + 2_000]))
        for channel, key, basis, at in conn.execute(stmt):
            found[(channel, key)] = (basis, at)
    return found


def apply_consents(
    conn: sa.Connection, requests: list[ConsentRequest], *, now: datetime, import_id: str | None
) -> Counter[str]:
    """Upsert the latest consent per (customer, channel); a subscribe for a suppressed address is refused."""
    outcome: Counter[str] = Counter()
    keys = address_keys(conn, {r.customer_id for r in requests})
    pairs = {(r.channel, k) for r in requests if (k := keys.get(r.customer_id, {}).get(r.channel))}
    blocked = suppressed(conn, pairs) if pairs else {}
    c = t.consents.c
    ids = list({r.customer_id for r in requests})
    current: dict[tuple[str, str], str] = {}
    for i in range(0, len(ids), 2_000):
        stmt = sa.select(c.customer_id, c.channel, c.row_hash).where(c.customer_id.in_(ids[i:i + 2_000]))
        current.update({(cid, ch): h for cid, ch, h in conn.execute(stmt)})

    history = []
    for req in requests:
        values = asdict(req)
        key = keys.get(req.customer_id, {}).get(req.channel)
        block = blocked.get((req.channel, key)) if key else None
        if req.status == "subscribed" and block is not None:
            basis, at = block
            since = f" since {at:%Y-%m-%d}" if at else ""
            history.append({**values, "outcome": "refused_suppressed", "import_id": import_id, "recorded_at": now,
                            "note": f"address is suppressed on {req.channel} ({basis}{since}); it stays suppressed"})
            outcome["refused_suppressed"] += 1
            outcome["unchanged"] += 1
            continue
        row_hash = content_hash(values, CONSENTS.names)
        old = current.get((req.customer_id, req.channel))
        if old == row_hash:
            outcome["unchanged"] += 1
            continue
        row = {**values, "row_hash": row_hash, "import_id": import_id, "updated_at": now}
        if old is None:
            conn.execute(t.consents.insert().values(**row))
            outcome["inserted"] += 1
        else:
            conn.execute(t.consents.update().where(c.customer_id == req.customer_id, c.channel == req.channel)
                         .values(**row))
            outcome["updated"] += 1
        current[(req.customer_id, req.channel)] = row_hash
        history.append({**values, "outcome": "applied", "import_id": import_id, "recorded_at": now, "note": None})
    if history:
        conn.execute(t.consent_history.insert(), history)
    return outcome
