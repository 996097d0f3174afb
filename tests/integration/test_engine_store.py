"""The engine against real stores: enrolment, triggers, rechecks at send time, versions, stop, wake, exits, caps,
bounces, tasks and lists — on SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from winback.jobs import programmes as jobs
from winback.jobs.workspace import Workspace
from winback.messaging.transports.base import Delivery
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t

START = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ADDRESS = "Example Shop, 1 Example Street, 10115 Berlin"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(engine, store_url, tmp_path):
    """A store with 40 customers (c0…c39), a workspace on it with a movable clock, and a programme writer."""
    clock = Clock(START)
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS), clock=clock)
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
             "name": f"Customer {i}", "locale": "zh-CN" if i % 2 else "en", "time_zone": "UTC", "row_hash": "x",
             "updated_at": START} for i in range(40)])

    class World:
        def __init__(self):
            self.ws, self.clock, self.engine = ws, clock, engine

        def programme(self, body: str, name: str = "p.yaml") -> str:
            path = tmp_path / name
            path.write_text(textwrap.dedent(body))
            return str(path)

        def run(self, transport=None, *, simulate=True):
            transport = transport if transport is not None else MemoryTransport()
            report = jobs.run(ws, until_idle=True, simulate=simulate, transport=transport, seed=1)
            return report, transport

        def ledger(self, **where):
            g = t.ledger.c
            stmt = sa.select(t.ledger).order_by(g.enrolment_id, g.id)
            for key, value in where.items():
                stmt = stmt.where(g[key] == value)
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(stmt).mappings()]

        def enrolments(self):
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(sa.select(t.enrolments).order_by(
                    t.enrolments.c.enrolment_id)).mappings()]

        def insert(self, table, rows):
            with engine.begin() as conn:
                conn.execute(table.insert(), rows)

    yield World()
    ws.close()


TWO_SENDS = """
    programme: two
    audience: "customer_id in ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10']"
    holdout: 0
    steps:
      - id: first
        send: {template: winback/reminder, subject: {en: Hello, zh: 你好}}
      - wait: 2d
      - id: second
        send: {template: winback/whats-new, subject: Again}
"""


def test_an_audience_programme_runs_to_its_end_and_the_ledger_matches_the_sink(world):
    started = jobs.start(world.ws, world.programme(TWO_SENDS))
    assert (started["enrolled"], started["holdout"], started["version"]) == (10, 0, 1)
    report, sink = world.run()
    sent = world.ledger(kind="send")
    assert len(sent) == 20 and {r["state"] for r in sent} == {"sent"}
    assert sorted(r["message_id"] for r in sent) == sorted(m.message_id for m in sink.outbox)
    assert all(e["state"] == "completed" and e["due_at"] is None for e in world.enrolments())
    assert report.finished >= START + timedelta(days=2)  # the simulated clock jumped over the wait
    second = [m for m in sink.outbox if m.step == "second"]
    assert len(second) == 10 and all(b"Subject: Again" in m.payload for m in second)
    zh = next(m for m in sink.outbox if m.customer_id == "c1" and m.step == "first")
    assert b"=?utf-8?" in zh.payload  # 你好, encoded per RFC 2047


def test_suppression_and_unsubscribes_are_rechecked_at_send_time(world):
    jobs.start(world.ws, world.programme(TWO_SENDS))
    world.run(simulate=False)  # the first sends go; the second is two days away
    world.insert(t.suppressions, [{"channel": "email", "address_key": "c1@example.com", "address": "c1@example.com",
                                   "basis": "unsubscribe", "row_hash": "x", "updated_at": START}])
    world.insert(t.suppressions, [{"channel": "email", "address_key": "c2@example.com", "address": "c2@example.com",
                                   "basis": "manual", "row_hash": "x", "updated_at": START}])
    _, sink = world.run()
    assert {m.customer_id for m in sink.outbox} == {f"c{i}" for i in range(3, 11)}
    outcome = {e["customer_id"]: e["outcome"] for e in world.enrolments()}
    assert outcome["c1"] == "unsubscribed" and outcome["c2"] == "completed"
    skipped = world.ledger(state="skipped")
    assert [(r["customer_id"], r["step"], r["reason"]) for r in skipped] == [("c2", "second", "suppressed")]


def test_running_enrolments_keep_their_version_and_new_ones_get_the_new_one(world):
    path = world.programme(TWO_SENDS)
    jobs.start(world.ws, path)
    world.run(simulate=False)
    again = jobs.start(world.ws, path)
    assert (again["version"], again["new_version"]) == (1, False)
    edited = TWO_SENDS.replace("subject: Again", "subject: Changed").replace("'c10']", "'c10', 'c11']")
    v2 = jobs.start(world.ws, world.programme(edited))
    assert (v2["version"], v2["new_version"], v2["enrolled"]) == (2, True, 1)
    assert v2["excluded"] == {"already_enrolled": 10}
    _, sink = world.run()
    subjects = {m.customer_id: m.payload for m in sink.outbox if m.step == "second"}
    assert b"Subject: Again" in subjects["c1"] and b"Subject: Changed" in subjects["c11"]


def test_stop_ends_every_enrolment_and_records_the_pending_step(world):
    jobs.start(world.ws, world.programme(TWO_SENDS))
    world.run(simulate=False)
    result = jobs.set_state(world.ws, "two", "stop")
    assert result["ended"] == 10
    pending = world.ledger(kind="stop")
    assert len(pending) == 10 and {(r["step"], r["state"], r["reason"]) for r in pending} == \
        {("wait-2", "skipped", "programme_stopped")}
    _, sink = world.run()
    assert sink.outbox == []
    with pytest.raises(Exception, match="stopped"):
        jobs.set_state(world.ws, "two", "resume")


def test_pause_holds_every_step_and_resume_continues_without_resending(world):
    jobs.start(world.ws, world.programme(TWO_SENDS))
    jobs.set_state(world.ws, "two", "pause")
    _, sink = world.run()
    assert sink.outbox == []
    jobs.set_state(world.ws, "two", "resume")
    world.run(simulate=False)
    jobs.set_state(world.ws, "two", "pause")
    world.clock.now += timedelta(days=3)
    _, sink2 = world.run(simulate=False)
    assert sink2.outbox == []
    jobs.set_state(world.ws, "two", "resume")
    _, sink3 = world.run()
    assert sorted(m.step for m in sink3.outbox) == ["second"] * 10
    assert len(world.ledger(kind="send")) == 20


def test_holdout_customers_get_nothing_and_are_recorded(world):
    body = TWO_SENDS.replace("holdout: 0", "holdout: 0.5").replace(
        "audience: \"customer_id in ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10']\"",
        "audience: \"scored() or not scored()\"")
    started = jobs.start(world.ws, world.programme(body))
    assert started["enrolled"] + started["holdout"] == 40 and 8 <= started["holdout"] <= 32
    _, sink = world.run()
    held = {e["customer_id"] for e in world.enrolments() if e["holdout"]}
    assert len(held) == started["holdout"] and not held & {m.customer_id for m in sink.outbox}
    assert all(e["state"] == "holdout" and e["step"] is None for e in world.enrolments() if e["holdout"])
    assert not [r for r in world.ledger() if r["customer_id"] in held]


TRIGGERED = """
    programme: trig
    trigger: {event: EVENT, within: 2d}
    holdout: 0
    steps:
      - send: {template: winback/reminder}
"""


@pytest.mark.parametrize("event", ["order_placed", "subscription_cancelled", "cart_abandoned", "stage_changed"])
def test_triggers_enrol_the_customer_the_event_concerns_once(world, event):
    body = TRIGGERED.replace("EVENT", event if event != "stage_changed" else "stage_changed, to: dormant")
    started = jobs.start(world.ws, world.programme(body))
    assert "enrolled" not in started  # a trigger programme waits for events
    recent, old = START - timedelta(hours=3), START - timedelta(days=5)
    if event == "order_placed":
        world.insert(t.orders, [{"order_id": f"o{i}", "customer_id": c, "ordered_at": at, "amount": 10,
                                 "currency": "USD", "status": "completed", "row_hash": "x", "updated_at": START}
                                for i, (c, at) in enumerate([("c1", recent), ("c2", old), ("c3", recent)])])
    elif event == "subscription_cancelled":
        world.insert(t.subscriptions, [{"subscription_id": f"s{i}", "customer_id": c, "plan": "pro",
                                        "status": "cancelled", "started_at": old - timedelta(days=90),
                                        "cancelled_at": at, "row_hash": "x", "updated_at": START}
                                       for i, (c, at) in enumerate([("c1", recent), ("c2", old), ("c3", recent)])])
    elif event == "cart_abandoned":
        world.insert(t.events, [{"event_id": f"e{i}", "customer_id": c, "occurred_at": at, "type": typ,
                                 "row_hash": "x", "updated_at": START}
                                for i, (c, at, typ) in enumerate([("c1", recent, "cart_abandon"),
                                                                  ("c2", old, "cart_abandon"),
                                                                  ("c3", recent, "cart_abandon"),
                                                                  ("c4", recent, "page_view")])])
    else:
        world.insert(t.stage_transitions, [{"customer_id": c, "run_id": "r", "as_of": at, "from_stage": "at_risk",
                                            "to_stage": to} for c, at, to in [("c1", recent, "dormant"),
                                                                              ("c2", old, "dormant"),
                                                                              ("c3", recent, "dormant"),
                                                                              ("c4", recent, "churned")]])
    report, sink = world.run(simulate=False)
    assert report.enrolled == {"trig": 2}
    assert sorted(m.customer_id for m in sink.outbox) == ["c1", "c3"]
    world.clock.now += timedelta(minutes=5)
    report2, sink2 = world.run(simulate=False)  # the overlap re-reads the same events: nobody enters twice
    assert report2.enrolled.get("trig", 0) == 0 and sink2.outbox == []
    keys = [e["trigger_key"] for e in world.enrolments()]
    assert len(keys) == 2 and all(keys)


WAIT_UNTIL = """
    programme: waiter
    audience: "customer_id in ['c1', 'c2', 'c3']"
    holdout: 0
    steps:
      - id: ask
        send: {template: winback/reminder}
      - wait: {until: [click], timeout: 7d}
      - id: check
        branch:
          - when: {clicked: ask}
            goto: thanks
          - otherwise: end
      - id: thanks
        send: {template: winback/last-chance}
"""


def test_a_human_click_wakes_the_wait_early_and_a_machine_click_does_not(world):
    jobs.start(world.ws, world.programme(WAIT_UNTIL))
    world.run(simulate=False)
    ids = {e["customer_id"]: e["enrolment_id"] for e in world.enrolments()}
    click = START + timedelta(hours=2)
    world.insert(t.engagements, [
        {"customer_id": "c1", "enrolment_id": ids["c1"], "step": "ask", "kind": "click", "at": click,
         "machine": False},
        {"customer_id": "c2", "enrolment_id": ids["c2"], "step": "ask", "kind": "click", "at": click,
         "machine": True, "reason": "scanner: all links within 3 s"},
    ])
    world.clock.now = START + timedelta(hours=3)
    _, sink = world.run(simulate=False)
    assert [(m.customer_id, m.step) for m in sink.outbox] == [("c1", "thanks")]
    state = {e["customer_id"]: (e["state"], e["due_at"]) for e in world.enrolments()}
    assert state["c2"] == ("active", START + timedelta(days=7))
    _, rest = world.run()
    assert rest.outbox == [] and all(e["state"] == "completed" for e in world.enrolments())


def test_a_purchase_ends_waiting_enrolments_at_the_next_sweep(world):
    jobs.start(world.ws, world.programme(TWO_SENDS))
    world.run(simulate=False)
    world.insert(t.orders, [{"order_id": "o1", "customer_id": "c4", "ordered_at": START + timedelta(hours=1),
                             "amount": 30, "currency": "USD", "status": "completed", "row_hash": "x",
                             "updated_at": START}])
    world.clock.now = START + timedelta(hours=2)
    report, _ = world.run(simulate=False)
    assert report.exited == {"two": 1}
    c4 = next(e for e in world.enrolments() if e["customer_id"] == "c4")
    assert (c4["state"], c4["outcome"], c4["due_at"]) == ("exited", "reactivated", None)


def test_a_hard_bounce_suppresses_the_address_and_exits(world):
    jobs.start(world.ws, world.programme(TWO_SENDS))

    def respond(message):
        if message.customer_id == "c5":
            return Delivery("hard_bounced", "550 5.1.1 user unknown", "5.1.1")
        return Delivery("sent")

    _, sink = world.run(MemoryTransport(respond))
    c5 = [r for r in world.ledger() if r["customer_id"] == "c5"]
    assert [(r["step"], r["state"], r["reason"]) for r in c5] == [("first", "failed", "hard_bounce")]
    assert "5.1.1" in c5[0]["detail"]
    with world.engine.connect() as conn:
        basis = conn.scalar(sa.select(t.suppressions.c.basis).where(t.suppressions.c.address_key == "c5@example.com"))
    assert basis == "hard_bounce"
    assert next(e for e in world.enrolments() if e["customer_id"] == "c5")["outcome"] == "hard_bounced"
    assert len(sink.outbox) == 18


def test_soft_failures_retry_with_the_same_message_id_then_fail_visibly(world):
    body = TWO_SENDS.replace("holdout: 0", "holdout: 0\n    retries: {max_attempts: 3, backoff: 1m}")
    jobs.start(world.ws, world.programme(body))
    tries: dict[str, list[str]] = {}

    def respond(message):
        tries.setdefault(message.customer_id, []).append(message.message_id)
        if message.customer_id == "c6":
            return Delivery("soft_failed", "451 4.7.1 try later", "4.7.1")
        if message.customer_id == "c7" and len(tries["c7"]) == 1:
            return Delivery("unknown", "connection lost after DATA")
        if message.customer_id == "c8" and message.step == "first":
            return Delivery("unknown", "connection lost after DATA")
        return Delivery("sent")

    world.run(MemoryTransport(respond))
    assert len(tries["c6"]) == 6 and len(set(tries["c6"])) == 2  # 3 tries per step, one Message-ID per step
    c6 = [(r["step"], r["state"], r["reason"], r["attempts"]) for r in world.ledger() if r["customer_id"] == "c6"]
    assert c6 == [("first", "failed", "retries_exhausted", 3), ("second", "failed", "retries_exhausted", 3)]
    c7 = next(r for r in world.ledger() if r["customer_id"] == "c7" and r["step"] == "first")
    assert (c7["state"], c7["attempts"], c7["possible_duplicate"]) == ("sent", 2, True)
    assert tries["c7"][0] == tries["c7"][1]
    # A lost reply is retried once with the same Message-ID; a second lost reply is final.
    c8 = next(r for r in world.ledger() if r["customer_id"] == "c8" and r["step"] == "first")
    assert (c8["state"], c8["reason"], c8["attempts"]) == ("failed", "unknown_outcome", 2)
    assert [m for m in tries["c8"] if "first" in m] == [tries["c8"][0]] * 2


def test_the_error_budget_pauses_the_programme_and_resume_sends_only_the_unsent(world):
    body = TWO_SENDS.replace("holdout: 0", "holdout: 0\n    error_budget: 4")
    jobs.start(world.ws, world.programme(body))
    # A failure of the sending side (a wrong password) is temporary for every message: soft_failed.
    refused = MemoryTransport(lambda m: Delivery("soft_failed", "535 5.7.8 authentication failed", "5.7.8"))
    report, _ = world.run(refused)
    status = jobs.status(world.ws, "two")["programmes"][0]
    assert status["state"] == "paused" and "error budget" in status["state_reason"]
    assert report.steps.paused == ["two"] and refused.outbox == []
    assert {r["state"] for r in world.ledger(kind="send")} == {"soft_failed"}
    jobs.set_state(world.ws, "two", "resume")
    _, sink = world.run()
    assert sorted((m.customer_id, m.step) for m in sink.outbox) == sorted(
        (f"c{i}", step) for i in range(1, 11) for step in ("first", "second"))
    assert {r["state"] for r in world.ledger(kind="send")} == {"sent"}


def test_global_caps_skip_sends_over_the_limit(world, store_url, tmp_path):
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, frequency_caps="email=1/7d", postal_address=ADDRESS),
                   clock=world.clock)
    jobs.start(ws, world.programme(TWO_SENDS))
    transport = MemoryTransport()
    try:
        jobs.run(ws, until_idle=True, simulate=True, transport=transport)
    finally:
        ws.close()
    assert [m.step for m in transport.outbox] == ["first"] * 10
    assert {(r["step"], r["reason"]) for r in world.ledger(state="skipped")} == {("second", "capped")}


def test_tasks_lists_and_tags(world):
    body = """
        programme: am
        audience: "customer_id in ['c1', 'c2']"
        holdout: 0
        steps:
          - task: {title: Call about the renewal, assignee: am-team, due: 2d}
          - move: {list: long-term-nurture, tag: sunset}
    """
    jobs.start(world.ws, world.programme(body))
    world.run()
    with world.engine.connect() as conn:
        tasks = conn.execute(sa.select(t.tasks.c.customer_id, t.tasks.c.assignee, t.tasks.c.state,
                                       t.tasks.c.due_at).order_by(t.tasks.c.customer_id)).all()
        members = conn.execute(sa.select(t.list_members.c.customer_id, t.list_members.c.list_name)).all()
        tags = conn.execute(sa.select(t.customer_tags.c.customer_id, t.customer_tags.c.tag)).all()
    assert [tuple(r) for r in tasks] == [("c1", "am-team", "open", START + timedelta(days=2)),
                                         ("c2", "am-team", "open", START + timedelta(days=2))]
    assert sorted(members) == [("c1", "long-term-nurture"), ("c2", "long-term-nurture")]
    assert sorted(tags) == [("c1", "sunset"), ("c2", "sunset")]


def test_status_counts_steps_by_state_variant_and_holdout(world):
    body = TWO_SENDS.replace("send: {template: winback/whats-new, subject: Again}",
                             "send: {template: winback/whats-new, variants: [{name: a}, {name: b}]}")
    jobs.start(world.ws, world.programme(body))
    world.run()
    prog = jobs.status(world.ws, "two")["programmes"][0]
    assert prog["enrolments"] == {"completed": 10} and prog["pending_steps"] == 0
    second = prog["steps"]["second"]
    assert second["states"] == {"sent": 10}
    assert sum(v["sent"] for v in second["variants"].values()) == 10 and set(second["variants"]) <= {"a", "b"}


def test_reentry_after_a_gap(world):
    body = TWO_SENDS.replace("holdout: 0", "holdout: 0\n    entry: {reentry: 10d, refresh: 1d}")
    jobs.start(world.ws, world.programme(body))
    world.run()
    world.clock.now = START + timedelta(days=5)
    report, _ = world.run(simulate=False)
    assert report.enrolled.get("two", 0) == 0  # finished 2 days in; 10 days must pass
    world.clock.now = START + timedelta(days=13)
    report, _ = world.run(simulate=False)
    assert report.enrolled == {"two": 10}
    assert {e["cycle"] for e in world.enrolments()} == {1, 2}


def test_unknown_programme_and_bad_transitions_are_clear_errors(world):
    from winback.domain.errors import NotFoundError, UserError

    with pytest.raises(NotFoundError, match="no programme 'nope'"):
        jobs.set_state(world.ws, "nope", "pause")
    jobs.start(world.ws, world.programme(TWO_SENDS))
    with pytest.raises(UserError, match="is running; cannot resume"):
        jobs.set_state(world.ws, "two", "resume")


def test_tracked_links_are_recorded_before_the_messages_leave(world, store_url, tmp_path):
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS,
                            shop_url="https://shop.example/", product_url="https://shop.example/p/{sku}"),
                   clock=world.clock)
    jobs.start(ws, world.programme(TWO_SENDS))

    class Checking(MemoryTransport):
        """Looks in the store at hand-off time: the links of every message must be there already."""

        def deliver(self, messages):
            with world.engine.connect() as conn:
                rows = {(r.enrolment_id, r.step, r.link_key): r.url for r in conn.execute(sa.select(t.message_links))}
            for m in messages:
                assert m.links and all(rows[(m.enrolment_id, m.step, k)] == url for k, url in m.links)
            return super().deliver(messages)

    sink = Checking()
    jobs.run(ws, until_idle=True, simulate=True, transport=sink, seed=1)
    ws.close()
    assert len(sink.outbox) == 20
    with world.engine.connect() as conn:
        recorded = conn.execute(sa.select(t.message_links.c.url).distinct()).scalars().all()
    assert "https://shop.example/" in recorded


def test_the_preference_centre_is_obeyed_at_send_time(world):
    jobs.start(world.ws, world.programme(TWO_SENDS))
    blank = {"topics": None, "frequency": None, "paused_until": None, "channels": None, "language": None,
             "updated_at": START}
    world.insert(t.customer_preferences, [
        {**blank, "customer_id": "c1", "paused_until": START + timedelta(days=30)},
        {**blank, "customer_id": "c3", "channels": ["sms"]},
        {**blank, "customer_id": "c4", "language": "zh"},
        {**blank, "customer_id": "c5", "frequency": "weekly"}])
    _, sink = world.run()
    skipped = {(r["customer_id"], r["step"]): r["reason"] for r in world.ledger(state="skipped")}
    assert skipped == {("c1", "first"): "preference_paused", ("c1", "second"): "preference_paused",
                       ("c3", "first"): "preference_channel_off", ("c3", "second"): "preference_channel_off"}
    assert not [m for m in sink.outbox if m.customer_id in ("c1", "c3")]
    c4 = next(m for m in sink.outbox if m.customer_id == "c4" and m.step == "first")
    assert b"=?utf-8?" in c4.payload  # 你好: the language they chose, although their locale is English
    sent = {(r["customer_id"], r["step"]): r["updated_at"] for r in world.ledger(state="sent")}
    assert sent[("c5", "second")] - sent[("c5", "first")] >= timedelta(days=7)  # weekly, not after the 2-day wait
    assert sent[("c6", "second")] - sent[("c6", "first")] < timedelta(days=7)


def test_an_unsubscribe_ends_waiting_enrolments_at_the_next_schedule_pass(world):
    from winback.campaigns.scheduler import schedule

    jobs.start(world.ws, world.programme(TWO_SENDS))
    world.run(simulate=False)  # first sends out; everyone now waits two days
    world.insert(t.suppressions, [{"channel": "email", "address_key": "c1@example.com", "address": "c1@example.com",
                                   "basis": "unsubscribe", "row_hash": "x", "updated_at": START},
                                  {"channel": "email", "address_key": "c2@example.com", "address": "c2@example.com",
                                   "basis": "complaint", "row_hash": "x", "updated_at": START}])
    report = schedule(world.engine, now=START + timedelta(minutes=5))
    assert report.exited == {"two": 2}
    states = {e["customer_id"]: (e["state"], e["outcome"]) for e in world.enrolments()}
    assert states["c1"] == ("exited", "unsubscribed") and states["c2"] == ("exited", "complained")
    assert states["c3"] == ("active", None)


def test_the_worker_runs_periodic_checks_with_each_exit_sweep(world):
    import itertools
    import random

    from winback.campaigns.engine import StepEngine, WorkerConfig
    from winback.campaigns.worker import SimulatedClock, run_worker

    jobs.start(world.ws, world.programme(TWO_SENDS))
    clock = SimulatedClock(START)
    steps = StepEngine(world.engine, transport=MemoryTransport(), composer=jobs.make_composer(world.ws, world.engine),
                       clock=clock, config=WorkerConfig(worker_id="w1", batch_size=50), rng=random.Random(1))
    seen: list[datetime] = []
    run_worker(steps, until_idle=True, simulated=clock, sweep_every=timedelta(hours=12), on_sweep=seen.append)
    assert seen[0] == START and len(seen) >= 2  # at the start, and again after the clock jumped over the wait
    assert all(b - a >= timedelta(hours=12) for a, b in itertools.pairwise(seen))


AB_TEST = """
    programme: ab
    audience: "customer_id in [{ids}]"
    holdout: 0
    steps:
      - id: hello
        send:
          subject: Hello
          variants:
            - {{name: a, template: winback/reminder}}
            - {{name: b, template: winback/whats-new}}
          auto_winner: {{metric: click, min_per_arm: 10}}
"""


def test_an_ab_test_with_auto_winner_sends_the_winner_to_everyone_after_it_is_decided(world):
    from winback.jobs.experiments import decide_winners

    def programme(n: int) -> str:
        return world.programme(AB_TEST.format(ids=", ".join(f"'c{i}'" for i in range(n))), "ab.yaml")

    world.insert(t.customers, [{"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
                                "name": f"Customer {i}", "locale": "en", "time_zone": "UTC", "row_hash": "x",
                                "updated_at": START} for i in range(40, 80)])
    jobs.start(world.ws, programme(60))
    world.run(simulate=False)
    sends = world.ledger(kind="send")
    first = {r["enrolment_id"]: r["variant"] for r in sends}
    assert min(list(first.values()).count(v) for v in "ab") >= 20
    assert decide_winners(world.engine, now=START) == []  # no clicks yet: nothing to decide
    world.insert(t.engagements, [{"customer_id": r["customer_id"], "enrolment_id": r["enrolment_id"], "step": "hello",
                                  "message_id": None, "kind": "click", "at": START, "machine": False, "reason": None,
                                  "detail": None} for r in sends if r["variant"] == "b"])
    decided = decide_winners(world.engine, now=START)
    assert [(d.programme, d.step, d.variant) for d in decided] == [("ab", "hello", "b")]
    assert decided[0].p_value <= 0.05 and decide_winners(world.engine, now=START) == []  # decided once
    jobs.start(world.ws, programme(80))  # twenty more customers come in after the decision
    world.run(simulate=False)
    later = {r["customer_id"]: r["variant"] for r in world.ledger(kind="send") if r["enrolment_id"] not in first}
    assert len(later) == 20 and set(later.values()) == {"b"}
    with world.engine.connect() as conn:
        alert = conn.execute(sa.select(t.alerts.c.kind, t.alerts.c.message)).one()
    assert alert.kind == "experiment_winner" and "variant 'b' won" in alert.message
