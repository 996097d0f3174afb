"""Inbound processing: bounces, complaints and auto-replies into the store, each message once.

Every message is recorded in `inbound_messages` keyed by (source, source_key) before anything else, in the same
transaction as its effects, so processing a mailbox twice changes nothing. Effects per recipient outcome:

- hard → the address is suppressed at once (basis `hard_bounce`) and a `bounce` engagement is written;
- soft → `address_bounces.consecutive_soft` + 1; more than the soft-bounce limit in a row suppresses;
- blocked (5.7.x) → a `sender_reputation` alert for the recipient domain; the address is NOT suppressed;
- complaint (ARF abuse) → suppressed (basis `complaint`) and a `complaint` engagement;
- other feedback, delays → recorded only; auto-replies → ignored;
- malformed or unknown → quarantined with the reason and the first 256 KB of the raw bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import imaplib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from winback.domain.errors import UserError, WinbackError
from winback.ingest.parse import CellError, parse_email
from winback.ingest.validate import content_hash
from winback.messaging.bounces import Inbound, Recipient, classify_inbound, outcome_for_status
from winback.store import tables as t

log = logging.getLogger(__name__)

RAW_CAP = 256 * 1024
CHANNEL = "email"
_OUR_ID = re.compile(r"^<wb\.(\d+)\.([^@>]+)@[^>]+>$")
_SUPPRESSION_HASH = ("channel", "address_key", "address", "basis", "source")


class WebhookRejected(WinbackError):
    """A provider webhook request that is unsigned, wrongly signed or too old (a replay)."""


# --- addresses ---------------------------------------------------------------------------------------------------

def normalise_address(address: str) -> str:
    """The suppression key of an address, as `winback.ingest` computes `email_key`."""
    try:
        return parse_email(address).key
    except CellError:
        return address.strip().lower()


def _customer_for(conn: sa.Connection, key: str) -> str | None:
    return conn.execute(sa.select(t.customers.c.customer_id).where(t.customers.c.email_key == key)).scalar()


def suppress(conn: sa.Connection, *, address: str, basis: str, source: str, now: datetime) -> bool:
    """Suppress an address on email unless it already is; True when a row was added."""
    key = normalise_address(address)
    s = t.suppressions
    if conn.execute(sa.select(s.c.basis).where(s.c.channel == CHANNEL, s.c.address_key == key)).first():
        return False
    row = {"channel": CHANNEL, "address_key": key, "address": address[:320], "basis": basis, "source": source[:200]}
    conn.execute(s.insert().values(**row, at=now, row_hash=content_hash(row, _SUPPRESSION_HASH), import_id=None,
                                   updated_at=now))
    return True


def reset_soft_bounces(conn: sa.Connection, addresses: Iterable[str], *, now: datetime) -> int:
    """A successful delivery ends a run of soft bounces; returns how many counters were reset."""
    keys = sorted({normalise_address(a) for a in addresses})
    b = t.address_bounces
    done = 0
    for i in range(0, len(keys), 2_000):
        done += conn.execute(b.update().where(b.c.channel == CHANNEL, b.c.address_key.in_(keys[i:i + 2_000]),
                                              b.c.consecutive_soft > 0)
                             .values(consecutive_soft=0, updated_at=now)).rowcount
    return done


# --- one message ---------------------------------------------------------------------------------------------------

def already_processed(conn: sa.Connection, *, source: str, source_key: str) -> bool:
    m = t.inbound_messages.c
    return conn.execute(sa.select(m.id).where(m.source == source, m.source_key == source_key)).first() is not None


def process_raw(conn: sa.Connection, *, source: str, source_key: str, raw: bytes, now: datetime,
                soft_limit: int = 7) -> str:
    """Classify and apply one raw message inside the caller's transaction; returns its status or `duplicate`."""
    if already_processed(conn, source=source, source_key=source_key):
        return "duplicate"
    return _apply(conn, classify_inbound(raw), source=source, source_key=source_key, raw=raw, now=now,
                  soft_limit=soft_limit)


def _apply(conn: sa.Connection, inbound: Inbound, *, source: str, source_key: str, raw: bytes | None,
           now: datetime, soft_limit: int) -> str:
    effects: list[dict[str, Any]] = []
    if inbound.kind == "malformed" or (inbound.kind == "other" and not _actionable(inbound)):
        status, reason = "quarantined", inbound.reason or "not understood"
    elif inbound.kind == "auto_reply":
        status, reason = "ignored", "auto-reply"
    else:
        status, reason = "processed", inbound.reason
        for rcpt in inbound.recipients:
            effects.append(_apply_recipient(conn, rcpt, inbound=inbound, source=f"{source}#{source_key}", now=now,
                                            soft_limit=soft_limit))
        if any(e.get("effect") == "no address" for e in effects) and not any(e.get("effect") != "no address"
                                                                            for e in effects):
            status, reason = "quarantined", "no recipient address"
    detail = {**inbound.detail, "recipients": [_recipient_detail(r) for r in inbound.recipients], "effects": effects}
    conn.execute(t.inbound_messages.insert().values(
        source=source[:200], source_key=source_key[:300], received_at=now, kind=inbound.kind, status=status,
        reason=reason, message_id=(inbound.message_id or None) and inbound.message_id[:255], detail=detail,
        raw=raw[:RAW_CAP] if status == "quarantined" and raw is not None else None))
    return status


def _actionable(inbound: Inbound) -> bool:
    return any(r.outcome not in {"unknown"} for r in inbound.recipients)


def _recipient_detail(r: Recipient) -> dict[str, Any]:
    return {k: v for k, v in {"address": r.address, "outcome": r.outcome, "status": r.status, "action": r.action,
                              "diagnostic": r.diagnostic, "feedback_type": r.feedback_type}.items() if v is not None}


def _apply_recipient(conn: sa.Connection, rcpt: Recipient, *, inbound: Inbound, source: str, now: datetime,
                     soft_limit: int) -> dict[str, Any]:
    if rcpt.address is None:
        return {"effect": "no address", "outcome": rcpt.outcome}
    key = normalise_address(rcpt.address)
    out: dict[str, Any] = {"address": key, "outcome": rcpt.outcome}
    if rcpt.outcome == "hard":
        out["suppressed"] = suppress(conn, address=rcpt.address, basis="hard_bounce", source=source, now=now)
        _bounce_counter(conn, key=key, now=now, hard=True, code=rcpt.status)
        out["engagement"] = _engagement(conn, kind="bounce", key=key, inbound=inbound, now=now, reason="hard",
                                        detail={"status": rcpt.status, "diagnostic": rcpt.diagnostic})
    elif rcpt.outcome == "soft":
        n = _bounce_counter(conn, key=key, now=now, hard=False, code=rcpt.status)
        out["consecutive_soft"] = n
        if n > soft_limit:
            out["suppressed"] = suppress(conn, address=rcpt.address, basis="soft_bounce_limit", source=source, now=now)
    elif rcpt.outcome == "blocked":
        domain = key.rsplit("@", 1)[-1]
        _alert(conn, scope=domain, now=now, message=f"{domain} refused mail for policy or reputation ({rcpt.status})",
               detail={"status": rcpt.status, "diagnostic": rcpt.diagnostic, "message_id": inbound.message_id})
        out["alert"] = domain
    elif rcpt.outcome == "complaint":
        address = rcpt.address
        if inbound.detail.get("address_from") == "original To":  # redacted: trust our own Message-ID instead
            address = _enrolment_email(conn, inbound.message_id) or address
            key = normalise_address(address)
            out["address"] = key
        out["suppressed"] = suppress(conn, address=address, basis="complaint", source=source, now=now)
        out["engagement"] = _engagement(conn, kind="complaint", key=key, inbound=inbound, now=now,
                                        reason=rcpt.feedback_type, detail={"feedback_type": rcpt.feedback_type})
    return out


def _enrolment_email(conn: sa.Connection, message_id: str | None) -> str | None:
    m = _OUR_ID.match(message_id or "")
    if m is None:
        return None
    e, c = t.enrolments.c, t.customers.c
    return conn.execute(sa.select(c.email).select_from(t.enrolments.join(t.customers, e.customer_id == c.customer_id))
                        .where(e.enrolment_id == int(m.group(1)))).scalar()


def _bounce_counter(conn: sa.Connection, *, key: str, now: datetime, hard: bool, code: str | None) -> int:
    b = t.address_bounces
    row = conn.execute(sa.select(b.c.consecutive_soft).where(b.c.channel == CHANNEL, b.c.address_key == key)).first()
    n = (row[0] if row else 0) + (0 if hard else 1)
    values: dict[str, Any] = {"consecutive_soft": n, "last_code": code, "updated_at": now,
                              ("last_hard_at" if hard else "last_soft_at"): now}
    if row is None:
        conn.execute(b.insert().values(channel=CHANNEL, address_key=key, **values))
    else:
        conn.execute(b.update().where(b.c.channel == CHANNEL, b.c.address_key == key).values(**values))
    return n


def _engagement(conn: sa.Connection, *, kind: str, key: str, inbound: Inbound, now: datetime, reason: str | None,
                detail: dict[str, Any]) -> bool:
    enrolment_id, step, customer_id = None, None, _customer_for(conn, key)
    m = _OUR_ID.match(inbound.message_id or "")
    if m is not None:
        e = t.enrolments.c
        row = conn.execute(sa.select(e.enrolment_id, e.customer_id).where(e.enrolment_id == int(m.group(1)))).first()
        if row is not None and (customer_id is None or customer_id == row.customer_id):
            enrolment_id, step, customer_id = row.enrolment_id, m.group(2), row.customer_id
    if customer_id is None:
        return False  # an address we never had: the suppression is enough
    conn.execute(t.engagements.insert().values(
        customer_id=customer_id, enrolment_id=enrolment_id, step=step, message_id=inbound.message_id, kind=kind,
        at=now, machine=False, reason=reason, detail={k: v for k, v in detail.items() if v is not None}))
    return True


def _alert(conn: sa.Connection, *, scope: str, now: datetime, message: str, detail: dict[str, Any]) -> None:
    """One open alert per recipient domain; later blocks add to its count."""
    a = t.alerts.c
    row = conn.execute(sa.select(a.id, a.detail).where(a.kind == "sender_reputation", a.scope == scope,
                                                       a.acknowledged_at.is_(None))).first()
    if row is None:
        conn.execute(t.alerts.insert().values(kind="sender_reputation", scope=scope, message=message,
                                              detail={**detail, "count": 1}, created_at=now))
    else:
        old = dict(row.detail or {})
        conn.execute(t.alerts.update().where(a.id == row.id).values(
            detail={**old, **detail, "count": int(old.get("count", 1)) + 1, "last_at": now.isoformat()}))


# --- sources -------------------------------------------------------------------------------------------------------

def process_maildir(engine: sa.Engine, path: str | os.PathLike[str], *, now: datetime,
                    soft_limit: int = 7) -> Counter[str]:
    """Process every message in PATH/new; each moves to PATH/cur only after its store commit."""
    root = Path(path)
    new, cur = root / "new", root / "cur"
    if not new.is_dir():
        raise UserError(f"{root}: not a maildir (no new/ folder)")
    cur.mkdir(exist_ok=True)
    source = f"maildir:{root.resolve()}"
    counts: Counter[str] = Counter()
    for file in sorted(new.iterdir()):
        if file.is_dir():
            continue
        key = file.name.split(":", 1)[0]
        try:
            raw = file.read_bytes()
            with engine.begin() as conn:
                counts[process_raw(conn, source=source, source_key=key, raw=raw, now=now, soft_limit=soft_limit)] += 1
            file.rename(cur / f"{key}:2,S")
        except Exception as exc:  # one bad file must not stop the loop; it stays in new/ for the next run
            log.warning("inbound %s: %s", file, exc)
            counts["error"] += 1
    return counts


def process_imap(engine: sa.Engine, url: str, *, now: datetime, soft_limit: int = 7) -> Counter[str]:
    """Process unseen messages of `imap[s]://user:password@host[:port]/MAILBOX`; marks each \\Seen after commit."""
    parts = urlsplit(url)
    if parts.scheme not in {"imap", "imaps"} or not parts.hostname:
        raise UserError(f"not an IMAP URL: {url!r} (use imaps://user:password@host/INBOX)")
    mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
    cls = imaplib.IMAP4_SSL if parts.scheme == "imaps" else imaplib.IMAP4
    counts: Counter[str] = Counter()
    try:
        imap = cls(parts.hostname, parts.port or (993 if parts.scheme == "imaps" else 143), timeout=30)
    except OSError as exc:
        raise UserError(f"IMAP {parts.hostname}: cannot connect ({exc})") from None
    with imap:
        try:
            imap.login(unquote(parts.username or ""), unquote(parts.password or ""))
            if imap.select(mailbox)[0] != "OK":
                raise imaplib.IMAP4.error(f"no mailbox {mailbox!r}")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise UserError(f"IMAP {parts.hostname}: {exc}") from None
        validity = (imap.response("UIDVALIDITY")[1] or [b"0"])[0]
        uidvalidity = validity.decode() if isinstance(validity, bytes) else str(validity)
        source = f"imap://{parts.hostname}/{mailbox}"
        _typ, data = imap.uid("SEARCH", "UNSEEN")
        for uid in (data[0] or b"").split():
            try:
                _typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((item[1] for item in fetched if isinstance(item, tuple)), b"")
                with engine.begin() as conn:
                    counts[process_raw(conn, source=source, source_key=f"{uidvalidity}:{uid.decode()}", raw=raw,
                                       now=now, soft_limit=soft_limit)] += 1
                imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
            except (imaplib.IMAP4.error, OSError, sa.exc.SQLAlchemyError) as exc:
                log.warning("inbound imap uid %s: %s", uid, exc)
                counts["error"] += 1
    return counts


# --- provider webhooks ---------------------------------------------------------------------------------------------

SIGNATURE_HEADER = "x-winback-signature"
TIMESTAMP_HEADER = "x-winback-timestamp"


def sign_provider_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The signature a provider sends: `v1=` + hex HMAC-SHA256 of `{timestamp}.{body}`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify_provider_webhook(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, *,
                            tolerance_s: int = 300) -> None:
    """Refuse (raise WebhookRejected) unsigned, wrongly signed, or replayed (timestamp outside tolerance) requests."""
    if not secret:
        raise WebhookRejected("no webhook secret configured")
    lower = {k.lower(): v for k, v in headers.items()}
    signature, stamp = lower.get(SIGNATURE_HEADER), lower.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        raise WebhookRejected("unsigned request")
    try:
        ts = int(stamp)
    except ValueError:
        raise WebhookRejected("bad timestamp") from None
    if abs(now.timestamp() - ts) > tolerance_s:
        raise WebhookRejected("timestamp outside the replay window")
    expected = sign_provider_webhook(secret, body, ts)
    if not any(hmac.compare_digest(expected, s.strip()) for s in signature.split(",")):
        raise WebhookRejected("bad signature")


def process_provider_events(engine: sa.Engine, events: list[Mapping[str, Any]], now: datetime, *,
                            provider: str = "generic", soft_limit: int = 7) -> Counter[str]:
    """Apply a verified JSON event list: {id, type: delivered|bounce|complaint, email, status, message_id}."""
    source = f"webhook:{provider}"
    counts: Counter[str] = Counter()
    for event in events:
        try:
            with engine.begin() as conn:
                counts[_provider_event(conn, event, source=source, now=now, soft_limit=soft_limit)] += 1
        except Exception as exc:  # the loop continues; the event stays unrecorded for the provider's retry
            log.warning("provider event: %s", exc)
            counts["error"] += 1
    return counts


def _provider_event(conn: sa.Connection, event: Mapping[str, Any], *, source: str, now: datetime,
                    soft_limit: int) -> str:
    if not isinstance(event, Mapping):
        event = {"value": repr(event)[:1000]}
    raw = json.dumps(event, sort_keys=True, default=str).encode()
    key = str(event.get("id") or "sha256:" + hashlib.sha256(raw).hexdigest())
    if already_processed(conn, source=source, source_key=key):
        return "duplicate"
    kind, address, status = str(event.get("type", "")).lower(), event.get("email"), event.get("status")
    mid = event.get("message_id")
    mid = str(mid) if mid else None
    if not isinstance(address, str) or "@" not in address or not event.get("id"):
        inbound = Inbound(kind="malformed", message_id=mid, reason="event without an id or an email address")
    elif kind == "delivered":
        reset_soft_bounces(conn, [address], now=now)
        inbound = Inbound(kind="dsn", message_id=mid, reason="delivered", recipients=(
            Recipient(address=address, outcome="unknown", status=str(status or "2.0.0"), action="delivered"),))
    elif kind == "bounce":
        outcome = outcome_for_status(str(status)) if status else "unknown"
        inbound = Inbound(kind="dsn" if outcome != "unknown" else "malformed", message_id=mid,
                          reason=None if outcome != "unknown" else "bounce without a status code",
                          recipients=(Recipient(address=address, outcome=outcome,
                                                status=str(status) if status else None, action="failed",
                                                diagnostic=event.get("diagnostic")),))
    elif kind == "complaint":
        ftype = str(event.get("feedback_type") or "abuse").lower()
        inbound = Inbound(kind="arf", message_id=mid, recipients=(Recipient(
            address=address, outcome="complaint" if ftype == "abuse" else "other_feedback", feedback_type=ftype),))
    else:
        inbound = Inbound(kind="malformed", message_id=mid, reason=f"unknown event type {kind[:40]!r}")
    return _apply(conn, inbound, source=source, source_key=key, raw=raw, now=now, soft_limit=soft_limit)
