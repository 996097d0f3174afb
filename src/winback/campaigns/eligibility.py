"""Who may enter a programme: every customer the audience or a trigger names, less those who could never be
reached — checked before the holdout split, so the holdout and the treated group are alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from winback.campaigns.definition import Programme
from winback.ingest.parse import phone_key
from winback.store import tables as t
from winback.store.bulk import any_of

# The order exclusions are counted in: a customer is counted once, under the first reason that applies.
EXCLUSIONS = ("unknown_customer", "invalid_address", "suppressed", "no_consent", "already_enrolled")
CHUNK = 5_000


@dataclass
class Eligibility:
    eligible: list[str] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    cycles: dict[str, int] = field(default_factory=dict)  # customer → cycle number their new enrolment gets


def programme_channels(programme: Programme) -> list[str]:
    """The channels the programme's send steps use (none for a programme of tasks only)."""
    channels = []
    for step in programme.steps:
        if step.send is not None and step.send.channel not in channels:
            channels.append(step.send.channel)
    return channels


def check_eligibility(
    conn: sa.Connection, programme: Programme, customer_ids: Sequence[str], *, now: datetime,
) -> Eligibility:
    """Split `customer_ids` into those who may enter now and counts of the rest by reason."""
    result = Eligibility()
    channels = [c for c in programme_channels(programme) if c in ("email", "sms")]
    marketing = {s.send.channel for s in programme.steps if s.send is not None and s.send.marketing}
    previous = _previous_enrolments(conn, programme.programme)
    for start in range(0, len(customer_ids), CHUNK):
        chunk = list(dict.fromkeys(customer_ids[start:start + CHUNK]))
        contacts = _contacts(conn, chunk)
        blocked = _suppressed(conn, contacts, channels)
        consent = _consents(conn, chunk, channels) if channels else {}
        for cid in chunk:
            reason = _exclusion(programme, cid, contacts, blocked, consent, channels, marketing, previous, now)
            if reason is None:
                result.eligible.append(cid)
                result.cycles[cid] = previous[cid][0] + 1 if cid in previous else 1
            else:
                result.excluded[reason] += 1
    return result


def _exclusion(programme: Programme, cid: str, contacts: dict[str, tuple[str | None, str | None, str | None]],
               blocked: set[tuple[str, str]], consent: dict[tuple[str, str], str], channels: list[str],
               marketing: set[str],
               previous: dict[str, tuple[int, bool, datetime | None]], now: datetime) -> str | None:
    if cid not in contacts:
        return "unknown_customer"
    email, email_key, phone = contacts[cid]
    if channels:
        address = {"email": email, "sms": phone}
        keys = {"email": email_key, "sms": phone_key(phone) if phone else None}
        reachable = [ch for ch in channels if address[ch]]
        if not reachable:
            return "invalid_address"
        open_channels = [ch for ch in reachable if (ch, keys[ch]) not in blocked]
        if not open_channels:
            return "suppressed"
        # Consent is asked for marketing messages only; transactional ones go regardless.
        statuses = [consent.get((cid, ch)) for ch in open_channels if ch in marketing]
        if statuses and (all(s == "unsubscribed" for s in statuses)
                         or (programme.consent == "explicit" and "subscribed" not in statuses)):
            return "no_consent"
    if cid in previous:
        _cycle, open_, finished = previous[cid]
        gap = programme.entry.reentry
        if open_ or gap == "never" or finished is None or now - finished < gap:  # type: ignore[operator]
            return "already_enrolled"
    return None


def _previous_enrolments(conn: sa.Connection, programme_id: str) -> dict[str, tuple[int, bool, datetime | None]]:
    """customer → (highest cycle, still in it, when the last one ended)."""
    e = t.enrolments.c
    stmt = sa.select(e.customer_id, sa.func.max(e.cycle), sa.func.max(sa.case((e.state == "active", 1), else_=0)),
                     sa.func.max(e.finished_at)).where(e.programme_id == programme_id).group_by(e.customer_id)
    out: dict[str, tuple[int, bool, datetime | None]] = {}
    finished_type = t.enrolments.c.finished_at.type
    for cid, cycle, active, finished in conn.execute(stmt):
        if isinstance(finished, str):  # SQLite returns max() of a typed column as text
            finished = finished_type.process_result_value(finished, conn.dialect)  # type: ignore[attr-defined]
        out[cid] = (int(cycle), bool(active), finished)
    return out


def _contacts(conn: sa.Connection, ids: list[str]) -> dict[str, tuple[str | None, str | None, str | None]]:
    c = t.customers.c
    rows = conn.execute(sa.select(c.customer_id, c.email, c.email_key, c.phone).where(any_of(conn, c.customer_id, ids)))
    return {cid: (email, key, phone) for cid, email, key, phone in rows}


def _suppressed(conn: sa.Connection, contacts: dict[str, tuple[str | None, str | None, str | None]],
                channels: Iterable[str]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for _email, key, phone in contacts.values():
        if "email" in channels and key:
            pairs.add(("email", key))
        if "sms" in channels and phone:
            pairs.add(("sms", phone_key(phone)))
    if not pairs:
        return set()
    s = t.suppressions.c
    found: set[tuple[str, str]] = set()
    for channel in sorted({ch for ch, _ in pairs}):  # one channel at a time: the primary key's order
        keys = sorted(key for ch, key in pairs if ch == channel)
        for i in range(0, len(keys), 2_000):
            stmt = sa.select(s.address_key).where(s.channel == channel, any_of(conn, s.address_key, keys[i:i + 2_000]))
            found.update((channel, key) for key in conn.scalars(stmt))
    return found


def _consents(conn: sa.Connection, ids: list[str], channels: list[str]) -> dict[tuple[str, str], str]:
    c = t.consents.c
    stmt = sa.select(c.customer_id, c.channel, c.status).where(any_of(conn, c.customer_id, ids),
                                                               c.channel.in_(channels))
    return {(cid, ch): status for cid, ch, status in conn.execute(stmt)}
