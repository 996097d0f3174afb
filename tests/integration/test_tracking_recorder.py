"""The tracking recorder against real stores: batches written by its thread, nothing lost on stop, relabelling
after the rows it concerns, and rows kept (not lost) while the store refuses them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from winback.store.db import create_store_engine
from winback.store.migrate import upgrade
from winback.store.tables import engagements, tracking_rejects
from winback.tracking.recorder import Recorder

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0


def add_open(recorder: Recorder, n: int, *, at: datetime = NOW) -> None:
    recorder.engagement(customer_id=f"C-{n}", enrolment_id=n, step="s", kind="open", at=at, machine=False,
                        reason=None, detail={"ip": "203.0.113.0/24", "ua": "Mozilla/5.0 (X11)"})


def test_rows_wait_in_memory_until_flushed(engine: sa.Engine) -> None:
    recorder = Recorder(engine)
    add_open(recorder, 1)
    recorder.reject(route="click", reason="bad_token", at=NOW, detail={"ip": None, "ua": None})
    assert recorder.pending == 2 and count(engine, engagements) == 0
    assert recorder.flush() == 2
    assert recorder.pending == 0
    with engine.connect() as conn:
        row = conn.execute(sa.select(engagements)).one()._mapping
        reject = conn.execute(sa.select(tracking_rejects)).one()._mapping
    assert (row["customer_id"], row["enrolment_id"], row["kind"], row["at"], row["machine"]) == ("C-1", 1, "open",
                                                                                                   NOW, False)
    assert row["detail"] == {"ip": "203.0.113.0/24", "ua": "Mozilla/5.0 (X11)"}
    assert (reject["route"], reject["reason"], reject["at"]) == ("click", "bad_token", NOW)


def test_the_thread_writes_batches_from_many_threads_and_stop_loses_nothing(engine: sa.Engine) -> None:
    recorder = Recorder(engine, batch_rows=50, interval=0.05)
    recorder.start()

    def burst(offset: int) -> None:
        for i in range(300):
            add_open(recorder, offset + i)

    threads = [threading.Thread(target=burst, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder.wait_idle(timeout=30)
    recorder.stop()
    assert count(engine, engagements) == 1200
    assert recorder.written == 1200
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count(sa.distinct(engagements.c.enrolment_id)))) == 1200


def test_stop_writes_what_is_still_waiting(engine: sa.Engine) -> None:
    recorder = Recorder(engine, batch_rows=10_000, interval=60)  # the thread would not write for a minute
    recorder.start()
    for i in range(40):
        add_open(recorder, i)
    recorder.stop()
    assert count(engine, engagements) == 40 and recorder.pending == 0


def test_relabel_comes_after_the_rows_it_concerns(engine: sa.Engine) -> None:
    recorder = Recorder(engine)
    for i, at in enumerate((NOW - timedelta(minutes=5), NOW, NOW + timedelta(seconds=1))):
        recorder.engagement(customer_id="C-1", enrolment_id=7, step="s", kind="click", at=at, machine=False,
                            reason=None, detail={"k": str(i)})
    recorder.engagement(customer_id="C-1", enrolment_id=7, step="s", kind="open", at=NOW, machine=False,
                        reason=None, detail=None)
    recorder.relabel_clicks(enrolment_id=7, step="s", since=NOW, reason="all_links_within_seconds")
    recorder.flush()
    with engine.connect() as conn:
        got = conn.execute(sa.select(engagements.c.kind, engagements.c.machine, engagements.c.reason)
                           .order_by(engagements.c.id)).all()
    assert [tuple(r) for r in got] == [("click", False, None), ("click", True, "all_links_within_seconds"),
                                       ("click", True, "all_links_within_seconds"), ("open", False, None)]


def test_rows_are_kept_while_the_store_refuses_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'late.db'}"
    engine = create_store_engine(url)  # no tables yet: every insert fails
    recorder = Recorder(engine, max_pending=5)
    for i in range(3):
        add_open(recorder, i)
    with pytest.raises(sa.exc.OperationalError):
        recorder.flush()
    assert recorder.pending == 3
    for i in range(3, 7):
        add_open(recorder, i)
    with pytest.raises(sa.exc.OperationalError):
        recorder.flush()
    assert recorder.pending == 5 and recorder.dropped == 2  # bounded: the two oldest went
    upgrade(engine)
    assert recorder.flush() == 5
    with engine.connect() as conn:
        assert sorted(conn.scalars(sa.select(engagements.c.enrolment_id))) == [2, 3, 4, 5, 6]
    engine.dispose()
