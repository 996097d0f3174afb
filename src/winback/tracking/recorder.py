"""Writes opens, clicks and refused requests in batches from a background thread, so a request never waits for the
store.

Rows wait in memory for at most `interval` seconds (or until `batch_rows` are waiting), then one transaction inserts
them all (`store.bulk.insert_rows`: one executemany on SQLite, COPY on PostgreSQL). `stop()` (the app's shutdown)
writes everything still waiting, so a graceful stop loses nothing; a process killed outright (SIGKILL, power loss)
loses what was waiting: normally about `interval` seconds of requests, more if the store was slow. A batch the store
refuses (store down, locked too long) stays in memory and is tried again; past `max_pending` rows the oldest are
dropped and counted in `dropped`, so an outage cannot exhaust memory.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winback.store.bulk import insert_rows
from winback.store.db import write_transaction
from winback.store.tables import engagements, tracking_rejects

__all__ = ["Recorder"]

log = logging.getLogger(__name__)

ENGAGEMENT_COLUMNS = ("customer_id", "enrolment_id", "step", "kind", "at", "machine", "reason", "detail")
REJECT_COLUMNS = ("at", "route", "reason", "detail")


@dataclass(frozen=True, slots=True)
class _Relabel:
    """Mark a message's clicks since `since` as machine-made (a scanner that followed every link)."""

    enrolment_id: int
    step: str
    since: datetime
    reason: str


class Recorder:
    """A buffer of engagement and reject rows, flushed to the store by a background thread."""

    def __init__(self, engine: sa.Engine, *, batch_rows: int = 1000, interval: float = 0.2,
                 max_pending: int = 1_000_000) -> None:
        self.engine = engine
        self.batch_rows = batch_rows
        self.interval = interval
        self.max_pending = max_pending
        self.dropped = 0
        self.written = 0
        self._engagements: list[tuple[Any, ...]] = []
        self._rejects: list[tuple[Any, ...]] = []
        self._relabels: list[_Relabel] = []
        self._lock = threading.Lock()  # guards the three lists
        self._flush_lock = threading.Lock()  # one flush at a time, so batches reach the store in order
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the request side: append and return -------------------------------------------------------------------

    def engagement(self, *, customer_id: str, enrolment_id: int | None, step: str | None, kind: str, at: datetime,
                   machine: bool, reason: str | None, detail: dict[str, Any] | None) -> None:
        """Queue one engagement row (open or click)."""
        self._add(self._engagements, (customer_id, enrolment_id, step, kind, at, machine, reason, detail))

    def reject(self, *, route: str, reason: str, at: datetime, detail: dict[str, Any] | None = None) -> None:
        """Queue one refused request (bad token, unknown link …)."""
        self._add(self._rejects, (at, route[:20], reason[:60], detail))

    def relabel_clicks(self, *, enrolment_id: int, step: str, since: datetime, reason: str) -> None:
        """Queue marking the clicks of (enrolment, step) at or after `since` as machine-made, after the rows before."""
        with self._lock:
            self._relabels.append(_Relabel(enrolment_id, step, since, reason))

    def _add(self, rows: list[tuple[Any, ...]], row: tuple[Any, ...]) -> None:
        with self._lock:
            rows.append(row)
            waiting = len(self._engagements) + len(self._rejects)
        if waiting >= self.batch_rows:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        with self._lock:
            return len(self._engagements) + len(self._rejects)

    # --- the store side ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background writer (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="winback-tracking-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the writer and write everything still waiting (raises if the store refuses the last batch)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.flush()
        except Exception:
            log.error("tracking: %d rows could not be written at shutdown and are lost", self.pending)
            raise

    def flush(self) -> int:
        """Write every waiting row now; returns how many were written."""
        with self._flush_lock:
            with self._lock:
                batch = (self._engagements, self._rejects, self._relabels)
                self._engagements, self._rejects, self._relabels = [], [], []
            try:
                self._write(*batch)
            except BaseException:
                self._put_back(*batch)
                raise
            count = len(batch[0]) + len(batch[1])
            self.written += count
            return count

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.flush()
                failures = 0
            except Exception:
                failures += 1
                log.exception("tracking rows could not be written (%d waiting); trying again", self.pending)
                # Back off up to 5 s so an unreachable store is not hammered; the rows are kept meanwhile.
                self._stopping.wait(min(5.0, 0.2 * 2 ** min(failures, 5)))

    def _write(self, rows: list[tuple[Any, ...]], rejects: list[tuple[Any, ...]], relabels: list[_Relabel]) -> None:
        if not (rows or rejects or relabels):
            return
        with write_transaction(self.engine) as conn:
            insert_rows(conn, engagements, ENGAGEMENT_COLUMNS, rows)
            insert_rows(conn, tracking_rejects, REJECT_COLUMNS, rejects)
            for r in relabels:
                conn.execute(engagements.update().where(
                    engagements.c.enrolment_id == r.enrolment_id, engagements.c.step == r.step,
                    engagements.c.kind == "click", engagements.c.at >= r.since,
                    engagements.c.machine == sa.false(),
                ).values(machine=True, reason=r.reason))

    def _put_back(self, rows: list[tuple[Any, ...]], rejects: list[tuple[Any, ...]],
                  relabels: list[_Relabel]) -> None:
        with self._lock:
            self._engagements[:0] = rows
            self._rejects[:0] = rejects
            self._relabels[:0] = relabels
            over = len(self._engagements) + len(self._rejects) - self.max_pending
            if over > 0:
                cut = min(over, len(self._engagements))
                del self._engagements[:cut]
                del self._rejects[:over - cut]
                self.dropped += over
                log.error("tracking buffer full: dropped the %d oldest rows (%d in all)", over, self.dropped)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is waiting (tests and the benchmark); True if the buffer emptied in time."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.pending
