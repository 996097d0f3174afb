"""The worker loop: schedule, run batches, and — when nothing is due — sleep, stop, or jump a simulated clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from winback.campaigns.engine import BatchReport, StepEngine
from winback.campaigns.scheduler import ScheduleReport, schedule
from winback.store import tables as t

log = logging.getLogger("winback.worker")


class SimulatedClock:
    """A clock that stands still until told to jump forward; `--simulate` runs weeks of schedule in seconds."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def jump(self, to: datetime) -> None:
        if to > self._now:
            self._now = to


@dataclass
class WorkerReport:
    batches: int = 0
    steps: BatchReport = field(default_factory=BatchReport)
    enrolled: dict[str, int] = field(default_factory=dict)
    holdout: dict[str, int] = field(default_factory=dict)
    woken: int = 0
    exited: dict[str, int] = field(default_factory=dict)
    started: datetime | None = None
    finished: datetime | None = None  # on the worker's clock (simulated or not)
    seconds: float = 0.0
    outages: int = 0  # times the store could not be reached and the worker waited

    def add_schedule(self, s: ScheduleReport) -> None:
        for pid, result in s.enrolled.items():
            self.enrolled[pid] = self.enrolled.get(pid, 0) + result.enrolled
            self.holdout[pid] = self.holdout.get(pid, 0) + result.holdout
        for pid, n in s.exited.items():
            self.exited[pid] = self.exited.get(pid, 0) + n
        self.woken += s.woken


def next_due(engine: sa.Engine) -> datetime | None:
    """The earliest time any running programme's enrolment can be claimed (its due time or its lease's end)."""
    e, p = t.enrolments.c, t.programmes.c
    when = sa.case((sa.and_(e.lease_until.is_not(None), e.lease_until > e.due_at), e.lease_until), else_=e.due_at)
    stmt = (sa.select(sa.func.min(when)).join_from(t.enrolments, t.programmes, p.programme_id == e.programme_id)
            .where(p.state == "running", e.state == "active", e.due_at.is_not(None)))
    with engine.connect() as conn:
        value = conn.scalar(stmt)
    if isinstance(value, str):  # SQLite hands back min() of a CASE as text
        value = t.enrolments.c.due_at.type.process_result_value(value, engine.dialect)  # type: ignore[attr-defined]
    return value


def run_worker(
    steps: StepEngine,
    *,
    until_idle: bool = False,
    simulated: SimulatedClock | None = None,
    poll: float = 1.0,
    schedule_every: timedelta = timedelta(seconds=30),
    sweep_every: timedelta = timedelta(minutes=15),
    stop: threading.Event | None = None,
    max_batches: int | None = None,
    on_batch: Callable[[WorkerReport], None] | None = None,
    on_sweep: Callable[[datetime], None] | None = None,
) -> WorkerReport:
    """Work until stopped; with `until_idle`, until nothing is due (with a simulated clock: ever again).

    `on_sweep(now)` runs with each exit sweep (every `sweep_every`): the fronts hang periodic checks on it, such
    as the complaint-rate guard."""
    clock = steps.clock
    report = WorkerReport(started=clock())
    began = time.perf_counter()
    last_schedule: datetime | None = None
    last_sweep: datetime | None = None
    outage = 0
    while not (stop is not None and stop.is_set()):
        now = clock()
        try:
            if last_schedule is None or now - last_schedule >= schedule_every:
                sweep = last_sweep is None or now - last_sweep >= sweep_every
                result = schedule(steps.engine, now=now, sweep_exits=sweep)
                if result.ran:
                    report.add_schedule(result)
                    last_schedule = now
                    if sweep:
                        last_sweep = now
                        if on_sweep is not None:
                            on_sweep(now)
            batch = steps.run_batch()
            outage = 0
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            # The store is down, full or unwritable: nothing more is claimed or handed over until it answers
            # again. A hand-off whose outcome could not be recorded stays `sending` and is retried as a possible
            # duplicate once its lease runs out.
            if until_idle or simulated is not None:
                raise
            outage += 1
            delay = min(60.0, poll * 2 ** min(outage, 6))
            log.error("store unavailable (%s); no new work for %.0f s", str(exc.orig or exc).splitlines()[0], delay)
            steps.engine.dispose()
            report.outages += 1
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
            continue
        report.batches += 1
        report.steps.add(batch)
        if on_batch is not None:
            on_batch(report)
        if batch.paused:
            log.warning("paused by the error budget: %s", ", ".join(batch.paused))
        if max_batches is not None and report.batches >= max_batches:
            break
        if batch.claimed:
            continue
        if simulated is not None:
            due = next_due(steps.engine)
            if due is None:
                break
            simulated.jump(due)
            continue
        if until_idle:
            break
        if stop is not None:
            stop.wait(poll)
        else:
            time.sleep(poll)
    report.finished = clock()
    report.seconds = time.perf_counter() - began
    return report
