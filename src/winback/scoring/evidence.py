"""The texts that say why a customer left, gathered from the history as of a date."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa


def reason_evidence(history: dict[str, pa.Table], *, as_of: datetime) -> pd.DataFrame:
    """customer_id, source, text, category, rating, at: feedback opened and cancellation reasons given by then."""
    at = pd.Timestamp(as_of)
    feedback = history["feedback"].select(["customer_id", "kind", "text", "category", "rating", "opened_at"]) \
        .to_pandas()
    feedback = feedback[feedback["opened_at"] <= at].rename(columns={"kind": "source", "opened_at": "at"})
    subs = history["subscriptions"].select(["customer_id", "cancel_reason", "cancelled_at"]).to_pandas()
    subs = subs[subs["cancel_reason"].notna() & subs["cancelled_at"].notna() & (subs["cancelled_at"] <= at)]
    cancels = pd.DataFrame({"customer_id": subs["customer_id"], "source": "cancel_reason",
                            "text": subs["cancel_reason"], "category": None, "rating": None,
                            "at": subs["cancelled_at"]})
    frames = [f for f in (feedback, cancels) if len(f)]
    if not frames:
        return pd.DataFrame(columns=["customer_id", "source", "text", "category", "rating", "at"])
    return pd.concat(frames, ignore_index=True)
