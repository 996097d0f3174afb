"""The step machine, table-driven: a programme, facts and a frozen time in; a decision out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from winback.campaigns.assign import in_holdout, pick_variant, unit_hash
from winback.campaigns.definition import Programme
from winback.campaigns.machine import Facts, Position, advance, after_delivery, next_local_hour, quiet_until

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ENTERED = NOW - timedelta(days=1)


def programme(*steps: dict, **extra) -> Programme:
    return Programme.model_validate({"programme": "p", "audience": "scored()", "steps": list(steps), **extra})


def at(step: str | None, *, started: datetime | None = None, attempts: int = 0, customer: str = "c1") -> Position:
    return Position(enrolment_id=1, programme_id="p", customer_id=customer, step=step, attempts=attempts,
                    entered_at=ENTERED, step_started_at=started)


def facts(**kw) -> Facts:
    return Facts(**{"email": "a@example.com", "time_zone": "UTC", **kw})


SEND = {"id": "s1", "send": {"template": "t1", "subject": "hi"}}
SEND2 = {"id": "s2", "send": {"template": "t2"}}


def test_a_send_step_hands_over_with_the_address_and_template():
    d = advance(programme(SEND), at("s1"), facts(), NOW)
    assert d.send is not None and (d.send.address, d.send.template, d.send.channel) == ("a@example.com", "t1", "email")
    assert d.step == "s1" and not d.finished


def test_arriving_at_a_wait_sets_its_due_time_and_leaving_it_goes_on():
    p = programme(SEND, {"id": "w", "wait": "3d"}, SEND2)
    d = advance(p, at("w"), facts(), NOW)
    assert (d.step, d.due_at, d.step_started_at, d.began_wait) == ("w", NOW + timedelta(days=3), NOW, True)
    later = NOW + timedelta(days=3)
    d2 = advance(p, at("w", started=NOW), facts(), later)
    assert d2.send is not None and d2.send.step == "s2"


def test_wait_until_records_what_wakes_it_and_times_out():
    p = programme(SEND, {"id": "w", "wait": {"until": ["click", "purchase"], "timeout": "5d"}}, SEND2)
    d = advance(p, at("w"), facts(), NOW)
    assert d.wake_on == "click,purchase" and d.due_at == NOW + timedelta(days=5)


def test_the_end_of_the_steps_completes_the_enrolment():
    d = advance(programme(SEND), at(None), facts(), NOW)
    assert (d.state, d.outcome, d.step, d.due_at) == ("completed", "completed", None, None)


@pytest.mark.parametrize(("kw", "outcome"), [
    ({"purchases": [ENTERED + timedelta(hours=5)]}, "reactivated"),
    ({"suppressed": {"email": "unsubscribe"}}, "unsubscribed"),
    ({"consent": {"email": "unsubscribed"}}, "unsubscribed"),
    ({"suppressed": {"email": "complaint"}}, "complained"),
    ({"suppressed": {"email": "hard_bounce"}}, "hard_bounced"),
])
def test_exits_end_the_enrolment_before_anything_is_sent(kw, outcome):
    d = advance(programme(SEND), at("s1"), facts(**kw), NOW)
    assert d.send is None and (d.state, d.outcome) == ("exited", outcome)


def test_the_goal_exit_counts_only_purchases_inside_the_goal_window():
    p = programme(SEND, exits=["goal"], goal={"within": "1d"})
    inside = advance(p, at("s1"), facts(purchases=[ENTERED + timedelta(hours=23)]), NOW)
    outside = advance(p, at("s1"), facts(purchases=[ENTERED + timedelta(hours=25)]), NOW + timedelta(days=2))
    assert inside.outcome == "goal_reached" and outside.send is not None


def test_exits_not_listed_do_not_apply():
    d = advance(programme(SEND, exits=["unsubscribe"]), at("s1"), facts(purchases=[NOW]), NOW)
    assert d.send is not None


@pytest.mark.parametrize(("kw", "reason"), [
    ({"email": None}, "invalid_address"),
    ({"suppressed": {"email": "invalid"}}, "invalid_address"),
    ({"suppressed": {"email": "manual"}}, "suppressed"),
])
def test_a_send_that_cannot_reach_the_customer_is_skipped_with_a_reason(kw, reason):
    d = advance(programme(SEND, SEND2, exits=[]), at("s1"), facts(**kw), NOW)
    assert (d.records[0].step, d.records[0].state, d.records[0].reason) == ("s1", "skipped", reason)


def test_explicit_consent_needs_a_subscribed_record_soft_opt_in_does_not():
    explicit = programme(SEND, consent="explicit")
    assert advance(explicit, at("s1"), facts(), NOW).records[0].reason == "no_consent"
    assert advance(explicit, at("s1"), facts(consent={"email": "subscribed"}), NOW).send is not None
    assert advance(programme(SEND), at("s1"), facts(), NOW).send is not None


def test_transactional_sends_ignore_caps_and_quiet_hours():
    p = programme({"id": "s1", "send": {"template": "t", "marketing": False}},
                  caps={"programme": {"max": 1, "per": "7d"}}, quiet_hours={"start": "00:00", "end": "23:59"})
    f = facts(recent_sends=[("p", "email", NOW - timedelta(days=1))])
    assert advance(p, at("s1"), f, NOW).send is not None


def test_programme_cap_counts_only_this_programme_global_cap_counts_all():
    p = programme(SEND, SEND2, caps={"programme": {"max": 2, "per": "7d"}})
    mine = [("p", "email", NOW - timedelta(days=d)) for d in (1, 2)]
    d = advance(p, at("s1"), facts(recent_sends=mine), NOW)
    assert d.records[0].reason == "capped" and "programme cap: 2 of 2" in d.records[0].detail
    others = [("q", "email", NOW - timedelta(days=d)) for d in (1, 2)]
    assert advance(p, at("s1"), facts(recent_sends=others), NOW).send is not None
    capped = facts(recent_sends=others, global_caps={"email": (2, timedelta(days=7))})
    assert "global cap" in advance(p, at("s1"), capped, NOW).records[0].detail
    old = facts(recent_sends=[("q", "email", NOW - timedelta(days=8))] * 5, global_caps={"email": (2, timedelta(7))})
    assert advance(p, at("s1"), old, NOW).send is not None
    opted_out = programme(SEND, caps={"global": False})
    assert advance(opted_out, at("s1"), capped, NOW).send is not None


def test_quiet_hours_postpone_to_their_end_in_the_customers_time_zone():
    p = programme(SEND, quiet_hours={"start": "21:00", "end": "08:00"})
    # 12:00 UTC is 20:00 in Shanghai (not quiet) and 23:00 in… UTC+11 (quiet until 08:00 local = 21:00 UTC).
    assert advance(p, at("s1"), facts(time_zone="Asia/Shanghai"), NOW).send is not None
    d = advance(p, at("s1"), facts(time_zone="Pacific/Noumea"), NOW)
    assert d.send is None and d.deferred == "quiet_hours" and d.due_at == datetime(2026, 10, 1, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(("local", "expected"), [
    ("2026-10-01T22:30", "2026-10-02T08:00"), ("2026-10-02T03:00", "2026-10-02T08:00"),
    ("2026-10-02T08:00", None), ("2026-10-02T20:59", None),
])
def test_quiet_hours_across_midnight(local, expected):
    from winback.campaigns.definition import QuietHours

    zone = ZoneInfo("Europe/Berlin")
    now = datetime.fromisoformat(local).replace(tzinfo=zone)
    got = quiet_until(now, QuietHours(start="21:00", end="08:00"), zone)
    assert (got.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes") if got else None) == expected


def test_send_time_moves_the_send_to_the_customers_hour_once():
    p = programme(SEND, send_time={"optimise": True})
    d = advance(p, at("s1"), facts(preferred_hour=19), NOW)
    assert d.deferred == "send_time" and d.due_at == NOW.replace(hour=19) and d.step_started_at == NOW
    again = advance(p, at("s1", started=NOW), facts(preferred_hour=19), NOW.replace(hour=19))
    assert again.send is not None
    assert advance(p, at("s1"), facts(), NOW).send is not None  # nothing known, no default hour: send now


def test_next_local_hour_is_within_a_day():
    zone = ZoneInfo("Asia/Shanghai")
    assert next_local_hour(NOW, 21, zone) == datetime(2026, 10, 1, 13, 0, tzinfo=UTC)
    assert next_local_hour(NOW, 9, zone) == datetime(2026, 10, 2, 1, 0, tzinfo=UTC)


def branchy() -> Programme:
    return programme(
        SEND,
        {"id": "b", "branch": [{"when": {"clicked": "s1"}, "goto": "offer"},
                               {"when": {"opened": True, "replied": False}, "goto": "nudge"},
                               {"when": {"churn_reason": "price"}, "goto": "coupon"},
                               {"otherwise": "end"}]},
        {"id": "nudge", "send": {"template": "nudge"}},
        {"id": "coupon", "send": {"template": "coupon"}},
        {"id": "offer", "send": {"template": "offer"}},
    )


@pytest.mark.parametrize(("kw", "target"), [
    ({"engaged": {("click", "s1")}}, "offer"),
    ({"engaged": {("open", "s1")}}, "nudge"),
    ({"engaged": {("open", "s1"), ("reply", "s1")}}, None),  # opened and replied: no arm but otherwise → end
    ({"profile": {"churn_reason": "price"}}, "coupon"),
    ({}, None),
])
def test_branch_arms_are_tried_in_order(kw, target):
    d = advance(branchy(), at("b"), facts(**kw), NOW)
    if target is None:
        assert d.state == "completed" and d.records[0].detail == "goto end"
    else:
        assert d.send is not None and d.send.step == target and d.records[0].detail == f"goto {target}"


def test_branch_on_a_segment_uses_the_precomputed_match():
    p = programme(SEND, {"id": "b", "branch": [{"when": {"segment": "clv > 100"}, "goto": "vip"}]},
                  {"id": "plain", "end": "plain"}, {"id": "vip", "end": "vip"})
    assert advance(p, at("b"), facts(segments={"clv > 100": True}), NOW).outcome == "vip"
    assert advance(p, at("b"), facts(segments={"clv > 100": False}), NOW).outcome == "plain"


def test_tasks_and_moves_are_collected_and_recorded_on_the_way():
    p = programme({"id": "t", "task": {"title": "Call", "due": "1d"}}, {"id": "m", "move": {"list": "nurture",
                                                                                          "tag": "sunset"}})
    d = advance(p, at("t"), facts(), NOW)
    assert d.state == "completed" and [s for s, _ in d.tasks] == ["t"] and d.moves == [("m", "nurture", "sunset")]
    assert [(r.step, r.kind, r.state) for r in d.records] == [("t", "task", "done"), ("m", "move", "done")]


def test_after_a_send_the_next_step_is_due_now_and_failures_retry_with_growing_backoff():
    p = programme(SEND, SEND2, retries={"max_attempts": 3, "backoff": "10m"})
    rng = random.Random(1)
    assert after_delivery(p, at("s1"), status="sent", now=NOW, rng=rng).step == "s2"
    first = after_delivery(p, at("s1", attempts=0), status="soft_failed", now=NOW, rng=rng)
    second = after_delivery(p, at("s1", attempts=1), status="unknown", now=NOW, rng=rng)
    assert first.step == second.step == "s1" and (first.attempts, second.attempts) == (1, 2)
    assert timedelta(minutes=5) <= first.due_at - NOW <= timedelta(minutes=15)
    assert timedelta(minutes=10) <= second.due_at - NOW <= timedelta(minutes=30)
    spent = after_delivery(p, at("s1", attempts=2), status="soft_failed", now=NOW, rng=rng)
    assert spent.step == "s2"  # the ledger records failed; the enrolment goes on


def test_a_hard_bounce_exits_when_the_programme_says_so():
    p = programme(SEND, SEND2)
    assert after_delivery(p, at("s1"), status="hard_bounced", now=NOW, rng=random.Random(0)).outcome == "hard_bounced"
    p2 = programme(SEND, SEND2, exits=["purchase"])
    assert after_delivery(p2, at("s1"), status="hard_bounced", now=NOW, rng=random.Random(0)).step == "s2"


def test_variants_are_deterministic_and_follow_the_weights():
    weights = [("a", 1.0), ("b", 3.0)]
    picks = [pick_variant("p", "s1", f"c{i}", weights) for i in range(20_000)]
    assert picks == [pick_variant("p", "s1", f"c{i}", weights) for i in range(20_000)]
    share_b = picks.count("b") / len(picks)
    assert 0.74 < share_b < 0.76


def test_holdout_is_a_stable_hash_of_programme_and_customer_and_grows_monotonically():
    ids = [f"c{i}" for i in range(50_000)]
    ten = {c for c in ids if in_holdout("p", c, 0.10)}
    twenty = {c for c in ids if in_holdout("p", c, 0.20)}
    assert ten < twenty and 0.095 < len(ten) / len(ids) < 0.105
    assert ten != {c for c in ids if in_holdout("q", c, 0.10)}  # another programme, another holdout
    assert not any(in_holdout("p", c, 0.0) for c in ids)
    assert 0 <= unit_hash("x") < 1
