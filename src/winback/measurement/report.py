"""A programme's report from plain rows: the funnel, the holdout lift with intervals, ROI, A/B tests with their
sample-ratio checks, attribution beside the lift, and the failure analysis (docs/measurement.md#reports).

The lift compares every treated enrolment (intention to treat: sent to or not) with the holdout, with no
attribution at all; attribution is reported beside it as a different, weaker question.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import numpy as np

from winback.campaigns.definition import Programme
from winback.measurement import attribution as attr
from winback.measurement import failure
from winback.measurement.experiments import auto_winner, sequential_test
from winback.measurement.funnel import (
    HANDED_OVER,
    Engagement,
    Enrolment,
    LedgerRow,
    Order,
    Outcome,
    funnel,
    outcomes,
    totals,
)
from winback.measurement.stats import (
    Estimate,
    mean_difference,
    rate_difference,
    sample_ratio_mismatch,
    wilson_interval,
)

ROI_FORMULA = ("roi = (incremental gross margin − incentive cost − sending cost) / (incentive cost + sending cost); "
               "incremental gross margin = incremental revenue × costs.margin")
ALPHA = 0.05
TIMELINE_DAYS = 366


class CouponRow(NamedTuple):
    """A redeemed coupon of the programme and the order that redeemed it."""

    code: str
    enrolment_id: int | None
    step: str | None
    kind: str  # percent | amount | free_shipping
    value: float
    order_id: str
    order_amount: float


class Profile(NamedTuple):
    customer_id: str
    dormancy_type: str | None
    churn_reason: str | None
    stage: str | None
    segment: str | None


def coupon_cost(kind: str, value: float, order_amount: float) -> float:
    """What one redemption cost: a percent of the order, a fixed amount, or the shipping cost (`value`)."""
    return value / 100.0 * order_amount if kind == "percent" else value


def estimate_dict(est: Estimate) -> dict[str, Any]:
    """An estimate as JSON (nan, from an empty or one-sided group, becomes null)."""
    return {"estimate": _num(est.estimate), "low": _num(est.low), "high": _num(est.high),
            "p_value": _num(est.p_value), "confidence": est.confidence, "method": est.method}


def lift(*, treated_revenue: Sequence[float] | np.ndarray, holdout_revenue: Sequence[float] | np.ndarray,
         treated_conversions: int, holdout_conversions: int, method: str = "welch",
         confidence: float = 0.95) -> dict[str, Any]:
    """Treated vs holdout: the conversion-rate difference (Newcombe) and the revenue-per-customer difference
    (Welch, or bootstrap; zeros for non-buyers), and both scaled to the treated group as incremental totals."""
    n_t, n_c = len(treated_revenue), len(holdout_revenue)
    rate = rate_difference(treated_conversions, n_t, holdout_conversions, n_c, confidence=confidence)
    revenue = mean_difference(np.asarray(treated_revenue, dtype=float), np.asarray(holdout_revenue, dtype=float),
                              confidence=confidence, method=method)
    return {
        "conversion_rate": estimate_dict(rate),
        "revenue_per_customer": estimate_dict(revenue),
        "treated_rate": _num(treated_conversions / n_t if n_t else math.nan),
        "holdout_rate": _num(holdout_conversions / n_c if n_c else math.nan),
        "incremental_conversions": _scaled(rate, n_t),
        "incremental_revenue": _scaled(revenue, n_t),
        "significant": rate.p_value is not None and rate.p_value < 1 - confidence,
    }


def _scaled(est: Estimate, n: int) -> dict[str, float | None]:
    return {"estimate": _num(est.estimate * n), "low": _num(est.low * n), "high": _num(est.high * n)}


def roi(*, incremental_revenue: Mapping[str, float | None], margin: float, incentive_cost: float,
        sending_cost: float) -> dict[str, Any]:
    """ROI = (incremental gross margin − incentive cost − sending cost) / (incentive cost + sending cost), with
    the bounds of the revenue interval carried through (null when nothing was spent or nothing is measured)."""
    cost = incentive_cost + sending_cost

    def at(revenue: float | None) -> float | None:
        if revenue is None or cost <= 0:
            return None
        return round((revenue * margin - cost) / cost, 4)

    point = incremental_revenue.get("estimate")
    margin_value = None if point is None else round(point * margin, 2)
    return {"formula": ROI_FORMULA, "margin": margin, "incremental_revenue": _money(point),
            "incremental_gross_margin": margin_value, "incentive_cost": round(incentive_cost, 2),
            "sending_cost": round(sending_cost, 2), "total_cost": round(cost, 2),
            "net": None if margin_value is None else round(margin_value - cost, 2), "roi": at(point),
            "roi_low": at(incremental_revenue.get("low")), "roi_high": at(incremental_revenue.get("high"))}


def costs(programme: Programme, ledger: Iterable[LedgerRow], coupons: Iterable[CouponRow]) -> dict[str, Any]:
    """Sending (messages handed over × the programme's cost per message; tasks × the task cost) and incentives
    (redeemed coupons: percent of the order, or the fixed value), by channel and by step."""
    c = programme.costs
    unit = {"email": c.email, "sms": c.sms, "webhook": c.webhook, "task": c.task}
    by_channel: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    by_step: dict[str, float] = defaultdict(float)
    for row in ledger:
        if row.kind == "send" and row.state in HANDED_OVER:
            channel = row.channel or "email"
        elif row.kind == "task" and row.state != "skipped":
            channel = "task"
        else:
            continue
        counts[channel] += 1
        by_channel[channel] += unit.get(channel, 0.0)
        by_step[row.step] += unit.get(channel, 0.0)
    incentive: dict[str, float] = defaultdict(float)
    redeemed = 0
    for cp in coupons:
        cost = coupon_cost(cp.kind, cp.value, cp.order_amount)
        incentive[cp.step or ""] += cost
        by_step[cp.step or ""] += cost
        redeemed += 1
    sending = sum(by_channel.values())
    incentives = sum(incentive.values())
    return {"unit_costs": unit, "margin": c.margin, "messages": dict(sorted(counts.items())),
            "sending_by_channel": {k: round(v, 2) for k, v in sorted(by_channel.items())},
            "sending": round(sending, 2), "redeemed_coupons": redeemed,
            "incentive_by_step": {k: round(v, 2) for k, v in sorted(incentive.items())},
            "incentive": round(incentives, 2), "total": round(sending + incentives, 2),
            "by_step": {k: round(v, 6) for k, v in by_step.items()}}


def experiments(programme: Programme, ledger: Sequence[LedgerRow], outcome: Mapping[int, Outcome], *,
                alpha: float = ALPHA, min_per_arm: int = 100) -> list[dict[str, Any]]:
    """Per step with variants: conversion among those who got each variant (with a Wilson interval), the
    sequential test of each variant against the first, `auto_winner`, and the sample-ratio check of the split."""
    out = []
    for step_id, step in zip(programme.step_ids, programme.steps, strict=True):
        if step.send is None or not step.send.variants:
            continue
        names = [v.name for v in step.send.variants]
        assigned: dict[str, int] = defaultdict(int)
        arms: dict[str, list[int]] = {n: [0, 0] for n in names}  # variant → [conversions, sent]
        for row in ledger:
            if row.kind != "send" or row.step != step_id or not row.variant:
                continue
            assigned[row.variant] += 1
            if row.state in HANDED_OVER:
                arm = arms.setdefault(row.variant, [0, 0])
                arm[1] += 1
                arm[0] += int(row.enrolment_id in outcome)
        variants = [{"variant": n, "sent": s, "conversions": x, "conversion_rate": estimate_dict(wilson_interval(x, s))}
                    for n, (x, s) in arms.items()]
        tests = []
        first = names[0]
        for other in names[1:]:
            xa, na = arms[first]
            xb, nb = arms[other]
            if na and nb:
                r = sequential_test(xa, na, xb, nb, alpha=alpha, names=(first, other))
                tests.append({"a": first, "b": other, "p_value": _num(r.p_value), "low": _num(r.low),
                              "high": _num(r.high), "decided": bool(r.decided), "winner": r.winner})
        winner = auto_winner({n: (x, s) for n, (x, s) in arms.items()}, alpha=alpha, min_per_arm=min_per_arm)
        weights = {v.name: v.weight for v in step.send.variants}
        srm = sample_ratio_mismatch(dict(assigned), weights) if sum(assigned.values()) else None
        out.append({"step": step_id, "variants": variants, "tests": tests, "winner": winner,
                    "weights": weights, "srm": _srm_dict(srm)})
    return out


def holdout_srm(*, treated: int, holdout: int, share: float) -> dict[str, Any] | None:
    """The observed holdout against the configured share (none when the programme holds nobody out)."""
    if share <= 0:
        return None
    result = sample_ratio_mismatch({"treated": treated, "holdout": holdout},
                                   {"treated": 1.0 - share, "holdout": share})
    return {**_srm_dict(result), "configured_share": share,  # type: ignore[dict-item]
            "observed_share": _num(holdout / (treated + holdout) if treated + holdout else math.nan)}


def _srm_dict(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"p_value": _num(result.p_value), "alarm": bool(result.alarm), "observed": dict(result.observed),
            "expected": {k: round(v, 2) for k, v in result.expected.items()}}


def timeline(enrolments: Sequence[Enrolment], outcome: Mapping[int, Outcome], *, as_of: datetime,
             days: int = TIMELINE_DAYS) -> list[dict[str, Any]]:
    """Per day, cumulative conversions and the conversion rate among those enrolled by then, treated vs holdout."""
    if not enrolments:
        return []
    start = max(min(e.entered_at for e in enrolments).date(), (as_of - timedelta(days=days - 1)).date())
    n_days = (as_of.date() - start).days + 1
    entered = {g: np.zeros(n_days, dtype=np.int64) for g in ("treated", "holdout")}
    won = {g: np.zeros(n_days, dtype=np.int64) for g in ("treated", "holdout")}
    for e in enrolments:
        g = "holdout" if e.holdout else "treated"
        entered[g][max((e.entered_at.date() - start).days, 0)] += 1
        o = outcome.get(e.enrolment_id)
        if o is not None and o.first_at.date() >= start:
            won[g][(o.first_at.date() - start).days] += 1
    cum = {g: (np.cumsum(entered[g]), np.cumsum(won[g])) for g in entered}
    out = []
    for i in range(n_days):
        row: dict[str, Any] = {"date": (start + timedelta(days=i)).isoformat()}
        for g, (n, x) in cum.items():
            row[f"{g}_enrolled"] = int(n[i])
            row[f"{g}_conversions"] = int(x[i])
            row[f"{g}_rate"] = _num(x[i] / n[i] if n[i] else math.nan)
        out.append(row)
    return out


def failure_rows(treated: Sequence[Enrolment], ledger: Sequence[LedgerRow], engagements: Sequence[Engagement],
                 outcome: Mapping[int, Outcome], profiles: Mapping[str, Profile]) -> list[failure.TreatedRow]:
    """Each treated enrolment with its customer's profile, how far it got (human events) and its first send hour."""
    first_send: dict[int, datetime] = {}
    for row in ledger:
        if row.kind == "send" and row.state in HANDED_OVER:
            at = first_send.get(row.enrolment_id)
            if at is None or row.created_at < at:
                first_send[row.enrolment_id] = row.created_at
    human: dict[int, set[str]] = defaultdict(set)
    for g in engagements:
        if g.enrolment_id is not None and not g.machine:
            human[g.enrolment_id].add(g.kind)
    rows = []
    for e in treated:
        p = profiles.get(e.customer_id)
        did = human.get(e.enrolment_id, set())
        at = first_send.get(e.enrolment_id)
        level = failure.engagement_level(messaged=at is not None, opened="open" in did, clicked="click" in did)
        rows.append(failure.TreatedRow(
            e.enrolment_id, e.enrolment_id in outcome, p.dormancy_type if p else None, p.churn_reason if p else None,
            p.stage if p else None, p.segment if p else None, level, at.hour if at is not None else None))
    return rows


class Inputs(NamedTuple):
    """Everything the report of one programme is built from, as read from the store."""

    enrolments: list[Enrolment]
    ledger: list[LedgerRow]
    engagements: list[Engagement]  # of this programme's enrolments
    orders: list[Order]  # of the enrolled customers, since the first entry
    coupons: list[CouponRow]  # redeemed coupons of this programme
    clicks: list[attr.Click]  # clicks of the enrolled customers in any programme, for attribution
    profiles: dict[str, Profile]
    currencies: list[str]


def build(programme: Programme, data: Inputs, *, as_of: datetime, include_machine: bool = False,
          revenue_method: str = "welch") -> dict[str, Any]:
    """The report of one programme at `as_of` (docs/measurement.md#reports lists every key)."""
    window = programme.goal.within
    outcome = outcomes(data.enrolments, data.orders, window=window, as_of=as_of)
    treated = [e for e in data.enrolments if not e.holdout]
    held = [e for e in data.enrolments if e.holdout]
    rev_t = np.array([outcome[e.enrolment_id].revenue if e.enrolment_id in outcome else 0.0 for e in treated])
    rev_c = np.array([outcome[e.enrolment_id].revenue if e.enrolment_id in outcome else 0.0 for e in held])
    measured = lift(treated_revenue=rev_t, holdout_revenue=rev_c,
                    treated_conversions=sum(e.enrolment_id in outcome for e in treated),
                    holdout_conversions=sum(e.enrolment_id in outcome for e in held), method=revenue_method)
    spent = costs(programme, data.ledger, data.coupons)
    variant_of = {(r.enrolment_id, r.step): r.variant for r in data.ledger if r.kind == "send"}
    coupon_touch = {c.order_id: attr.Touch(programme.programme, c.step, variant_of.get((c.enrolment_id, c.step)))
                    for c in data.coupons if c.enrolment_id is not None}
    credited = attr.attribute(data.orders, coupons=coupon_touch, clicks=data.clicks)
    credited = [a for a in credited if a.programme_id == programme.programme]
    by_step = attr.summarise(credited, programme_id=programme.programme)
    step_revenue: dict[str, float] = defaultdict(float)
    for row in by_step:
        step_revenue[row["step"] or ""] += row["revenue"]
    analysis = failure.breakdown(failure_rows(treated, data.ledger, data.engagements, outcome, data.profiles))
    experiments_ = experiments(programme, data.ledger, outcome)
    srm = {"holdout": holdout_srm(treated=len(treated), holdout=len(held), share=programme.holdout),
           "variants": {x["step"]: x["srm"] for x in experiments_ if x["srm"] is not None}}
    srm["alarm"] = bool((srm["holdout"] or {}).get("alarm")) or any(s["alarm"] for s in srm["variants"].values())
    steps = [s for s, st in zip(programme.step_ids, programme.steps, strict=True) if st.send or st.task]
    notes = _notes(programme, data, include_machine=include_machine, srm_alarm=srm["alarm"])
    return {
        "programme": programme.programme, "as_of": as_of.isoformat(),
        "conversion_window_days": window.total_seconds() / 86_400, "include_machine": include_machine,
        "groups": {"enrolled": len(data.enrolments), "treated": len(treated), "holdout": len(held),
                   "holdout_share_configured": programme.holdout,
                   "holdout_share_observed": _num(len(held) / len(data.enrolments) if data.enrolments else math.nan)},
        "totals": totals(data.enrolments, data.ledger, data.engagements, outcome, include_machine=include_machine),
        "funnel": funnel(data.ledger, data.engagements, outcome, step_order=programme.step_ids,
                         include_machine=include_machine),
        "lift": measured,
        "roi": roi(incremental_revenue=measured["incremental_revenue"], margin=programme.costs.margin,
                   incentive_cost=spent["incentive"], sending_cost=spent["sending"]),
        "costs": {k: v for k, v in spent.items() if k != "by_step"},
        "attribution": {"method": "coupon redeemed, else the last human click within 7 days before the order; "
                                  "not incremental — read the lift for what the programme added",
                        "orders": len(credited), "revenue": round(sum(a.amount for a in credited), 2),
                        "by_step": by_step},
        "experiments": experiments_,
        "srm": srm,
        "failure_analysis": {**analysis, "worst": failure.worst(analysis),
                             "cost_benefit": failure.step_cost_benefit(spent["by_step"], step_revenue,
                                                                       margin=programme.costs.margin, steps=steps)},
        "timeline": timeline(data.enrolments, outcome, as_of=as_of),
        "currencies": data.currencies,
        "notes": notes,
    }


def _notes(programme: Programme, data: Inputs, *, include_machine: bool, srm_alarm: bool) -> list[str]:
    window = programme.goal.within.total_seconds() / 86_400
    notes = [f"a conversion is a purchase (not cancelled or refunded) after entering and within the goal window "
             f"of {window:g} days; enrolments whose window is still open count what they bought so far, in both "
             "groups alike",
             "the lift compares every treated enrolment, whether or not a message reached it (intention to treat), "
             "with the holdout; attribution is shown beside it and is not incremental",
             "machine opens and clicks (privacy proxies, scanners) are " + (
                 "included (--include-machine)" if include_machine else "excluded; see machine_opens/clicks"),
             ROI_FORMULA]
    if srm_alarm:
        notes.insert(0, "SAMPLE RATIO MISMATCH: the observed split differs from the configured one (p < 0.001); "
                        "the comparison may be biased — check the assignment before trusting the numbers")
    if len(data.currencies) > 1:
        notes.append(f"orders are in {len(data.currencies)} currencies ({', '.join(data.currencies)}); amounts are "
                     "added as they are")
    return notes


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
