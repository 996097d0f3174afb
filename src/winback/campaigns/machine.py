"""The step machine: where one enrolment goes next, as a pure function of the programme, the facts and the time.

`advance` walks control steps (branches, the end of a wait, moves, tasks, ends) until it reaches something that
needs the outside world (a send) or time (a wait), and returns a `Decision`. `after_delivery` continues once a
send's outcome is known. Neither touches the store or a transport; the engine gathers `Facts` in bulk and applies
decisions in bulk.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from winback.campaigns.assign import pick_variant
from winback.campaigns.definition import Arm, Programme, QuietHours, Send, Step, WaitUntil
from winback.domain.preferences import Preferences, allows_send, next_allowed

# Exit name in the programme file → the enrolment's outcome.
EXIT_OUTCOMES = {"purchase": "reactivated", "goal": "goal_reached", "unsubscribe": "unsubscribed",
                 "complaint": "complained", "hard_bounce": "hard_bounced"}
# Suppression bases that stop every message on the channel, and the skip reason they give.
_SUPPRESSION_REASON = {"unsubscribe": "unsubscribed", "hard_bounce": "hard_bounced", "complaint": "complained",
                       "invalid": "invalid_address", "manual": "suppressed", "spam_trap": "suppressed",
                       "do_not_contact": "suppressed"}
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class Position:
    """Where an enrolment is: the step to run, how often it was tried, when it (a wait, a deferral) began."""

    enrolment_id: int
    programme_id: str
    customer_id: str
    step: str | None
    attempts: int
    entered_at: datetime
    step_started_at: datetime | None


@dataclass
class Facts:
    """What the machine may know about the customer when it runs; gathered by the engine for a whole batch."""

    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    purchases: list[datetime] = field(default_factory=list)  # orders since the enrolment began
    engaged: set[tuple[str, str]] = field(default_factory=set)  # human (kind, step) in this enrolment
    suppressed: dict[str, str] = field(default_factory=dict)  # channel → suppression basis
    consent: dict[str, str] = field(default_factory=dict)  # channel → subscribed | unsubscribed
    profile: dict[str, Any] = field(default_factory=dict)  # churn_reason, dormancy_type …
    segments: dict[str, bool] = field(default_factory=dict)  # branch segment text → does the customer match
    recent_sends: list[tuple[str, str, datetime]] = field(default_factory=list)  # (programme, channel, at)
    preferred_hour: int | None = None  # local hour of most human engagement
    global_caps: dict[str, tuple[int, timedelta]] = field(default_factory=dict)  # channel → (max, per)
    preferences: Preferences | None = None  # saved in the preference centre (None: never saved)
    winners: dict[str, str] = field(default_factory=dict)  # step → the variant its A/B test chose (auto_winner)


@dataclass(frozen=True)
class Record:
    """A ledger row for a step that did not hand a message over: a branch taken, a task, a move, a skip, an end."""

    step: str
    kind: str
    state: str  # done | skipped
    reason: str | None = None
    detail: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class SendAction:
    step: str
    channel: str
    address: str
    template: str
    subject: str | dict[str, str] | None
    variant: str | None
    marketing: bool
    incentive: Any = None  # the step's `Incentive` (a coupon is issued at composition), or None


@dataclass
class Decision:
    """The enrolment's new position and what to do on the way there."""

    step: str | None
    due_at: datetime | None
    state: str = "active"  # active | completed | exited
    outcome: str | None = None
    attempts: int = 0
    step_started_at: datetime | None = None
    wake_on: str | None = None
    records: list[Record] = field(default_factory=list)
    tasks: list[tuple[str, Any]] = field(default_factory=list)  # (step, Task)
    moves: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (step, list, tag)
    send: SendAction | None = None
    deferred: str | None = None  # why a send was postponed (quiet_hours, send_time)
    began_wait: bool = False

    @property
    def finished(self) -> bool:
        return self.state != "active"


def exit_outcome(programme: Programme, position: Position, facts: Facts) -> str | None:
    """The first exit that applies, as an enrolment outcome, or None."""
    exits = programme.exits
    if "purchase" in exits and facts.purchases:
        return EXIT_OUTCOMES["purchase"]
    if "goal" in exits and any(p - position.entered_at <= programme.goal.within for p in facts.purchases):
        return EXIT_OUTCOMES["goal"]
    bases = set(facts.suppressed.values())
    if "unsubscribe" in exits and ("unsubscribe" in bases or facts.consent.get("email") == "unsubscribed"):
        return EXIT_OUTCOMES["unsubscribe"]
    if "complaint" in exits and "complaint" in bases:
        return EXIT_OUTCOMES["complaint"]
    if "hard_bounce" in exits and "hard_bounce" in bases:
        return EXIT_OUTCOMES["hard_bounce"]
    return None


def advance(programme: Programme, position: Position, facts: Facts, now: datetime) -> Decision:
    """Run from the enrolment's current step until a send, a wait or the end."""
    outcome = exit_outcome(programme, position, facts)
    if outcome is not None:
        return _finish(position.step, "exited", outcome, [])
    records: list[Record] = []
    decision_tasks: list[tuple[str, Any]] = []
    decision_moves: list[tuple[str, str | None, str | None]] = []
    step_id = position.step
    started = position.step_started_at
    attempts = position.attempts
    for _ in range(len(programme.steps) + 1):
        if step_id is None:
            return _finish(None, "completed", "completed", records, decision_tasks, decision_moves)
        step = programme.step(step_id)
        kind = step.kind
        if kind == "wait":
            if started is None:  # arriving at the wait
                wait = step.wait
                if isinstance(wait, WaitUntil):
                    until = now + wait.timeout
                    wake = ",".join(wait.until)
                else:
                    until, wake = now + wait, None  # type: ignore[operator]
                return Decision(step=step_id, due_at=until, step_started_at=now, wake_on=wake, records=records,
                                tasks=decision_tasks, moves=decision_moves, began_wait=True)
            step_id, started, attempts = programme.next_id(step_id), None, 0
        elif kind == "branch":
            target = _choose(step, facts)
            records.append(Record(step_id, "branch", "done", detail=f"goto {target}"))
            if target == "end":
                return _finish(None, "completed", "completed", records, decision_tasks, decision_moves)
            step_id = programme.next_id(step_id) if target == "next" else target
            started, attempts = None, 0
        elif kind == "task":
            decision_tasks.append((step_id, step.task))
            records.append(Record(step_id, "task", "done", detail=step.task.title))  # type: ignore[union-attr]
            step_id, started, attempts = programme.next_id(step_id), None, 0
        elif kind == "move":
            move = step.move
            decision_moves.append((step_id, move.list, move.tag))  # type: ignore[union-attr]
            where = ", ".join(x for x in (f"list {move.list}" if move.list else None,  # type: ignore[union-attr]
                                          f"tag {move.tag}" if move.tag else None) if x)  # type: ignore[union-attr]
            records.append(Record(step_id, "move", "done", detail=where))
            step_id, started, attempts = programme.next_id(step_id), None, 0
        elif kind == "end":
            out = step.end.outcome  # type: ignore[union-attr]
            records.append(Record(step_id, "end", "done", detail=out))
            return _finish(None, "completed", out, records, decision_tasks, decision_moves)
        else:  # send
            decision = _send(programme, step_id, step.send, position, facts, now, started)  # type: ignore[arg-type]
            if isinstance(decision, Record):  # skipped: on to the next step
                records.append(decision)
                step_id, started, attempts = programme.next_id(step_id), None, 0
                continue
            decision.records = records
            decision.tasks = decision_tasks
            decision.moves = decision_moves
            decision.attempts = attempts
            return decision
    raise AssertionError("steps only go forward, so a pass visits each at most once")


def after_delivery(programme: Programme, position: Position, *, status: str, now: datetime,
                   rng: random.Random) -> Decision:
    """Where the enrolment goes once the transport answered for the send at `position.step`."""
    step_id = position.step
    assert step_id is not None
    if status == "sent":
        return Decision(step=programme.next_id(step_id), due_at=now)
    if status == "hard_bounced":
        if "hard_bounce" in programme.exits:
            return _finish(None, "exited", EXIT_OUTCOMES["hard_bounce"], [])
        return Decision(step=programme.next_id(step_id), due_at=now)
    attempts = position.attempts + 1
    if status in ("soft_failed", "unknown") and attempts < programme.retries.max_attempts:
        delay = min(programme.retries.backoff * (2 ** (attempts - 1)), MAX_BACKOFF)
        delay = delay * (0.5 + rng.random())  # jitter, so a domain's retries do not come back as one wave
        return Decision(step=step_id, due_at=now + delay, attempts=attempts, step_started_at=position.step_started_at)
    return Decision(step=programme.next_id(step_id), due_at=now)  # failed for good: the ledger says so; go on


def _finish(step: str | None, state: str, outcome: str, records: list[Record],
            tasks: list[tuple[str, Any]] | None = None,
            moves: list[tuple[str, str | None, str | None]] | None = None) -> Decision:
    return Decision(step=None, due_at=None, state=state, outcome=outcome, records=records, tasks=tasks or [],
                    moves=moves or [])


def _choose(step: Step, facts: Facts) -> str:
    for arm in step.branch or []:
        if arm.otherwise is not None or _holds(arm, facts):
            return arm.target
    return "next"


def _holds(arm: Arm, facts: Facts) -> bool:
    cond = arm.when
    assert cond is not None
    for kind, ref in (("open", cond.opened), ("click", cond.clicked), ("reply", cond.replied)):
        if ref is None:
            continue
        if ref is False:
            if any(k == kind for k, _ in facts.engaged):
                return False
            continue
        target = None if ref in (True, "any") else ref
        if not any(k == kind and (target is None or s == target) for k, s in facts.engaged):
            return False
    if cond.purchased is not None and bool(facts.purchases) != cond.purchased:
        return False
    if cond.segment is not None and not facts.segments.get(cond.segment, False):
        return False
    if cond.churn_reason is not None and facts.profile.get("churn_reason") not in cond.churn_reason:
        return False
    return not (cond.dormancy_type is not None and facts.profile.get("dormancy_type") not in cond.dormancy_type)


def _send(programme: Programme, step_id: str, send: Send, position: Position, facts: Facts, now: datetime,
          started: datetime | None) -> Decision | Record:
    """A send step: skip it with a reason, postpone it, or hand it over."""
    channel = send.channel
    address = facts.email if channel == "email" else facts.phone if channel == "sms" else position.customer_id
    if not address:
        return Record(step_id, "send", "skipped", "invalid_address", f"no {channel} address", channel)
    basis = facts.suppressed.get(channel)
    if basis is not None:
        return Record(step_id, "send", "skipped", _SUPPRESSION_REASON.get(basis, "suppressed"),
                      f"{channel} address suppressed ({basis})", channel)
    if send.marketing:
        status = facts.consent.get(channel)
        if status == "unsubscribed" or (programme.consent == "explicit" and status != "subscribed"):
            return Record(step_id, "send", "skipped", "no_consent",
                          f"{channel} consent: {status or 'none recorded'}", channel)
        last = max((at for _, _, at in facts.recent_sends), default=None)
        why = allows_send(facts.preferences, channel=channel, topic=None, now=now, last_sent_at=last)
        if why == "frequency" and facts.preferences is not None and last is not None:
            return Decision(step=step_id, due_at=next_allowed(facts.preferences, last), step_started_at=started,
                            deferred="preference_frequency")
        if why is not None:
            return Record(step_id, "send", "skipped", f"preference_{why}", f"customer preference: {why}", channel)
        capped = _capped(programme, channel, facts, now)
        if capped:
            return Record(step_id, "send", "skipped", "capped", capped, channel)
        zone = _zone(facts.time_zone, programme.quiet_hours)
        if programme.quiet_hours is not None:
            resume = quiet_until(now, programme.quiet_hours, zone)
            if resume is not None:
                return Decision(step=step_id, due_at=resume, step_started_at=started, deferred="quiet_hours")
        if programme.send_time is not None and programme.send_time.optimise and started is None:
            hour = facts.preferred_hour if facts.preferred_hour is not None else programme.send_time.default_hour
            if hour is not None:
                at = next_local_hour(now, hour, zone)
                if at - now >= timedelta(minutes=1):
                    return Decision(step=step_id, due_at=at, step_started_at=now, deferred="send_time")
    variant = None
    template, subject = send.template, send.subject
    if send.variants:
        chosen_name = facts.winners.get(step_id) if send.auto_winner is not None else None
        if chosen_name is not None and any(v.name == chosen_name for v in send.variants):
            variant = chosen_name  # the test is decided: everyone from now on gets the winner
        else:
            variant = pick_variant(programme.programme, step_id, position.customer_id,
                                   [(v.name, v.weight) for v in send.variants])
        chosen = next(v for v in send.variants if v.name == variant)
        template = chosen.template or template
        subject = chosen.subject if chosen.subject is not None else subject
    assert template is not None
    action = SendAction(step=step_id, channel=channel, address=address, template=template, subject=subject,
                        variant=variant, marketing=send.marketing, incentive=send.incentive)
    return Decision(step=step_id, due_at=None, send=action, step_started_at=started)


def _capped(programme: Programme, channel: str, facts: Facts, now: datetime) -> str | None:
    cap = programme.caps.programme
    if cap is not None:
        mine = programme.programme
        n = sum(1 for p, c, at in facts.recent_sends if p == mine and c == channel and now - at < cap.per)
        if n >= cap.max:
            return f"programme cap: {n} of {cap.max} {channel} messages in {_days(cap.per)}"
    if programme.caps.global_ and channel in facts.global_caps:
        limit, per = facts.global_caps[channel]
        n = sum(1 for _, c, at in facts.recent_sends if c == channel and now - at < per)
        if n >= limit:
            return f"global cap: {n} of {limit} {channel} messages in {_days(per)}"
    return None


def _days(delta: timedelta) -> str:
    from winback.campaigns.durations import format_duration

    return format_duration(delta)


def _zone(name: str | None, quiet: QuietHours | None) -> ZoneInfo:
    for candidate in (name, quiet.time_zone if quiet else None, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (KeyError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_until(now: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime | None:
    """If `now` falls in the quiet hours in `zone`, when they end (as an aware UTC-comparable time); else None."""
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    start, end = quiet.start, quiet.end
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    return _local(end_day, end, zone).astimezone(now.tzinfo)


def next_local_hour(now: datetime, hour: int, zone: ZoneInfo) -> datetime:
    """The next time (from now, within 24 hours) the local clock in `zone` shows `hour`:00."""
    local = now.astimezone(zone)
    candidate = _local(local.date(), time(hour), zone)
    if candidate < local:
        candidate = _local(local.date() + timedelta(days=1), time(hour), zone)
    return candidate.astimezone(now.tzinfo)


def _local(day: Any, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone)
