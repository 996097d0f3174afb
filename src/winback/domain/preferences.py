"""A customer's own limits on marketing messages (saved in the preference centre) and the rule that applies them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["FREQUENCY_GAP", "Preferences", "allows_send", "next_allowed"]

FREQUENCY_GAP = {"weekly": timedelta(days=7), "monthly": timedelta(days=30)}


@dataclass(frozen=True)
class Preferences:
    """One customer's row of `customer_preferences`; None in a field means "no limit of their own"."""

    topics: tuple[str, ...] | None = None
    frequency: str | None = None  # weekly | monthly
    paused_until: datetime | None = None
    channels: tuple[str, ...] | None = None
    language: str | None = None


def allows_send(prefs: Preferences | None, *, channel: str, topic: str | None, now: datetime,
                last_sent_at: datetime | None) -> str | None:
    """None when the customer's preferences allow a marketing message now, else why not:
    `paused`, `channel_off`, `topic_off` or `frequency`.

    `topic` is the message's topic (None: not checked); `last_sent_at` is when the customer's last marketing
    message on any channel was handed over (None: never)."""
    if prefs is None:
        return None
    if prefs.paused_until is not None and now < prefs.paused_until:
        return "paused"
    if prefs.channels is not None and channel not in prefs.channels:
        return "channel_off"
    if topic is not None and prefs.topics is not None and topic not in prefs.topics:
        return "topic_off"
    gap = FREQUENCY_GAP.get(prefs.frequency or "")
    if gap is not None and last_sent_at is not None and now - last_sent_at < gap:
        return "frequency"
    return None


def next_allowed(prefs: Preferences, last_sent_at: datetime) -> datetime:
    """When the customer's own frequency next allows a message after one sent at `last_sent_at`."""
    return last_sent_at + FREQUENCY_GAP.get(prefs.frequency or "", timedelta(0))
