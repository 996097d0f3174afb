"""Gathering what the step machine needs to know about a batch of claimed enrolments, in a few bulk reads."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from winback.campaigns.definition import Programme
from winback.campaigns.machine import Facts
from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.domain.preferences import FREQUENCY_GAP, Preferences
from winback.ingest.parse import phone_key
from winback.store import tables as t
from winback.store.bulk import any_of

CHUNK = 2_000


@dataclass(frozen=True)
class Claimed:
    """A claimed enrolment, with the fence its claim was given."""

    enrolment_id: int
    programme_id: str
    version: int
    customer_id: str
    step: str | None
    attempts: int
    entered_at: datetime
    step_started_at: datetime | None
    fence: int


def _chunks(items: Sequence, size: int = CHUNK):  # type: ignore[no-untyped-def]
    for i in range(0, len(items), size):
        yield items[i:i + size]


def gather(
    conn: sa.Connection,
    claimed: Sequence[Claimed],
    programmes: dict[tuple[str, int], Programme],
    *,
    now: datetime,
    global_caps: dict[str, tuple[int, timedelta]],
) -> dict[int, Facts]:
    """Facts per enrolment id. Reads only what the batch's programmes use."""
    customer_ids = sorted({c.customer_id for c in claimed})
    used = [programmes[(c.programme_id, c.version)] for c in claimed]
    customers = _customers(conn, customer_ids)
    suppressed = _suppressions(conn, customers)
    consent = _consents(conn, customer_ids)
    purchases = _purchases(conn, customer_ids, since=min(c.entered_at for c in claimed), until=now)
    needs_engagement = any(_uses_engagement(p) for p in used)
    engaged = _engagements(conn, [c.enrolment_id for c in claimed]) if needs_engagement else {}
    needs_profile = any(_uses_profile(p) for p in used)
    profile = _profiles(conn, customer_ids) if needs_profile else {}
    preferences = _preferences(conn, customer_ids)
    windows = [p.caps.programme.per for p in used if p.caps.programme is not None]
    windows += [per for _, per in global_caps.values()]
    windows += [FREQUENCY_GAP[p.frequency] for p in preferences.values() if p.frequency in FREQUENCY_GAP]
    recent = _recent_sends(conn, customer_ids, since=now - max(windows)) if windows else {}
    wants_hour = any(p.send_time is not None and p.send_time.optimise for p in used)
    hours = _preferred_hours(conn, customer_ids, customers) if wants_hour else {}
    segments = _segments(conn, claimed, programmes, now=now)
    testing = sorted({p.programme for p in used if any(s.send and s.send.auto_winner for s in p.steps)})
    winners = _winners(conn, testing) if testing else {}

    facts: dict[int, Facts] = {}
    for c in claimed:
        email, phone, locale, zone, _name = customers.get(c.customer_id, (None, None, None, None, None))
        facts[c.enrolment_id] = Facts(
            email=email, phone=phone, locale=locale, time_zone=zone,
            purchases=[p for p in purchases.get(c.customer_id, ()) if p >= c.entered_at],
            engaged=engaged.get(c.enrolment_id, set()),
            suppressed=suppressed.get(c.customer_id, {}),
            consent=consent.get(c.customer_id, {}),
            profile=profile.get(c.customer_id, {}),
            segments={text: c.customer_id in ids for text, ids in segments.items()},
            recent_sends=recent.setdefault(c.customer_id, []),  # shared per customer: the engine appends to it
            preferred_hour=hours.get(c.customer_id),
            global_caps=global_caps,
            preferences=preferences.get(c.customer_id),
            winners=winners.get(c.programme_id, {}),
        )
    return facts


def customer_names(conn: sa.Connection, customer_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """customer → (name, locale), for composing messages; a language chosen in the preference centre wins."""
    out = {}
    c, p = t.customers.c, t.customer_preferences.c
    for chunk in _chunks(list(customer_ids)):
        stmt = (sa.select(c.customer_id, c.name, c.locale, p.language)
                .select_from(t.customers.outerjoin(t.customer_preferences, p.customer_id == c.customer_id))
                .where(any_of(conn, c.customer_id, chunk)))
        for cid, name, locale, language in conn.execute(stmt):
            chosen = language if language and (locale or "").split("-")[0].lower() != language else locale
            out[cid] = (name, chosen)
    return out


def _uses_engagement(p: Programme) -> bool:
    return any(s.branch for s in p.steps)


def _uses_profile(p: Programme) -> bool:
    return any(arm.when is not None and (arm.when.churn_reason or arm.when.dormancy_type)
               for s in p.steps for arm in (s.branch or []))


def _customers(conn: sa.Connection, ids: list[str]) -> dict[str, tuple]:
    c = t.customers.c
    out = {}
    for chunk in _chunks(ids):
        stmt = sa.select(c.customer_id, c.email, c.phone, c.locale, c.time_zone, c.email_key, c.name).where(
            any_of(conn, c.customer_id, chunk))
        for cid, email, phone, locale, zone, key, name in conn.execute(stmt):
            out[cid] = (email, phone, locale, zone, (key, name))
    return out


def _suppressions(conn: sa.Connection, customers: dict[str, tuple]) -> dict[str, dict[str, str]]:
    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    for cid, (_email, phone, _l, _z, (key, _n)) in customers.items():
        if key:
            owners[("email", key)].append(cid)
        if phone:
            owners[("sms", phone_key(phone))].append(cid)
    out: dict[str, dict[str, str]] = defaultdict(dict)
    s = t.suppressions.c
    for channel in sorted({ch for ch, _ in owners}):  # one channel at a time: the primary key's order
        keys = sorted(key for ch, key in owners if ch == channel)
        for chunk in _chunks(keys):
            stmt = sa.select(s.address_key, s.basis).where(s.channel == channel, any_of(conn, s.address_key, chunk))
            for key, basis in conn.execute(stmt):
                for cid in owners[(channel, key)]:
                    out[cid][channel] = basis
    return out


def _consents(conn: sa.Connection, ids: list[str]) -> dict[str, dict[str, str]]:
    c = t.consents.c
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(ids):
        for cid, channel, status in conn.execute(sa.select(c.customer_id, c.channel, c.status)
                                                 .where(any_of(conn, c.customer_id, chunk))):
            out[cid][channel] = status
    return out


def _purchases(conn: sa.Connection, ids: list[str], *, since: datetime, until: datetime,
               ) -> dict[str, list[datetime]]:
    """Orders placed between `since` and `until` (an order dated after the clock has not happened yet: a simulated
    clock, or a shop's clock running ahead)."""
    o = t.orders.c
    out: dict[str, list[datetime]] = defaultdict(list)
    for chunk in _chunks(ids):
        stmt = sa.select(o.customer_id, o.ordered_at).where(
            any_of(conn, o.customer_id, chunk), o.ordered_at >= since, o.ordered_at <= until,
            o.status.not_in(EXCLUDED_ORDER_STATUSES))
        for cid, at in conn.execute(stmt):
            out[cid].append(at)
    return out


def _engagements(conn: sa.Connection, enrolment_ids: list[int]) -> dict[int, set[tuple[str, str]]]:
    g = t.engagements.c
    out: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for chunk in _chunks(enrolment_ids):
        stmt = sa.select(g.enrolment_id, g.kind, g.step).where(
            any_of(conn, g.enrolment_id, chunk), g.machine.is_(False), g.kind.in_(("open", "click", "reply")))
        for eid, kind, step in conn.execute(stmt):
            out[eid].add((kind, step or ""))
    return out


def _profiles(conn: sa.Connection, ids: list[str]) -> dict[str, dict[str, str | None]]:
    p = t.profiles.c
    out = {}
    for chunk in _chunks(ids):
        for cid, reason, dormancy in conn.execute(sa.select(p.customer_id, p.churn_reason, p.dormancy_type)
                                                  .where(any_of(conn, p.customer_id, chunk))):
            out[cid] = {"churn_reason": reason, "dormancy_type": dormancy}
    return out


def _recent_sends(conn: sa.Connection, ids: list[str], *, since: datetime) -> dict[str, list]:
    g = t.ledger.c
    out: dict[str, list] = defaultdict(list)
    for chunk in _chunks(ids):
        stmt = sa.select(g.customer_id, g.programme_id, g.channel, g.updated_at).where(
            any_of(conn, g.customer_id, chunk), g.kind == "send", g.state.in_(("sent", "sending", "unknown")),
            g.updated_at >= since)
        for cid, programme_id, channel, at in conn.execute(stmt):
            out[cid].append((programme_id, channel, at))
    return out


def _winners(conn: sa.Connection, programme_ids: list[str]) -> dict[str, dict[str, str]]:
    w = t.experiment_winners.c
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for programme_id, step, variant in conn.execute(sa.select(w.programme_id, w.step, w.variant)
                                                    .where(w.programme_id.in_(programme_ids))):
        out[programme_id][step] = variant
    return out


def _preferences(conn: sa.Connection, ids: list[str]) -> dict[str, Preferences]:
    p = t.customer_preferences.c
    out = {}
    for chunk in _chunks(ids):
        stmt = sa.select(p.customer_id, p.topics, p.frequency, p.paused_until, p.channels, p.language).where(
            any_of(conn, p.customer_id, chunk))
        for cid, topics, frequency, paused, channels, language in conn.execute(stmt):
            out[cid] = Preferences(topics=tuple(topics) if topics is not None else None, frequency=frequency,
                                   paused_until=paused, channels=tuple(channels) if channels is not None else None,
                                   language=language)
    return out


def _preferred_hours(conn: sa.Connection, ids: list[str], customers: dict[str, tuple]) -> dict[str, int]:
    """The local hour of each customer's most frequent human opens and clicks (ties: the earliest hour)."""
    g = t.engagements.c
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for chunk in _chunks(ids):
        stmt = sa.select(g.customer_id, g.at).where(any_of(conn, g.customer_id, chunk), g.machine.is_(False),
                                                    g.kind.in_(("open", "click")))
        for cid, at in conn.execute(stmt):
            zone_name = customers.get(cid, (None,) * 4)[3]
            try:
                zone = ZoneInfo(zone_name) if zone_name else None
            except (KeyError, ValueError):
                zone = None
            counts[cid][(at.astimezone(zone) if zone else at).hour] += 1
    return {cid: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for cid, c in counts.items()}


def _segments(conn: sa.Connection, claimed: Sequence[Claimed], programmes: dict[tuple[str, int], Programme], *,
              now: datetime) -> dict[str, set[str]]:
    """Branch segment text → the customers of the batch that match it."""
    from winback.segments import matching_ids, parse_segment

    wanted: dict[str, set[str]] = defaultdict(set)
    for c in claimed:
        for s in programmes[(c.programme_id, c.version)].steps:
            for arm in s.branch or []:
                if arm.when is not None and arm.when.segment is not None:
                    wanted[arm.when.segment].add(c.customer_id)
    return {text: set(matching_ids(conn, parse_segment(text), now=now, customer_ids=sorted(ids)))
            for text, ids in wanted.items()}
