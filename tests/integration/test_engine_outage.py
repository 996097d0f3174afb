"""The store goes away mid-run (its connections are killed, as in a database restart): the worker stops taking
work, waits, reconnects and finishes with nothing lost and no copy beyond the counted lost-reply window."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from winback.campaigns.engine import StepEngine, WorkerConfig
from winback.campaigns.worker import run_worker
from winback.jobs import programmes as jobs
from winback.jobs.workspace import Workspace
from winback.messaging.compose import PlainComposer
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t
from winback.store.db import create_store_engine
from winback.store.migrate import upgrade

N = 3_000


def test_killed_connections_pause_the_worker_and_it_resumes_without_loss(postgres_url, tmp_path):
    app = f"winback-outage-{uuid.uuid4().hex[:8]}"
    url = sa.engine.make_url(postgres_url).update_query_dict({"application_name": app}).render_as_string(
        hide_password=False)
    engine = create_store_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
             "row_hash": "x", "updated_at": now} for i in range(N)])
    programme = tmp_path / "p.yaml"
    programme.write_text("programme: outage\naudience: \"scored() or not scored()\"\nholdout: 0\nsteps:\n"
                         "  - {id: one, send: {template: winback/reminder}}\n"
                         "  - {id: two, send: {template: winback/whats-new}}\n")
    ws = Workspace(Settings(home=tmp_path, database_url=url))
    jobs.start(ws, str(programme))
    ws.close()

    sink = MemoryTransport()
    steps = StepEngine(engine, transport=sink, composer=PlainComposer("shop <news@shop.example>"),
                       clock=lambda: datetime.now(UTC),
                       config=WorkerConfig(worker_id="w1", batch_size=100, lease=timedelta(seconds=2)),
                       rng=random.Random(3))
    stop = threading.Event()
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault(
        "report", run_worker(steps, stop=stop, poll=0.05, schedule_every=timedelta(seconds=1))))
    worker.start()
    admin = create_store_engine(url)
    kills = 0
    deadline = time.monotonic() + 120
    while len(sink.outbox) < 2 * N and time.monotonic() < deadline:
        if kills < 3 and len(sink.outbox) > (kills + 1) * N // 2:
            with admin.connect() as conn:
                killed = conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :app AND pid <> pg_backend_pid()"), {"app": app}).scalar()
                conn.commit()
            kills += bool(killed)
        time.sleep(0.02)
    # Let leases of interrupted hand-offs run out and their messages be handed over again.
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            left = conn.scalar(sa.select(sa.func.count()).select_from(t.enrolments)
                               .where(t.enrolments.c.state == "active"))
        if not left:
            break
        time.sleep(0.2)
    stop.set()
    worker.join(timeout=60)
    report = result["report"]
    with admin.connect() as conn:
        ledger = conn.execute(sa.select(t.ledger.c.message_id, t.ledger.c.state,
                                        t.ledger.c.possible_duplicate)).all()
        states = Counter(conn.scalars(sa.select(t.enrolments.c.state)))
    admin.dispose()
    engine.dispose()


    assert kills >= 1 and report.outages >= 1
    assert states == {"completed": N}
    assert len(ledger) == 2 * N and {s for _, s, _ in ledger} == {"sent"}
    copies = Counter(m.message_id for m in sink.outbox)
    assert set(copies) == {mid for mid, _, _ in ledger}  # nothing lost
    flagged = {mid for mid, _, dup in ledger if dup}
    extra = {mid for mid, n in copies.items() if n > 1}
    print("kills", kills, "outages", report.outages, "extra copies", Counter(copies[m] for m in extra))
    assert extra <= flagged and all(copies[mid] - 1 <= kills for mid in extra)
    assert sum(n - 1 for n in copies.values()) <= kills * 100  # at most one batch per outage
