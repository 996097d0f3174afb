"""What kind of silence: dormancy types for at-risk and dormant customers, each with its evidence.

- natural_cycle: a long own purchase cycle that is not yet overdue, still reading email — silence is their rhythm;
- bad_experience: a complaint, a bad rating or an unresolved ticket shortly before they went quiet;
- channel_shift: silent on email, active on the app or SMS;
- content_fatigue: email engagement falling while they still visit;
- unknown: none of these fits.
The order of the checks is the order of precedence: a bad experience explains silence before anything else.
A pattern can show before the orders stop (content fatigue in a customer who still buys), so every customer
but the new is typed when a pattern fits; `unknown` is kept for the quiet customers no pattern explains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

DORMANCY_TYPES = ("natural_cycle", "content_fatigue", "bad_experience", "channel_shift", "unknown")
NEGATIVE_BEFORE_SILENCE_DAYS = 30  # a complaint, bad rating or ticket this close before the last activity
LONG_CYCLE_DAYS = 75  # a purchase cycle this long is a rhythm, not a warning
NOT_YET_OVERDUE = 1.25  # time since the last order, in own cycles
CHANNEL_SHIFT_EMAIL_SILENT_DAYS = 100
MIN_OTHER_CHANNEL_EVENTS = 5  # app sessions, logins, SMS clicks in 120 days: a habit, not a visit
FATIGUE_EMAIL_SILENT_DAYS = 60


@dataclass
class Dormancy:
    type: str
    evidence: list[str] = field(default_factory=list)


def _n(value: Any) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _days_between(later: Any, earlier: Any) -> float | None:
    if later is None or earlier is None or pd.isna(later) or pd.isna(earlier):
        return None
    return (pd.Timestamp(later) - pd.Timestamp(earlier)).total_seconds() / 86_400.0


def dormancy_type(row: Any) -> Dormancy:
    """The dormancy type of one customer (a row of the features table with `as_of`)."""
    as_of = row.as_of
    last_seen = max((x for x in (row.last_order_at, row.last_activity_at) if x is not None and not pd.isna(x)),
                    default=None)
    gap = _days_between(last_seen, row.last_negative_at)
    if gap is not None and -1 <= gap <= NEGATIVE_BEFORE_SILENCE_DAYS:
        what = [f"negative feedback {max(gap, 0):.0f} days before going quiet"]
        if _n(row.unresolved_tickets):
            what.append(f"{int(row.unresolved_tickets)} unresolved ticket(s)")
        return Dormancy("bad_experience", what)

    email_silent = _days_between(as_of, row.last_email_engagement_at)
    if email_silent is None:  # never engaged by email: silent since they became a customer
        email_silent = _n(row.tenure_days)
    cadence, overdue = _n(row.cadence_days), row.overdue_ratio
    if (cadence >= LONG_CYCLE_DAYS and overdue is not None and not pd.isna(overdue) and overdue < NOT_YET_OVERDUE
            and email_silent < FATIGUE_EMAIL_SILENT_DAYS):  # quiet between orders, still reading: their rhythm
        return Dormancy("natural_cycle", [f"buys every {cadence:.0f} days; {overdue:.1f} of a cycle since the last",
                                          f"last email opened or clicked {email_silent:.0f} days ago"])

    app = sum(_n(getattr(row, f"{k}_{w}")) for k in ("app_session", "login", "sms_click") for w in ("30", "prior_90"))
    if email_silent >= CHANNEL_SHIFT_EMAIL_SILENT_DAYS and app >= MIN_OTHER_CHANNEL_EVENTS:
        return Dormancy("channel_shift", [f"no email opens or clicks for {email_silent:.0f} days",
                                          f"{app:.0f} app sessions, logins or SMS clicks in the last 120 days"])
    if email_silent >= FATIGUE_EMAIL_SILENT_DAYS and row.last_email_engagement_at is not None \
            and not pd.isna(row.last_email_engagement_at):
        web = sum(_n(getattr(row, f"{k}_{w}")) for k in ("page_view", "search") for w in ("30", "prior_90"))
        return Dormancy("content_fatigue", [f"no email opens or clicks for {email_silent:.0f} days",
                                            f"{web:.0f} visits or searches in the last 120 days"])
    return Dormancy("unknown", [])


def dormancy_types(features: pd.DataFrame, eligible: Any) -> pd.DataFrame:
    """customer_id, dormancy_type, dormancy_evidence: the pattern of each eligible customer's silence.

    Customers who are not eligible get None. Among the eligible, `unknown` is returned only for those
    who are actually quiet (`quiet` column true); a customer still in their rhythm with no pattern gets None.
    """
    types, evidence = [], []
    quiet = features["quiet"].to_numpy() if "quiet" in features else [True] * len(features)
    for row, ok, is_quiet in zip(features.itertuples(index=False), eligible, quiet, strict=True):
        d = dormancy_type(row) if ok else None
        if d is None or (d.type == "unknown" and not is_quiet):
            types.append(None)
            evidence.append(None)
        else:
            types.append(d.type)
            evidence.append(d.evidence)
    return pd.DataFrame({"customer_id": features["customer_id"].to_numpy(), "dormancy_type": types,
                         "dormancy_evidence": evidence})
