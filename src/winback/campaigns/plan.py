"""The dry run: who would enter a programme, who is excluded and why, what is sent when, the expected effect with
an interval, and what it costs — computed from the store without writing to it (docs/dry-run.md).

The timeline runs the real step machine (`machine.advance`) on each customer's real facts (addresses,
suppressions, consent, caps, quiet hours, send time, profile) along the path taken when nothing happens: no
opens, clicks, replies or purchases. The maths (conversion probabilities, intervals, incentive costs) are small
pure functions below.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from winback.campaigns.assign import in_holdout
from winback.campaigns.definition import Incentive, Programme
from winback.campaigns.eligibility import EXCLUSIONS, check_eligibility
from winback.campaigns.facts import Claimed, gather
from winback.campaigns.machine import Facts, Position, advance
from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.store import tables as t

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
TRIGGER_LOOKBACK = timedelta(days=30)
REASONS = (*EXCLUSIONS, "capped", "holdout")  # the order exclusions are shown in
METHODS = ("expected_purchases_90", "p_churn", "p_alive", "empirical_repeat_rate")
CHUNK = 5_000

# --- the maths: pure functions ------------------------------------------------------------------------------------


def conversion_probability(expected_purchases_90: float, window_days: float) -> float:
    """P(at least one purchase within the window), the 90-day expected purchases scaled as a Poisson rate."""
    return 1.0 - math.exp(-max(expected_purchases_90, 0.0) * window_days / 90.0)


def probability_from_churn(p_churn: float, window_days: float) -> float:
    """P(at least one purchase within the window) from P(no order in 90 days), with a constant (Poisson) rate."""
    return 1.0 - min(max(p_churn, 0.0), 1.0) ** (window_days / 90.0)


def customer_probability(*, expected_purchases_90: float | None, p_churn: float | None, p_alive: float | None,
                         window_days: float, repeat_rate: float) -> tuple[float, str]:
    """The customer's baseline conversion probability and the method it came from (the first score present)."""
    if expected_purchases_90 is not None and math.isfinite(expected_purchases_90):
        return conversion_probability(expected_purchases_90, window_days), "expected_purchases_90"
    if p_churn is not None and math.isfinite(p_churn):
        return probability_from_churn(p_churn, window_days), "p_churn"
    if p_alive is not None and math.isfinite(p_alive):  # the scoring's own fallback: p_churn = 1 - P(alive)
        return probability_from_churn(1.0 - p_alive, window_days), "p_alive"
    return repeat_rate, "empirical_repeat_rate"


def incremental_probabilities(p: np.ndarray, lift: float) -> np.ndarray:
    """Per customer, P(an extra conversion) at a relative lift: lift × p, at most 1 − p (nobody exceeds certainty)."""
    return np.minimum(lift * p, 1.0 - p)


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float


def incremental_interval(p: Sequence[float] | np.ndarray, *, lift: float, lift_low: float, lift_high: float,
                         values: Sequence[float] | np.ndarray | None = None, z: float = Z95) -> Interval:
    """Expected incremental conversions (or, with `values`, value) and a normal-approximation interval.

    Each customer adds a conversion with probability q = lift × p (a Bernoulli); the total is a Poisson-binomial
    sum with mean Σ v·q and variance Σ v²·q(1 − q). The interval runs from the low end of the lift range less z
    standard deviations of that sum to the high end plus z standard deviations, so it holds both the doubt about
    the lift and the chance in who buys.
    """
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    v = np.ones_like(p) if values is None else np.asarray(values, dtype=float)

    def moments(at: float) -> tuple[float, float]:
        q = incremental_probabilities(p, at)
        return float(np.sum(v * q)), math.sqrt(float(np.sum(v * v * q * (1.0 - q))))

    point, _ = moments(lift)
    low_mean, low_sd = moments(min(lift_low, lift))
    high_mean, high_sd = moments(max(lift_high, lift))
    return Interval(point=point, low=max(0.0, min(point, low_mean - z * low_sd)),
                    high=max(point, high_mean + z * high_sd))


def incentive_cost(incentive: Incentive, order_value: float) -> float:
    """What one redemption costs: a percent of the order value, a fixed amount, or the shipping cost (`value`)."""
    if incentive.kind == "percent":
        return incentive.value / 100.0 * order_value
    return incentive.value  # amount; free_shipping: `value` is read as the shipping cost of one order


def redemption(offers: Sequence[tuple[str, float]]) -> tuple[str, float] | None:
    """Of the offers (step, cost) a customer receives, the one a converter is assumed to redeem: the costliest
    (each converter redeems at most one, so the cost is an upper bound)."""
    return max(offers, key=lambda o: o[1]) if offers else None


@dataclass(frozen=True)
class Planned:
    """One thing the machine would do for a customer: a send or a task handed over, or a send skipped."""

    step: str
    channel: str  # email | sms | webhook | task
    at: datetime
    marketing: bool
    skipped: str | None = None  # the reason, when the machine skips the send


def walk(programme: Programme, facts: Facts, *, customer_id: str, entered_at: datetime,
         delay: timedelta = timedelta(0)) -> list[Planned]:
    """The enrolment's path when nothing happens, run through the step machine from `entered_at + delay`:
    waits last their duration (or timeout), branches take the arm that holds without engagement or purchases
    (`otherwise`, `opened: false` …, or fall through), sends are deferred by quiet hours and send time and
    skipped by caps — each send counting towards the caps of the next, as the engine records them."""
    facts = replace(facts, recent_sends=list(facts.recent_sends), purchases=[], engaged=set())
    pid = programme.programme
    step: str | None = programme.step_ids[0]
    started: datetime | None = None
    now = entered_at + delay
    out: list[Planned] = []
    for _ in range(8 * len(programme.steps) + 8):  # each step runs once; deferrals add a few passes
        if step is None:
            break
        position = Position(enrolment_id=0, programme_id=pid, customer_id=customer_id, step=step, attempts=0,
                            entered_at=entered_at, step_started_at=started)
        decision = advance(programme, position, facts, now)
        for record in decision.records:
            if record.kind == "send" and record.state == "skipped":
                send = programme.step(record.step).send
                out.append(Planned(record.step, record.channel or "", now, bool(send and send.marketing),
                                   skipped=record.reason))
        out.extend(Planned(task_step, "task", now, False) for task_step, _task in decision.tasks)
        if decision.finished:
            break
        if decision.send is not None:
            action = decision.send
            out.append(Planned(action.step, action.channel, now, action.marketing))
            if action.marketing:
                facts.recent_sends.append((pid, action.channel, now))
            step, started = programme.next_id(action.step), None  # delivered: on to the next step at once
            continue
        step, started, now = decision.step, decision.step_started_at, decision.due_at  # type: ignore[assignment]
    return out


def first_marketing_capped(path: Sequence[Planned]) -> bool:
    """Whether the first marketing message the customer would get is skipped by a cap."""
    for planned in path:
        if planned.marketing and planned.channel != "task" and planned.skipped in (None, "capped"):
            return planned.skipped == "capped"
    return False


def sends_per_day(paths: Iterable[Sequence[Planned]], step_order: Sequence[str]) -> list[dict[str, Any]]:
    """Handed-over sends and tasks counted by (UTC date, step, channel), in date and step order."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for path in paths:
        for planned in path:
            if planned.skipped is None:
                counts[(planned.at.date().isoformat(), planned.step, planned.channel)] += 1
    rank = {s: i for i, s in enumerate(step_order)}
    return [{"date": d, "step": s, "channel": c, "count": n}
            for (d, s, c), n in sorted(counts.items(), key=lambda kv: (kv[0][0], rank.get(kv[0][1], 0), kv[0][2]))]


# --- the plan -----------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    programme: str
    now: datetime
    basis: str  # segment | trigger_last_30_days | silence
    audience: int
    exclusions: dict[str, int]
    eligible: int
    holdout: int
    treated: int
    sends_per_day: list[dict[str, Any]]
    sends_total: dict[str, int]
    skipped_sends: list[dict[str, Any]]
    expected: dict[str, Any]
    costs: dict[str, Any]
    assumptions: list[str]
    trigger: dict[str, Any] | None = None
    audience_text: str | None = None
    scores_as_of: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "programme": self.programme, "now": self.now.isoformat(), "basis": self.basis,
            "audience_text": self.audience_text, "trigger": self.trigger, "audience": self.audience,
            "exclusions": dict(self.exclusions), "eligible": self.eligible, "holdout": self.holdout,
            "treated": self.treated, "sends_per_day": self.sends_per_day, "sends_total": self.sends_total,
            "skipped_sends": self.skipped_sends, "expected": self.expected, "costs": self.costs,
            "scores_as_of": self.scores_as_of.isoformat() if self.scores_as_of else None,
            "assumptions": list(self.assumptions),
        }


@dataclass
class _Cohort:
    ids: list[str]
    basis: str
    entries: dict[str, datetime] = field(default_factory=dict)  # customer → when they would enter (trigger)
    trigger: dict[str, Any] | None = None
    text: str | None = None


@dataclass(frozen=True)
class _Customer:
    probability: float
    method: str
    order_value: float
    value_source: str
    currency: str


def plan_programme(conn: sa.Connection, programme: Programme, *, now: datetime,
                   global_caps: dict[str, tuple[int, timedelta]], currency: str = "USD") -> Plan:
    """The dry run of `programme` at `now`; reads the store only."""
    notes: list[str] = []
    cohort = _cohort(conn, programme, now, notes)
    check = check_eligibility(conn, programme, cohort.ids, now=now)
    pid = programme.programme
    held = [c for c in check.eligible if in_holdout(pid, c, programme.holdout)]
    entering = [c for c in check.eligible if not in_holdout(pid, c, programme.holdout)]
    paths = _paths(conn, programme, entering, cohort, now=now, global_caps=global_caps)
    capped = {c for c in entering if first_marketing_capped(paths[c])}
    treated = [c for c in entering if c not in capped]

    counts = {**check.excluded, "capped": len(capped), "holdout": len(held)}
    exclusions = {reason: int(counts.get(reason, 0)) for reason in REASONS}
    eligible = len(check.eligible) - len(capped)

    window = programme.goal.within.total_seconds() / 86_400
    customers = _customers(conn, sorted(set(entering)), now=now, window_days=window, currency=currency)
    expected = _expected(programme, treated, customers, window, notes)
    costs = _costs(programme, entering, paths, customers, notes)
    costs["incremental_gross_margin"] = _money(expected["incremental_revenue"] * programme.costs.margin)
    costs["net"] = _money(costs["incremental_gross_margin"] - costs["total"])
    sends_total: Counter[str] = Counter()
    skipped: Counter[tuple[str, str, str]] = Counter()
    for c in entering:
        for planned in paths[c]:
            if planned.skipped is None:
                sends_total[planned.channel] += 1
            else:
                skipped[(planned.step, planned.channel, planned.skipped)] += 1
    scores_as_of = _as_datetime(conn, conn.scalar(sa.select(sa.func.max(t.profiles.c.as_of))))
    _general_notes(cohort, now, scores_as_of, len(capped), notes)
    return Plan(
        programme=pid, now=now, basis=cohort.basis, audience=len(cohort.ids), exclusions=exclusions,
        eligible=eligible, holdout=len(held), treated=len(treated),
        sends_per_day=sends_per_day((paths[c] for c in entering), programme.step_ids),
        sends_total=dict(sends_total),
        skipped_sends=[{"step": s, "channel": ch, "reason": r, "count": n}
                       for (s, ch, r), n in sorted(skipped.items())],
        expected=expected, costs=costs, assumptions=notes, trigger=cohort.trigger, audience_text=cohort.text,
        scores_as_of=scores_as_of,
    )


def _cohort(conn: sa.Connection, programme: Programme, now: datetime, notes: list[str]) -> _Cohort:
    """Who the plan is about: the audience now, or for a trigger the customers it fired for in the last 30 days."""
    from winback.campaigns.scheduler import trigger_events
    from winback.segments import matching_ids, parse_segment

    trigger = programme.trigger
    if trigger is None or trigger.event == "silent":
        text = programme.audience
        basis = "segment"
        info = None
        if trigger is not None:
            silence = f"days_since('last_order') >= {trigger.days}"
            text = f"({text}) and {silence}" if text else silence
            basis = "silence"
            info = {"event": "silent", "days": trigger.days, "delay_days": trigger.delay.total_seconds() / 86_400}
        assert text is not None
        return _Cohort(ids=matching_ids(conn, parse_segment(text), now=now), basis=basis, trigger=info, text=text)
    events = trigger_events(conn, trigger, since=now - TRIGGER_LOOKBACK, until=now)
    found = len(events)
    if programme.audience is not None and events:
        keep = set(matching_ids(conn, parse_segment(programme.audience), now=now, customer_ids=list(events)))
        events = {cid: ev for cid, ev in events.items() if cid in keep}
    entries = {cid: max(now, datetime.fromisoformat(detail["at"]) + TRIGGER_LOOKBACK)
               for cid, (_key, detail) in events.items()}
    info = {"event": trigger.event, "type": trigger.type, "to": trigger.to, "from": trigger.from_,
            "delay_days": trigger.delay.total_seconds() / 86_400, "customers_last_30_days": found,
            "in_audience": len(events), "entries_per_30_days_estimate": len(events)}
    notes.append(f"trigger {trigger.event}: no audience to count now; {found:,} customers had such an event in the "
                 "last 30 days" + (f", {len(events):,} of them in the audience" if programme.audience else "")
                 + ". The plan treats them as the next 30 days' entries: each enters 30 days after their event")
    return _Cohort(ids=sorted(events), basis="trigger_last_30_days", entries=entries, trigger=info,
                   text=programme.audience)


def _paths(conn: sa.Connection, programme: Programme, ids: Sequence[str], cohort: _Cohort, *, now: datetime,
           global_caps: dict[str, tuple[int, timedelta]]) -> dict[str, list[Planned]]:
    """Each entering customer's path, from the facts the engine itself would gather."""
    delay = programme.trigger.delay if programme.trigger is not None else timedelta(0)
    first = programme.step_ids[0]
    key = (programme.programme, 0)
    out: dict[str, list[Planned]] = {}
    memo: dict[tuple[Any, ...], list[Planned]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        # No enrolment exists yet: negative ids match no engagement, so the facts hold none, as on entry.
        claimed = [Claimed(enrolment_id=-(start + i + 1), programme_id=programme.programme, version=0,
                           customer_id=cid, step=first, attempts=0, entered_at=cohort.entries.get(cid, now),
                           step_started_at=None, fence=0) for i, cid in enumerate(chunk)]
        facts = gather(conn, claimed, {key: programme}, now=now, global_caps=global_caps)
        for c in claimed:
            f = facts[c.enrolment_id]
            signature = (bool(f.email), bool(f.phone), tuple(sorted(f.suppressed.items())),
                         tuple(sorted(f.consent.items())), tuple(sorted(f.profile.items())),
                         tuple(sorted(f.segments.items())), f.time_zone, f.preferred_hour, tuple(f.recent_sends),
                         c.entered_at)
            if signature not in memo:
                memo[signature] = walk(programme, f, customer_id=c.customer_id, entered_at=c.entered_at,
                                       delay=delay)
            out[c.customer_id] = memo[signature]
    return out


def _customers(conn: sa.Connection, ids: list[str], *, now: datetime, window_days: float,
               currency: str) -> dict[str, _Customer]:
    """Each customer's baseline conversion probability and expected order value, with where each came from."""
    repeat_rate = empirical_repeat_rate(conn, now=now, window_days=window_days)
    aov, overall = average_order_values(conn, now=now)
    p = t.profiles.c
    o = t.orders.c
    out: dict[str, _Customer] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        scores = {row.customer_id: row for row in conn.execute(
            sa.select(p.customer_id, p.expected_purchases_90, p.p_churn, p.p_alive, p.monetary_value, p.revenue,
                      p.n_orders).where(p.customer_id.in_(chunk)))}
        currencies = dict(conn.execute(  # as the features do: max() is deterministic where a customer mixes
            sa.select(o.customer_id, sa.func.max(o.currency)).where(
                o.customer_id.in_(chunk), o.status.not_in(EXCLUDED_ORDER_STATUSES), o.ordered_at <= now)
            .group_by(o.customer_id)).all())
        for cid in chunk:
            row = scores.get(cid)
            prob, method = customer_probability(
                expected_purchases_90=_num(row.expected_purchases_90) if row else None,
                p_churn=_num(row.p_churn) if row else None, p_alive=_num(row.p_alive) if row else None,
                window_days=window_days, repeat_rate=repeat_rate)
            cur = currencies.get(cid, currency)
            mv = _num(row.monetary_value) if row else None
            per_order = (_num(row.revenue) or 0.0) / row.n_orders if row and row.n_orders else None
            if mv is not None and mv > 0:
                value, source = mv, "monetary_value"
            elif per_order is not None and per_order > 0:
                value, source = per_order, "own_average_order"
            else:
                value, source = aov.get(cur, overall), "store_average_order"
            out[cid] = _Customer(prob, method, value, source, cur)
    return out


def empirical_repeat_rate(conn: sa.Connection, *, now: datetime, window_days: float) -> float:
    """Of the customers who had ordered before the last window, the share who ordered again within it."""
    o = t.orders.c
    start = now - timedelta(days=window_days)
    valid = o.status.not_in(EXCLUDED_ORDER_STATUSES)
    before = sa.select(o.customer_id).where(valid, o.ordered_at < start).distinct().subquery()
    base = conn.scalar(sa.select(sa.func.count()).select_from(before)) or 0
    if not base:
        return 0.0
    again = conn.scalar(sa.select(sa.func.count(sa.distinct(o.customer_id))).where(
        valid, o.ordered_at >= start, o.ordered_at <= now, o.customer_id.in_(sa.select(before.c.customer_id))))
    return float(again or 0) / base


def average_order_values(conn: sa.Connection, *, now: datetime) -> tuple[dict[str, float], float]:
    """The store's average order value per currency, and over all orders."""
    o = t.orders.c
    valid = (o.status.not_in(EXCLUDED_ORDER_STATUSES), o.ordered_at <= now)
    rows = conn.execute(sa.select(o.currency, sa.func.sum(o.amount), sa.func.count()).where(*valid)
                        .group_by(o.currency)).all()
    per = {cur: float(total) / n for cur, total, n in rows if n}
    n_all = sum(n for _c, _t, n in rows)
    overall = sum(float(total) for _c, total, _n in rows) / n_all if n_all else 0.0
    return per, overall


def _expected(programme: Programme, treated: Sequence[str], customers: dict[str, _Customer], window: float,
              notes: list[str]) -> dict[str, Any]:
    f = programme.forecast
    p = np.array([customers[c].probability for c in treated], dtype=float)
    v = np.array([customers[c].order_value for c in treated], dtype=float)
    lifts = {"lift": f.relative_lift, "lift_low": f.lift_low, "lift_high": f.lift_high}
    conv = incremental_interval(p, **lifts)
    rev = incremental_interval(p, values=v, **lifts)
    methods = Counter(customers[c].method for c in treated)
    values = Counter(customers[c].value_source for c in treated)
    by_currency: dict[str, dict[str, float]] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(treated):
        groups[customers[c].currency].append(i)
    for cur, index in sorted(groups.items()):
        r = incremental_interval(p[index], values=v[index], **lifts)
        by_currency[cur] = {"treated": len(index), "incremental_revenue": _money(r.point),
                            "incremental_revenue_low": _money(r.low), "incremental_revenue_high": _money(r.high)}
    method = (next(iter(methods)) if len(methods) == 1
              else "mixed: " + ", ".join(f"{m} {methods[m]}" for m in METHODS if methods[m]) if methods else "none")
    notes.append(
        f"baseline: P(at least one purchase within the goal window of {window:g} days) per treated customer; "
        + ", ".join(f"{_METHOD_TEXT[m]} for {methods[m]:,}" for m in METHODS if methods[m])
        if methods else "no treated customers: no expected effect")
    if f.relative_lift < f.lift_low or f.relative_lift > f.lift_high:
        notes.append(f"forecast.relative_lift {f.relative_lift:g} lies outside lift_low..lift_high "
                     f"({f.lift_low:g}..{f.lift_high:g}); the interval is widened to include it")
    notes.append(f"incremental conversions = Σ p × relative_lift ({f.relative_lift:g}) with each customer's extra "
                 f"conversion at most 1 − p; the interval spans lift {min(f.lift_low, f.relative_lift):g}.."
                 f"{max(f.lift_high, f.relative_lift):g} ± 1.96 sd of the Poisson-binomial count "
                 "(normal approximation)")
    if values:
        notes.append("order value per converter (one order each): " + ", ".join(
            f"{_VALUE_TEXT[k]} for {values[k]:,}" for k in ("monetary_value", "own_average_order",
                                                            "store_average_order") if values[k]))
    if len(by_currency) > 1:
        notes.append(f"the treated buy in {len(by_currency)} currencies ({', '.join(by_currency)}); totals add the "
                     "amounts as they are, expected.by_currency has each currency apart")
    return {
        "goal_window_days": window, "relative_lift": f.relative_lift, "lift_low": f.lift_low,
        "lift_high": f.lift_high,
        "baseline_conversions": _round(float(p.sum())), "incremental_conversions": _round(conv.point),
        "incremental_conversions_low": _round(conv.low), "incremental_conversions_high": _round(conv.high),
        "incremental_revenue": _money(rev.point), "incremental_revenue_low": _money(rev.low),
        "incremental_revenue_high": _money(rev.high), "method": method, "methods": dict(methods),
        "order_values": dict(values), "by_currency": by_currency,
    }


def _costs(programme: Programme, entering: Sequence[str], paths: dict[str, list[Planned]],
           customers: dict[str, _Customer], notes: list[str]) -> dict[str, Any]:
    """Incentive cost (each converter redeems at most one offer) and the cost of every message and task."""
    lift = programme.forecast.relative_lift
    incentives = {sid: s.send.incentive for sid, s in zip(programme.step_ids, programme.steps, strict=True)
                  if s.send is not None and s.send.incentive is not None}
    per_step: dict[str, dict[str, Any]] = {sid: {"step": sid, "kind": inc.kind, "value": inc.value, "recipients": 0,
                                                 "expected_redemptions": 0.0, "cost": 0.0}
                                           for sid, inc in incentives.items()}
    by_currency: dict[str, float] = defaultdict(float)
    sends: Counter[str] = Counter()
    for cid in entering:
        offers = []
        for planned in paths[cid]:
            if planned.skipped is not None:
                continue
            sends[planned.channel] += 1
            if planned.step in incentives:
                per_step[planned.step]["recipients"] += 1
                offers.append((planned.step, incentive_cost(incentives[planned.step], customers[cid].order_value)))
        chosen = redemption(offers)
        if chosen is not None:
            converts = min(1.0, customers[cid].probability * (1.0 + lift))
            per_step[chosen[0]]["expected_redemptions"] += converts
            per_step[chosen[0]]["cost"] += converts * chosen[1]
            by_currency[customers[cid].currency] += converts * chosen[1]
    c = programme.costs
    unit = {"email": c.email, "sms": c.sms, "webhook": c.webhook, "task": c.task}
    sending_by_channel = {ch: _money(n * unit.get(ch, 0.0)) for ch, n in sorted(sends.items())}
    incentive = sum(s["cost"] for s in per_step.values())
    sending = sum(n * unit.get(ch, 0.0) for ch, n in sends.items())
    for s in per_step.values():
        s["expected_redemptions"] = _round(s["expected_redemptions"])
        s["cost"] = _money(s["cost"])
    if incentives:
        notes.append("incentive cost: every converter who received an offer redeems one — the costliest they "
                     f"received — converting at p × (1 + {lift:g}); an upper bound (some buy before the offer and "
                     "exit, not every buyer uses the code)")
        if any(i.kind == "free_shipping" for i in incentives.values()):
            zero = [s for s, i in incentives.items() if i.kind == "free_shipping" and i.value == 0]
            notes.append("free shipping: the incentive's `value` is read as the shipping cost of one order"
                         + (f"; step(s) {', '.join(zero)} give none, so they are counted at 0 — write "
                            "`value: COST` on the incentive to count it" if zero else ""))
    if sends:
        notes.append("sending cost: messages handed over × costs per message ("
                     + ", ".join(f"{ch} {unit.get(ch, 0.0):g}" for ch in sorted(sends)) + ")")
    return {"incentive": _money(incentive), "sending": _money(sending), "total": _money(incentive + sending),
            "incentive_by_step": list(per_step.values()), "sending_by_channel": sending_by_channel,
            "incentive_by_currency": {k: _money(v) for k, v in sorted(by_currency.items())},
            "margin": c.margin}


def _general_notes(cohort: _Cohort, now: datetime, scores_as_of: datetime | None, capped: int,
                   notes: list[str]) -> None:
    notes.insert(0, "sends per day follow the path taken when nothing happens (no opens, clicks, replies or "
                    "purchases): exits (purchase, unsubscribe …) and engagement branches make the real numbers lower")
    if cohort.basis != "trigger_last_30_days":
        notes.insert(1, "the audience is counted now; customers who join it later enter when it is re-checked "
                        "(entry.refresh)")
    if capped:
        notes.append(f"{capped:,} customers outside the holdout are capped: they would still enter, the capped "
                     "message is skipped and later steps may reach them (counted in sends per day and costs, "
                     "not in the expected effect)")
    if scores_as_of is None:
        notes.append("no scores in the store (run `winback score`): every probability is the store's repeat rate")
    elif now - scores_as_of > timedelta(days=7):
        notes.append(f"the scores are as of {scores_as_of.date().isoformat()}, {(now - scores_as_of).days} days "
                     "before now: run `winback score` for current probabilities")


_METHOD_TEXT = {"expected_purchases_90": "1 − exp(−expected_purchases_90 × window / 90)",
                "p_churn": "1 − p_churn^(window / 90)", "p_alive": "1 − (1 − p_alive)^(window / 90)",
                "empirical_repeat_rate": "the store's repeat rate over the window (unscored)"}
_VALUE_TEXT = {"monetary_value": "monetary_value", "own_average_order": "their own revenue / orders",
               "store_average_order": "the store's average order value"}


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _round(value: float) -> float:
    return round(value, 2)


def _money(value: float) -> float:
    return round(value, 2)


def _as_datetime(conn: sa.Connection, value: Any) -> datetime | None:
    if isinstance(value, str):  # SQLite returns max() of a typed column as text
        return t.profiles.c.as_of.type.process_result_value(value, conn.dialect)  # type: ignore[attr-defined]
    return value
