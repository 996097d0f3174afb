"""Failure analysis: among the treated who did not convert, who they are (dormancy type, churn reason, stage,
segment), how far they got (never opened, opened but did not click, clicked but did not buy) and when they were
sent to — each group with its size, its share and its conversion rate against the treated average, worst first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

DIMENSIONS = ("dormancy_type", "churn_reason", "stage", "segment", "engagement", "send_hour")
LEVELS = ("no_message", "never_opened", "opened_not_clicked", "clicked")


class TreatedRow(NamedTuple):
    """One treated enrolment with what is known of its customer and what it did (human events only)."""

    enrolment_id: int
    converted: bool
    dormancy_type: str | None
    churn_reason: str | None
    stage: str | None
    segment: str | None
    engagement: str  # one of LEVELS
    send_hour: int | None  # UTC hour of the enrolment's first message handed over


def engagement_level(*, messaged: bool, opened: bool, clicked: bool) -> str:
    """How far a treated customer got; a click without a recorded open (images blocked) counts as a click."""
    if not messaged:
        return "no_message"
    if clicked:
        return "clicked"
    return "opened_not_clicked" if opened else "never_opened"


def breakdown(rows: Sequence[TreatedRow], *, dimensions: Sequence[str] = DIMENSIONS) -> dict[str, Any]:
    """Per dimension, the buckets of non-responders: `size` (non-responders in it), `share` (of all
    non-responders), `treated` and `conversion_rate` (of every treated enrolment in it) and `vs_average`
    (that rate − the treated average), sorted lowest rate first, then largest."""
    n = len(rows)
    won = sum(r.converted for r in rows)
    average = won / n if n else None
    lost = n - won
    out: dict[str, Any] = {"treated": n, "non_responders": lost, "treated_conversion_rate": _round(average),
                           "dimensions": {}}
    for dim in dimensions:
        buckets: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # value → [treated, converted]
        for r in rows:
            value = getattr(r, dim)
            b = buckets["unknown" if value is None else str(value)]
            b[0] += 1
            b[1] += int(r.converted)
        table = []
        for value, (treated, converted) in buckets.items():
            rate = converted / treated
            size = treated - converted
            if dim == "engagement" and value == "clicked":
                value = "clicked_not_bought"  # among non-responders, a click did not lead to a purchase
            table.append({"value": value, "size": size, "share": _round(size / lost if lost else None),
                          "treated": treated, "conversion_rate": _round(rate),
                          "vs_average": _round(rate - average if average is not None else None)})
        table.sort(key=lambda b: (b["conversion_rate"], -b["size"], b["value"]))
        out["dimensions"][dim] = table
    return out


def worst(analysis: Mapping[str, Any], *, limit: int = 10, min_size: int = 1) -> list[dict[str, Any]]:
    """The buckets of every dimension together, lowest conversion rate (then largest) first."""
    rows = [{"dimension": dim, **b} for dim, table in analysis["dimensions"].items() for b in table
            if b["size"] >= min_size]
    rows.sort(key=lambda b: (b["conversion_rate"], -b["size"]))
    return rows[:limit]


def step_cost_benefit(costs: Mapping[str, float], revenue: Mapping[str, float], *, margin: float,
                      steps: Iterable[str]) -> list[dict[str, Any]]:
    """Per step: what its sends (and redeemed incentives) cost against the revenue attributed to it, and the
    attributed gross margin less that cost. Attributed revenue is not incremental: read it as an upper bound."""
    out = []
    for step in steps:
        cost = float(costs.get(step, 0.0))
        rev = float(revenue.get(step, 0.0))
        net = rev * margin - cost
        out.append({"step": step, "cost": round(cost, 2), "attributed_revenue": round(rev, 2),
                    "attributed_margin_less_cost": round(net, 2),
                    "line": f"{step}: cost {cost:,.2f} vs attributed revenue {rev:,.2f} "
                            f"(margin {rev * margin:,.2f}, net {net:,.2f})"})
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
