"""What a customer chose on the tracking pages: preferences, unsubscribes and exit-survey answers.

`allows_send` is the pure rule the engine applies to marketing sends; the rest reads and writes the store inside the
caller's transaction, reusing the suppression and consent code of bounce processing and imports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from winback.domain.entities import FEEDBACK
from winback.domain.preferences import FREQUENCY_GAP, Preferences, allows_send
from winback.ingest.consent import ConsentRequest, apply_consents
from winback.ingest.validate import content_hash
from winback.messaging.inbound import suppress
from winback.store import tables as t
from winback.store.bulk import any_of

__all__ = [
    "CHANNELS", "DEFAULT_TOPICS", "FREQUENCIES", "SURVEY_CHOICES", "FormResult", "Preferences", "allows_send",
    "load_preferences", "load_preferences_bulk", "parse_form", "record_survey", "save_preferences", "survey_id",
    "unsubscribe",
]

DEFAULT_TOPICS = ("offers", "new_products", "news")
CHANNELS = ("email", "sms")
# Form choices; `keep` is offered only while a pause runs.
FREQUENCIES = ("any", "weekly", "monthly", "pause_30", "pause_90")
PAUSES = {"pause_30": timedelta(days=30), "pause_90": timedelta(days=90)}
LANGUAGES = ("zh", "en")
# The churn-reason labels of `winback.scoring.reasons.LABELS`, so a survey answer is a labelled example.
SURVEY_CHOICES = ("price", "missing_feature", "service", "product_quality", "competitor", "no_longer_needed", "other")
SURVEY_TEXT_MAX = 2_000
SOURCE = "link"


# --- the preference form ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FormResult:
    """The preferences a form asks for, or the error keys (texts) that stop it being saved."""

    prefs: Preferences | None
    errors: tuple[str, ...]


def parse_form(form: Mapping[str, Sequence[str]], *, topics: Sequence[str], current: Preferences | None,
               now: datetime) -> FormResult:
    """Validate a submitted preference form (field → values); nothing is written here."""
    errors: list[str] = []
    chosen_topics = list(dict.fromkeys(form.get("topics", ())))
    chosen_channels = list(dict.fromkeys(form.get("channels", ())))
    frequency = (form.get("frequency") or [""])[0]
    language = (form.get("language") or [""])[0]
    keep = current is not None and current.paused_until is not None and current.paused_until > now
    if (any(x not in topics for x in chosen_topics) or any(x not in CHANNELS for x in chosen_channels)
            or (frequency not in FREQUENCIES and not (frequency == "keep" and keep))
            or language not in (*LANGUAGES, "")):
        errors.append("error_bad_value")
    if not chosen_topics:
        errors.append("error_no_topic")
    if not chosen_channels:
        errors.append("error_no_channel")
    if errors:
        return FormResult(None, tuple(errors))
    paused_until = current.paused_until if frequency == "keep" and current is not None else None
    if frequency in PAUSES:
        paused_until = now + PAUSES[frequency]
    return FormResult(Preferences(
        # Everything ticked is stored as "all", so a topic or channel added later reaches them too.
        topics=None if set(chosen_topics) >= set(topics) else tuple(chosen_topics),
        frequency=frequency if frequency in FREQUENCY_GAP else None,
        paused_until=paused_until,
        channels=None if set(chosen_channels) >= set(CHANNELS) else tuple(chosen_channels),
        language=language or None,
    ), ())


# --- the store ----------------------------------------------------------------------------------------------------

def _prefs(row: Any) -> Preferences:
    return Preferences(topics=tuple(row.topics) if row.topics is not None else None, frequency=row.frequency,
                       paused_until=row.paused_until,
                       channels=tuple(row.channels) if row.channels is not None else None, language=row.language)


def load_preferences(conn: sa.Connection, customer_id: str) -> Preferences | None:
    """The customer's saved preferences, or None when they never saved any."""
    p = t.customer_preferences
    row = conn.execute(sa.select(p).where(p.c.customer_id == customer_id)).first()
    return _prefs(row) if row is not None else None


def load_preferences_bulk(conn: sa.Connection, customer_ids: Sequence[str]) -> dict[str, Preferences]:
    """customer → saved preferences, for the customers of a batch that have any."""
    p = t.customer_preferences
    ids = list(dict.fromkeys(customer_ids))
    out: dict[str, Preferences] = {}
    for i in range(0, len(ids), 2_000):
        for row in conn.execute(sa.select(p).where(any_of(conn, p.c.customer_id, ids[i:i + 2_000]))):
            out[row.customer_id] = _prefs(row)
    return out


def _upsert(conn: sa.Connection, table: sa.Table, key: str, row: dict[str, Any]) -> None:
    """Insert or replace one row in a single statement, so two concurrent submits cannot both insert."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**row)
    conn.execute(stmt.on_conflict_do_update(index_elements=[key],
                                            set_={k: stmt.excluded[k] for k in row if k != key}))


def save_preferences(conn: sa.Connection, customer_id: str, prefs: Preferences, *, now: datetime) -> None:
    """Replace the customer's preferences."""
    _upsert(conn, t.customer_preferences, "customer_id", {
        "customer_id": customer_id, "topics": list(prefs.topics) if prefs.topics is not None else None,
        "frequency": prefs.frequency, "paused_until": prefs.paused_until,
        "channels": list(prefs.channels) if prefs.channels is not None else None, "language": prefs.language,
        "updated_at": now, "source": "preference_centre"})


def _lock_customer(conn: sa.Connection, customer_id: str) -> Any:
    """The customer's row; on PostgreSQL locked, so two concurrent unsubscribes of one customer queue."""
    c = t.customers.c
    stmt = sa.select(c.customer_id, c.email).where(c.customer_id == customer_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def unsubscribe(conn: sa.Connection, *, customer_id: str, enrolment_id: int | None, step: str | None,
                now: datetime, channels: Sequence[str] = ("email",)) -> bool:
    """Suppress the customer's email address (basis `unsubscribe`, source `link`), withdraw consent on
    `channels`, and record an `unsubscribe` engagement for (enrolment, step). Idempotent: True when anything
    changed. Runs in the caller's transaction."""
    customer = _lock_customer(conn, customer_id)
    if customer is None:
        return False
    changed = False
    if "email" in channels and customer.email:
        changed |= suppress(conn, address=customer.email, basis="unsubscribe", source=SOURCE, now=now)
    c = t.consents.c
    current = dict(conn.execute(sa.select(c.channel, c.status).where(c.customer_id == customer_id)).all())
    requests = [ConsentRequest(customer_id=customer_id, channel=ch, status="unsubscribed", basis=None,
                               source=SOURCE, at=now) for ch in channels if current.get(ch) != "unsubscribed"]
    if requests:  # the import path: consents upserted, every change written to consent_history
        apply_consents(conn, requests, now=now, import_id=None)
        changed = True
    g = t.engagements.c
    seen = conn.execute(sa.select(g.id).where(
        g.customer_id == customer_id, g.kind == "unsubscribe",
        g.enrolment_id == enrolment_id if enrolment_id is not None else g.enrolment_id.is_(None),
        g.step == step if step is not None else g.step.is_(None)).limit(1)).first()
    if seen is None:
        conn.execute(t.engagements.insert().values(
            customer_id=customer_id, enrolment_id=enrolment_id, step=step, kind="unsubscribe", at=now,
            machine=False, reason=SOURCE, detail={"channels": list(channels)}))
        changed = True
    return changed


def survey_id(customer_id: str, enrolment_id: int | None) -> str:
    """The feedback id of a customer's exit-survey answer: one per (customer, enrolment), so resubmits replace it."""
    digest = hashlib.sha256(f"{customer_id}\0{enrolment_id if enrolment_id is not None else ''}".encode())
    return f"survey-{digest.hexdigest()[:24]}"


def record_survey(conn: sa.Connection, *, customer_id: str, enrolment_id: int | None, choice: str, text: str,
                  now: datetime) -> bool:
    """Store (or replace) the exit-survey answer as a `feedback` row of kind `survey`; False for an unknown
    customer."""
    if choice not in SURVEY_CHOICES:
        raise ValueError(f"unknown survey choice {choice!r}")
    if conn.execute(sa.select(t.customers.c.customer_id).where(t.customers.c.customer_id == customer_id)).first() \
            is None:
        return False
    fid = survey_id(customer_id, enrolment_id)
    f = t.feedback.c
    opened = conn.scalar(sa.select(f.opened_at).where(f.feedback_id == fid))
    values = {"feedback_id": fid, "customer_id": customer_id, "kind": "survey", "rating": None,
              "text": text.strip()[:SURVEY_TEXT_MAX] or None, "status": None, "opened_at": opened or now,
              "resolved_at": None, "category": choice}
    _upsert(conn, t.feedback, "feedback_id", {**values, "row_hash": content_hash(values, FEEDBACK.names),
                                              "import_id": None, "updated_at": now})
    return True
