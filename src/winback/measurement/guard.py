"""The complaint-rate guard: complaints ÷ delivered per sending domain over a trailing window. At 0.08 % an
operator is alerted (once per domain per day); at 0.2 % every running programme is also paused. Mailbox providers
start filtering well before 0.3 % (Gmail's and Yahoo's sender guidelines), so the limits sit below it.

This module decides; `winback.jobs.guard.check_complaint_rates` reads the counts and acts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

ALERT_RATE = 0.0008
PAUSE_RATE = 0.002
MIN_DELIVERED = 1_000
WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class GuardLimits:
    alert_rate: float = ALERT_RATE
    pause_rate: float = PAUSE_RATE
    min_delivered: int = MIN_DELIVERED  # below this many delivered messages a rate says too little to act on
    window: timedelta = WINDOW


@dataclass
class GuardAction:
    """What the guard found for one sending domain and what it did."""

    domain: str
    delivered: int
    complaints: int
    rate: float | None
    action: str  # none | alert | pause
    reason: str
    alerted: bool = False  # an alert row was written now (not when one was already written today)
    paused: list[str] = field(default_factory=list)  # programmes paused now

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(domain: str, *, delivered: int, complaints: int, limits: GuardLimits = GuardLimits()) -> GuardAction:
    """none below the alert rate or the minimum volume, alert from `alert_rate`, pause from `pause_rate`."""
    rate = complaints / delivered if delivered else None
    if delivered < limits.min_delivered or rate is None:
        return GuardAction(domain, delivered, complaints, rate, "none",
                           f"{delivered:,} delivered in the window, fewer than {limits.min_delivered:,}: no action")
    text = f"complaint rate {rate:.3%} ({complaints:,} of {delivered:,} delivered)"
    if rate >= limits.pause_rate:
        return GuardAction(domain, delivered, complaints, rate, "pause",
                           f"{text} is at or over {limits.pause_rate:.2%}: every running programme is paused")
    if rate >= limits.alert_rate:
        return GuardAction(domain, delivered, complaints, rate, "alert",
                           f"{text} is at or over {limits.alert_rate:.2%}")
    return GuardAction(domain, delivered, complaints, rate, "none", f"{text} is under {limits.alert_rate:.2%}")
