"""`winback demo` end to end, as the README's first command runs it (a smaller world): the programme runs, simulated
customers answer through the real tracking service, and the report is printed next to the truth."""

from __future__ import annotations

import json

import sqlalchemy as sa
from test_cli import winback


def test_demo_measures_a_playbook_against_a_known_truth(tmp_path) -> None:
    result = winback("demo", "--customers", "1200", "--json", home=tmp_path)
    out = json.loads(result.stdout)
    programme = out["programme"]
    truth, measured = programme["response"]["truth"], programme["measured"]
    assert truth == {"incremental_conversion_rate": 0.04, "incremental_revenue_per_customer": 2.04, "base_rate": 0.05}
    assert programme["worker"]["handed_over"] > 0
    served = programme["response"]["served"]
    assert served["requests"] > 0
    assert set(served["by_status"]) <= {"open_200", "click_302"}  # every link in the messages worked
    lift = measured["lift"]["conversion_rate"]
    assert lift["low"] <= lift["estimate"] <= lift["high"] and lift["method"] == "newcombe"
    totals = measured["totals"]
    assert totals["treated"] + totals["holdout"] == programme["response"]["orders"]["enrolled"]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'winback.db'}")
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text(
            "SELECT kind || ':' || machine || ':' || coalesce(reason, ''), count(*) FROM engagements "
            "WHERE kind IN ('open', 'click') GROUP BY 1")).all())
        rejected = conn.scalar(sa.text("SELECT count(*) FROM tracking_rejects"))
        opened = conn.scalar(sa.text("SELECT count(DISTINCT enrolment_id) FROM engagements "
                                     "WHERE kind = 'open' AND NOT machine"))
    engine.dispose()
    # the privacy proxy's prefetches were recorded and flagged, people's opens and clicks were not, nothing refused
    assert kinds.get("open:1:apple_mpp", 0) > 0 and kinds.get("open:0:", 0) > 0 and kinds.get("click:0:", 0) > 0
    assert totals["opens"] == opened and rejected == 0  # the report counts each enrolment's human opens once
    assert sum(kinds.values()) == served["requests"]
