"""Programme files: the schema of a win-back programme written as YAML, and its validation.

A programme says who enters (an audience segment and/or a trigger), who is held out, what happens to each customer
(steps: send, wait, branch, task, move, end), when they leave (exits), what counts as success (the goal) and the
limits on sending (quiet hours, frequency caps, consent, error budget). `docs/programmes.md` documents the language.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from winback.campaigns.durations import format_duration, parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]

STEP_KINDS = ("send", "wait", "branch", "task", "move", "end")
EXITS = ("purchase", "unsubscribe", "complaint", "hard_bounce", "goal")
ENGAGEMENTS = ("open", "click", "reply", "purchase")
TRIGGERS = ("order_placed", "subscription_cancelled", "cart_abandoned", "stage_changed", "silent", "reactivated",
            "event")
CHANNELS = ("email", "sms", "webhook")
STAGES = ("new", "active", "at_risk", "dormant", "churned", "reactivated")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepError(ValueError):
    """A problem found when checking the whole programme that belongs to one place in it; `loc` (below `steps`)
    lets the file reader name that place's line rather than the programme's first."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{what} {value!r} must be lower-case letters, digits, '-' or '_' (up to 100), "
                         "starting with a letter or digit, e.g. 'dormant-reactivation'")
    return value


class Variant(_Model):
    """One version of a message; customers are split between variants by weight."""

    name: str
    template: str | None = None
    subject: str | dict[str, str] | None = None
    weight: float = Field(default=1.0, gt=0)


class Incentive(_Model):
    """An offer attached to a message; its cost is part of the dry run and the programme's ROI."""

    kind: Literal["percent", "amount", "free_shipping"]
    value: float = Field(default=0.0, ge=0)
    expires: Duration = timedelta(days=14)

    @model_validator(mode="after")
    def _percent(self) -> Incentive:
        if self.kind == "percent" and not 0 < self.value <= 100:
            raise ValueError("a percent incentive needs a value between 0 and 100, e.g. value: 15")
        return self


class AutoWinner(_Model):
    """Send every later customer the winning variant once a test that stays valid under continuous monitoring
    (mSPRT, docs/measurement.md) finds one variant better than each other at `alpha`."""

    metric: Literal["conversion", "click"] = "conversion"  # a purchase within the goal window, or a human click
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    min_per_arm: int = Field(default=100, ge=10)  # customers each variant must have reached before any decision


class Send(_Model):
    channel: Literal["email", "sms", "webhook"] = "email"
    template: str | None = None
    subject: str | dict[str, str] | None = None
    variants: list[Variant] = Field(default_factory=list)
    auto_winner: AutoWinner | None = None
    incentive: Incentive | None = None
    marketing: bool = True  # marketing messages obey caps, consent and quiet hours

    @model_validator(mode="after")
    def _content(self) -> Send:
        if not self.template and not self.variants:
            raise ValueError("a send needs a template (or variants, each with a template)")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must differ: {names}")
        for v in self.variants:
            if not (v.template or self.template):
                raise ValueError(f"variant {v.name!r} has no template and the send has none to fall back on")
        if self.auto_winner is not None and len(self.variants) < 2:
            raise ValueError("auto_winner needs at least two variants to choose from")
        return self


class WaitUntil(_Model):
    """Wait until the customer does something, or until the timeout."""

    until: list[Literal["open", "click", "reply", "purchase"]] = Field(min_length=1)
    timeout: Duration

    @field_validator("until", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Condition(_Model):
    """All given parts must hold. `opened`/`clicked`/`replied`: a step id, `any` (true) or false (did not);
    only human engagement counts (machine opens and scanner clicks never do)."""

    opened: str | bool | None = None
    clicked: str | bool | None = None
    replied: str | bool | None = None
    purchased: bool | None = None
    segment: str | None = None
    churn_reason: list[str] | None = None
    dormancy_type: list[str] | None = None

    @field_validator("churn_reason", "dormancy_type", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("churn_reason", "dormancy_type")
    @classmethod
    def _known(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # A misspelt value would never match and the arm would silently never be taken.
        from winback.segments import FIELDS

        allowed = FIELDS[info.field_name].values or ()  # type: ignore[index]
        for item in value or []:
            if item not in allowed:
                raise ValueError(f"unknown {info.field_name} {item!r}; values: {', '.join(allowed)}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("an empty condition; give opened, clicked, replied, purchased, segment, churn_reason "
                             "or dormancy_type")
        return self


class Arm(_Model):
    """`{when: CONDITION, goto: STEP}` or, last, `{otherwise: STEP}`; STEP may also be `next` or `end`."""

    when: Condition | None = None
    goto: str | None = None
    otherwise: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Arm:
        if self.otherwise is not None:
            if self.when is not None or self.goto is not None:
                raise ValueError("an 'otherwise' arm takes only a target: {otherwise: STEP}")
        elif self.when is None or self.goto is None:
            raise ValueError("a branch arm is {when: CONDITION, goto: STEP} or {otherwise: STEP}")
        return self

    @property
    def target(self) -> str:
        return self.otherwise if self.otherwise is not None else self.goto  # type: ignore[return-value]


class Task(_Model):
    title: str
    assignee: str = "account_manager"
    due: Duration = timedelta(days=2)
    note: str | None = None


class Move(_Model):
    list: str | None = None
    tag: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Move:
        if self.list is None and self.tag is None:
            raise ValueError("a move needs a list (e.g. list: long-term-nurture), a tag, or both")
        return self


class End(_Model):
    outcome: str = "completed"


class Step(_Model):
    """One step: exactly one of send, wait, branch, task, move, end; `id` names it (for goto and reports)."""

    id: str | None = None
    send: Send | None = None
    wait: Duration | WaitUntil | None = None
    branch: list[Arm] | None = None
    task: Task | None = None
    move: Move | None = None
    end: End | None = None

    @field_validator("end", mode="before")
    @classmethod
    def _bare_end(cls, value: Any) -> Any:
        if value is None or value is True or value == {}:
            return {}
        if isinstance(value, str):
            return {"outcome": value}
        return value

    @model_validator(mode="before")
    @classmethod
    def _end_key(cls, data: Any) -> Any:
        # `- end:` with nothing after it parses as {"end": None}; keep it an end step.
        if isinstance(data, dict) and "end" in data and data["end"] is None:
            return {**data, "end": {}}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            given = ", ".join(kinds) or "none"
            raise ValueError(f"a step has exactly one of {', '.join(STEP_KINDS)} (given: {given})")
        if self.id is not None:
            _check_id(self.id, "step id")
            if self.id in ("next", "end", "any"):  # they mean something else where a step id goes
                raise ValueError(f"a step cannot be called {self.id!r}: a branch reads it as a keyword")
        if self.branch is not None:
            if not self.branch:
                raise ValueError("a branch needs at least one arm")
            for arm in self.branch[:-1]:
                if arm.otherwise is not None:
                    raise ValueError("'otherwise' must be the last arm of a branch")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)


class Trigger(_Model):
    """An event that enrols the customer it concerns."""

    event: Literal["order_placed", "subscription_cancelled", "cart_abandoned", "stage_changed", "silent",
                   "reactivated", "event"]
    to: list[str] | None = None  # stage_changed: the new stage(s)
    from_: list[str] | None = Field(default=None, alias="from")  # stage_changed: the previous stage(s)
    days: int | None = Field(default=None, gt=0)  # silent: days without an order
    type: str | None = None  # event: the event type (as imported)
    delay: Duration = timedelta(0)  # wait this long after the event before the first step
    within: Duration = timedelta(days=7)  # ignore events older than this when first seen

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("to", "from_", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs(self) -> Trigger:
        if self.event == "stage_changed" and not self.to:
            raise ValueError(f"a stage_changed trigger needs 'to', one or more of: {', '.join(STAGES)}")
        for stage in (self.to or []) + (self.from_ or []):
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        if self.event == "silent" and self.days is None:
            raise ValueError("a silent trigger needs 'days', e.g. days: 60")
        if self.event == "event" and not self.type:
            raise ValueError("an event trigger needs the event 'type', e.g. type: cart_abandon")
        if self.type is not None:
            from winback.domain.entities import EVENT_TYPES

            if self.type not in EVENT_TYPES:  # imports refuse any other type, so such a trigger would never fire
                raise ValueError(f"unknown event type {self.type!r}; types: {', '.join(EVENT_TYPES)}")
        return self


class Entry(_Model):
    """Who may enter again, and how often the audience is re-checked for newcomers."""

    reentry: Literal["never"] | Duration = "never"  # or the gap after the previous enrolment ended, e.g. 90d
    refresh: Literal["once"] | Duration = timedelta(days=1)


class Goal(_Model):
    event: Literal["purchase"] = "purchase"
    within: Duration = timedelta(days=30)


class QuietHours(_Model):
    """No marketing message is handed over between start and end in the customer's time zone."""

    start: time
    end: time
    time_zone: str = "UTC"  # for customers whose time zone is unknown

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):  # YAML reads 21:00 as sexagesimal 1260
            if not 0 <= value < 24 * 60:  # 25:00, or 21:00:00 (seconds): not a clock time we can read back
                raise ValueError("a clock time from 00:00 to 23:59; write it in quotes, e.g. start: '21:00'")
            return time(value // 60, value % 60)
        return value

    @model_validator(mode="after")
    def _span(self) -> QuietHours:
        if self.start == self.end:  # would be quiet around the clock: nothing would ever be sent
            raise ValueError("quiet hours need a start and an end that differ, e.g. start: '21:00', end: '08:00'")
        return self

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (KeyError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai") from None
        return value


class Cap(_Model):
    max: int = Field(gt=0)
    per: Duration


class Caps(_Model):
    programme: Cap | None = None  # at most this many of this programme's marketing messages per customer
    global_: bool = Field(default=True, alias="global")  # also obey the workspace's global caps

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SendTime(_Model):
    """Move each send to the hour the customer has engaged most (human opens and clicks), within a day."""

    optimise: bool = True
    default_hour: int | None = Field(default=None, ge=0, le=23)


class Retries(_Model):
    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff: Duration = timedelta(minutes=5)  # doubled each attempt, with jitter, capped at 6 hours


class Forecast(_Model):
    """Assumptions for the dry run: the relative lift the programme is expected to add to the goal."""

    relative_lift: float = Field(default=0.10, ge=0)
    lift_low: float = Field(default=0.0, ge=0)
    lift_high: float = Field(default=0.25, ge=0)


class Costs(_Model):
    """Per-message costs and the gross margin, for ROI."""

    email: float = Field(default=0.001, ge=0)
    sms: float = Field(default=0.05, ge=0)
    webhook: float = Field(default=0.0, ge=0)
    task: float = Field(default=5.0, ge=0)
    margin: float = Field(default=0.3, gt=0, le=1)


class Programme(_Model):
    programme: str
    name: str | None = None
    description: str | None = None
    audience: str | None = None
    trigger: Trigger | None = None
    entry: Entry = Entry()
    holdout: float = Field(default=0.10, ge=0, lt=1)
    goal: Goal = Goal()
    exits: list[Literal["purchase", "unsubscribe", "complaint", "hard_bounce", "goal"]] = Field(
        default_factory=lambda: ["purchase", "unsubscribe", "complaint", "hard_bounce"])
    consent: Literal["soft_opt_in", "explicit"] = "soft_opt_in"
    quiet_hours: QuietHours | None = None
    caps: Caps = Caps()
    send_time: SendTime | None = None
    retries: Retries = Retries()
    error_budget: int = Field(default=100, gt=0)  # consecutive failed hand-offs that pause the programme
    forecast: Forecast = Forecast()
    costs: Costs = Costs()
    steps: list[Step] = Field(min_length=1)

    @field_validator("programme")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "programme")

    @model_validator(mode="after")
    def _whole(self) -> Programme:
        if self.audience is None and self.trigger is None:
            raise ValueError("a programme needs an audience (a segment) or a trigger, or both")
        ids = self.step_ids
        seen: set[str] = set()
        for index, step_id in enumerate(ids):
            if step_id in seen:
                raise StepError(f"two steps have the id {step_id!r}", ("steps", index, "id"))
            seen.add(step_id)
        for index, step in enumerate(self.steps):
            for j, arm in enumerate(step.branch or []):
                target, where = arm.target, ("steps", index, "branch", j, "otherwise" if arm.otherwise else "goto")
                if target in ("next", "end"):
                    pass
                elif target not in seen:
                    raise StepError(f"step {ids[index]!r} goes to {target!r}, which is no step id; "
                                    f"ids: {', '.join(ids)} (or next, end)", where)
                elif ids.index(target) <= index:
                    raise StepError(f"step {ids[index]!r} goes back to {target!r}: steps may only go forward, "
                                    "so each runs at most once per enrolment", where)
                for part in ("opened", "clicked", "replied"):
                    ref = getattr(arm.when, part) if arm.when else None
                    where = ("steps", index, "branch", j, "when", part)
                    if isinstance(ref, str) and ref != "any":
                        if ref not in seen or ids.index(ref) >= index:
                            raise StepError(f"step {ids[index]!r} asks whether {part} {ref!r}, "
                                            "which is not an earlier step", where)
                        if self.steps[ids.index(ref)].send is None:
                            raise StepError(f"step {ids[index]!r} asks whether {part} {ref!r}, which sends nothing",
                                            where)
        return self

    @staticmethod
    def _targets(step: Step) -> list[str]:
        return [arm.target for arm in step.branch] if step.branch else []

    @property
    def step_ids(self) -> list[str]:
        """Each step's id: its own, or `KIND-N` (1-based position) when it has none."""
        return [s.id or f"{s.kind}-{i}" for i, s in enumerate(self.steps, start=1)]

    def step(self, step_id: str) -> Step:
        return self.steps[self.step_ids.index(step_id)]

    def next_id(self, step_id: str) -> str | None:
        """The step after this one, or None at the end."""
        ids = self.step_ids
        i = ids.index(step_id) + 1
        return ids[i] if i < len(ids) else None
