"""Benchmark: the programme engine — enrolling 1M customers, and steps per second through the worker.

Goals: (a) `winback programs start` of an audience programme enrols 1,000,000 customers in ≤ 60 s; (b) the worker
executes ≥ 2,000 steps/s into the in-memory transport, on SQLite and on PostgreSQL.

(a) The customers are loaded in bulk in one child process (not timed against the goal); a second child runs
`winback.jobs.programmes.start` — audience query, eligibility, holdout assignment, the enrolment rows — and reports
its wall time and peak RSS (VmHWM of itself).
(b) One child per store: N customers, a programme of send → wait 1h → send (10 % holdout), `start`, then
`run_worker` with a `SimulatedClock` and a `MemoryTransport` in-process until nothing is due. Steps are the
engine's own count (each send, each wait begun, each control step). Baseline in the same child: a bare loop that
claims and records nothing and only composes and delivers the same messages through the same composer and
transport — the floor under the engine, so the difference is what claiming, deciding and recording cost.
(c) For scale: the maildir transport (tmp → fsync → rename per message, one directory fsync per batch) alone,
which is what the durability tests and `--simulate` runs into a maildir are bound by.

    python bench/engine.py [--customers 1000000] [--enrolments 100000] [--batch 500] [--stores sqlite,postgresql]

PostgreSQL runs in a schema of its own in WINBACK_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1/test),
dropped afterwards. Prints the figures and writes them to bench/results/engine.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POSTGRES_URL = os.environ.get("WINBACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PROGRAMME = """\
programme: bench
audience: "customer_id != ''"
holdout: 0.1
steps:
  - id: first
    send: {template: winback/reminder, subject: We miss you}
  - wait: 1h
  - id: second
    send: {template: winback/whats-new, subject: Still here}
"""


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB; psutil is optional, /proc is not."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- children ---------------------------------------------------------------------------------------------------


def load_customers(url: str, n: int) -> dict[str, Any]:
    """An initialised store with n customers, inserted in bulk (tuples through winback.store.bulk)."""
    from winback.store import tables as t
    from winback.store.bulk import insert_rows
    from winback.store.db import create_store_engine
    from winback.store.migrate import upgrade

    engine = create_store_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    columns = ("customer_id", "email", "email_key", "name", "locale", "row_hash", "updated_at")
    with engine.begin() as conn:
        for start in range(0, n, 100_000):
            insert_rows(conn, t.customers, columns, [
                (f"C{i:07d}", f"user{i}@example.com", f"user{i}@example.com", f"User {i}", "en", "x", NOW)
                for i in range(start, min(n, start + 100_000))])
    engine.dispose()
    return {"customers": n, "seconds": round(time.perf_counter() - t0, 2)}


def _workspace(url: str, home: Path) -> Any:
    from winback.jobs.workspace import Workspace
    from winback.settings import Settings

    return Workspace(Settings(home=home, database_url=url), clock=lambda: NOW)


def enrol(url: str, home: Path) -> dict[str, Any]:
    """`start` of the audience programme, timed; the store already holds the customers."""
    from winback.jobs import programmes as jobs

    path = home / "bench.yaml"
    path.write_text(PROGRAMME)
    ws = _workspace(url, home)
    ws.ready_engine()
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    result = jobs.start(ws, str(path))
    seconds = time.perf_counter() - t0
    ws.close()
    return {"seconds": round(seconds, 2), "enrolled": result["enrolled"], "holdout": result["holdout"],
            "peak_rss_mb": round(peak_rss_mb(), 1), "peak_rss_before_start_mb": round(rss_before, 1)}


def steps(url: str, home: Path, batch: int) -> dict[str, Any]:
    """The worker over the enrolled programme into memory, then the compose + deliver floor."""
    import random

    from winback.campaigns.engine import StepEngine, WorkerConfig
    from winback.campaigns.worker import SimulatedClock, run_worker
    from winback.jobs import programmes as jobs
    from winback.messaging.compose import Draft, PlainComposer, Recipient
    from winback.messaging.transports.memory import MemoryTransport

    path = home / "bench.yaml"
    path.write_text(PROGRAMME)
    ws = _workspace(url, home)
    started = jobs.start(ws, str(path))
    engine = ws.ready_engine()
    clock = SimulatedClock(NOW)
    composer = PlainComposer("shop <news@shop.example>")
    sink = MemoryTransport()
    worker = StepEngine(engine, transport=sink, composer=composer, clock=clock,
                        config=WorkerConfig(worker_id="bench", batch_size=batch), rng=random.Random(1))
    cpu0 = time.process_time()
    report = run_worker(worker, simulated=clock, until_idle=True)
    cpu = time.process_time() - cpu0
    s = report.steps
    sent = len(sink.outbox)
    assert sent == 2 * started["enrolled"] == s.outcomes["sent"], (sent, started, s.outcomes)
    assert s.possible_duplicates == 0 and s.stale == 0

    # The floor: the same drafts composed and delivered, one batch at a time, with no store at all.
    drafts = [Draft(enrolment_id=m.enrolment_id, programme_id=m.programme_id, step=m.step, channel=m.channel,
                    to=m.to, template=f"bench/{m.step}", subject="We miss you", variant=None,
                    recipient=Recipient(m.customer_id, "User", "en"), sent_at=NOW) for m in sink.outbox]
    sink.outbox.clear()
    floor_sink = MemoryTransport()
    t0 = time.perf_counter()
    for i in range(0, len(drafts), batch):
        floor_sink.deliver([composer.compose(d) for d in drafts[i:i + batch]])
    floor = time.perf_counter() - t0
    ws.close()
    return {
        "enrolments": started["enrolled"], "holdout": started["holdout"], "batch_size": batch,
        "seconds": round(report.seconds, 2), "worker_cpu_seconds": round(cpu, 2), "batches": report.batches,
        "steps": s.steps, "steps_per_second": round(s.steps / report.seconds),
        "sends": sent, "sends_per_second": round(sent / report.seconds),
        "baseline_compose_deliver_seconds": round(floor, 2),
        "baseline_messages_per_second": round(len(drafts) / floor),
        "engine_share_of_time": round(1 - floor / report.seconds, 3),
    }


def maildir(folder: Path, n: int = 20_000, batch: int = 100) -> dict[str, Any]:
    """The maildir transport alone: n composed messages delivered in batches."""
    from winback.messaging.compose import Draft, PlainComposer, Recipient
    from winback.messaging.transports.maildir import MaildirTransport

    composer = PlainComposer("shop <news@shop.example>")
    messages = [composer.compose(Draft(enrolment_id=i, programme_id="bench", step="first", channel="email",
                                       to=f"user{i}@example.com", template="bench/first", subject="We miss you",
                                       variant=None, recipient=Recipient(f"C{i:07d}", "User", "en"), sent_at=NOW))
                for i in range(n)]
    sink = MaildirTransport(folder / "maildir")
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        sink.deliver(messages[i:i + batch])
    seconds = time.perf_counter() - t0
    return {"messages": n, "batch_size": batch, "seconds": round(seconds, 2),
            "messages_per_second": round(n / seconds), "ms_per_message": round(1000 * seconds / n, 3)}


# -- the parent ---------------------------------------------------------------------------------------------------


def child(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench/engine.py {' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Store:
    """A fresh SQLite file or PostgreSQL schema per measurement."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder = kind, folder
        self.schema: str | None = None

    def __enter__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / f'{uuid.uuid4().hex[:8]}.db'}"
        import sqlalchemy as sa

        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()
        return sa.engine.make_url(POSTGRES_URL).update_query_dict(
            {"options": f"-csearch_path={self.schema}"}).render_as_string(hide_password=False)

    def __exit__(self, *_: object) -> None:
        if self.schema is None:
            return
        import sqlalchemy as sa

        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):  # a child
        command, url, *rest = sys.argv[1:]
        sys.path.insert(0, str(HERE.parent / "src"))
        if command == "_load":
            out = load_customers(url, int(rest[0]))
        elif command == "_enrol":
            out = enrol(url, Path(rest[0]))
        else:
            out = steps(url, Path(rest[0]), int(rest[1]))
        print(json.dumps(out))
        return

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers enrolled by `start` (a)")
    parser.add_argument("--enrolments", type=int, default=100_000, help="customers in the worker run (b)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--skip-enrol", action="store_true")
    parser.add_argument("--skip-maildir", action="store_true")
    args = parser.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]

    result: dict[str, Any] = {
        "benchmark": "engine",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "goal": {"enrol_1m_seconds": 60, "steps_per_second": 2000},
        "enrol": {}, "worker": {},
    }
    with tempfile.TemporaryDirectory(prefix="winback-bench-engine-") as tmp:
        folder = Path(tmp)
        if not args.skip_maildir:
            sys.path.insert(0, str(HERE.parent / "src"))
            result["maildir"] = maildir(folder)
            print(f"maildir transport: {json.dumps(result['maildir'])}", flush=True)
        for kind in stores:
            if not args.skip_enrol:
                with Store(kind, folder) as url:
                    load = child("_load", url, str(args.customers))
                    home = folder / f"enrol-{kind}"
                    home.mkdir()
                    figures = child("_enrol", url, str(home))
                result["enrol"][kind] = {"customers": args.customers, "load_customers_seconds": load["seconds"],
                                         **figures, "meets_goal": figures["seconds"] <= 60}
                print(f"enrol {kind}: {json.dumps(result['enrol'][kind])}", flush=True)
            with Store(kind, folder) as url:
                child("_load", url, str(args.enrolments))
                home = folder / f"steps-{kind}"
                home.mkdir()
                figures = child("_steps", url, str(home), str(args.batch))
            result["worker"][kind] = {**figures, "meets_goal": figures["steps_per_second"] >= 2000}
            print(f"worker {kind}: {json.dumps(result['worker'][kind])}", flush=True)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out_path = HERE / "results" / "engine.json"
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved to {out_path}")


if __name__ == "__main__":
    main()
