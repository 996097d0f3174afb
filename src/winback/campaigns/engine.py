"""The engine: claim due enrolments, run the step machine, hand messages over, record every outcome.

One batch is three short transactions around the hand-off:

1. **claim** — due enrolments of running programmes whose lease is free get this worker's lease and a new fence
   (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never wait on or share a row; SQLite: one writer).
2. **intent** — under the fence: control steps are recorded and applied; each message to hand over gets its ledger
   row (`sending`, unique per (enrolment, step)) before anything leaves. A row already `sending` means an earlier
   hand-off's outcome was never recorded (a crash, a lost reply): it is handed over again with the same Message-ID
   and counted as a possible duplicate — the only window for a second copy, at most one batch per crash.
3. **outcome** — under the fence again: the ledger row gets the transport's answer and the enrolment moves on. A
   worker whose lease expired and was taken over finds a newer fence and records nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from winback.campaigns.definition import Programme
from winback.campaigns.facts import Claimed, customer_names, gather
from winback.campaigns.files import programme_from_definition
from winback.campaigns.machine import Decision, Facts, Position, advance, after_delivery
from winback.ingest.parse import phone_key
from winback.messaging.compose import Composer, Draft, Recipient
from winback.messaging.transports.base import Delivery, Outbound, Transport
from winback.store import tables as t
from winback.store.bulk import any_of
from winback.store.db import write_transaction

TERMINAL = ("sent", "failed", "skipped", "done")


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    batch_size: int = 500
    lease: timedelta = timedelta(minutes=2)
    global_caps: dict[str, tuple[int, timedelta]] = field(default_factory=dict)


@dataclass
class BatchReport:
    claimed: int = 0
    steps: int = 0
    handed_over: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # transport statuses
    skipped: Counter[str] = field(default_factory=Counter)  # reasons
    deferred: Counter[str] = field(default_factory=Counter)
    finished: Counter[str] = field(default_factory=Counter)  # enrolment outcomes
    possible_duplicates: int = 0
    stale: int = 0  # claims lost to a newer owner before they could be recorded
    released: int = 0  # claims given back because their programme stopped running
    paused: list[str] = field(default_factory=list)

    def add(self, other: BatchReport) -> None:
        for name in ("claimed", "steps", "handed_over", "possible_duplicates", "stale", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("outcomes", "skipped", "deferred", "finished"):
            getattr(self, name).update(getattr(other, name))
        self.paused += other.paused


class ProgrammeVersions:
    """Programme definitions by (programme, version), read once per worker."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._cache: dict[tuple[str, int], Programme] = {}

    def get(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], Programme]:
        missing = keys - self._cache.keys()
        if missing:
            v = t.programme_versions.c
            with self._engine.connect() as conn:
                for pid, version, definition in conn.execute(
                        sa.select(v.programme_id, v.version, v.definition)
                        .where(sa.tuple_(v.programme_id, v.version).in_(list(missing)))):
                    self._cache[(pid, version)] = programme_from_definition(definition)
        return {k: self._cache[k] for k in keys}


class StepEngine:
    """Runs batches of due steps for one worker."""

    def __init__(self, engine: sa.Engine, *, transport: Transport, composer: Composer,
                 clock: Callable[[], datetime], config: WorkerConfig, rng: random.Random | None = None) -> None:
        self.engine = engine
        self.transport = transport
        self.composer = composer
        self.clock = clock
        self.config = config
        self.rng = rng or random.Random()
        self.versions = ProgrammeVersions(engine)
        self._pg = engine.dialect.name == "postgresql"

    # -- 1. claim -------------------------------------------------------------------------------------------------

    def claim(self, now: datetime) -> list[Claimed]:
        e = t.enrolments.c
        running = sa.select(t.programmes.c.programme_id).where(t.programmes.c.state == "running")
        pick = (sa.select(e.enrolment_id)
                .where(e.due_at <= now, e.state == "active", e.programme_id.in_(running),
                       # A lease is over at lease_until: `next_due` jumps a simulated clock to exactly that time.
                       sa.or_(e.lease_until.is_(None), e.lease_until <= now))
                .order_by(e.due_at).limit(self.config.batch_size))
        if self._pg:
            pick = pick.with_for_update(skip_locked=True, of=t.enrolments)
        stmt = (sa.update(t.enrolments).where(e.enrolment_id.in_(pick.scalar_subquery()))
                .values(lease_owner=self.config.worker_id, lease_until=now + self.config.lease, fence=e.fence + 1)
                .returning(e.enrolment_id, e.programme_id, e.version, e.customer_id, e.step, e.attempts,
                           e.entered_at, e.step_started_at, e.fence))
        with write_transaction(self.engine) as conn:
            rows = conn.execute(stmt).all()
        return sorted((Claimed(*row) for row in rows), key=lambda c: c.enrolment_id)

    # -- a batch ------------------------------------------------------------------------------------------------

    def run_batch(self) -> BatchReport:
        """Claim up to a batch of due enrolments and take each as far as it can go now."""
        report = BatchReport()
        now = self.clock()
        claimed = self.claim(now)
        report.claimed = len(claimed)
        if not claimed:
            return report
        programmes = self.versions.get({(c.programme_id, c.version) for c in claimed})
        with self.engine.connect() as conn:
            facts = gather(conn, claimed, programmes, now=now, global_caps=self.config.global_caps)
        decisions = {}
        for c in claimed:
            program = programmes[(c.programme_id, c.version)]
            decision = advance(program, _position(c), facts[c.enrolment_id], now)
            decisions[c.enrolment_id] = decision
            if decision.send is not None and decision.send.marketing:  # later enrolments of this batch see it
                facts[c.enrolment_id].recent_sends.append((c.programme_id, decision.send.channel, now))
        sends = self._intent(claimed, decisions, facts, now, report)
        if sends:
            self._hand_over(sends, programmes, facts, now, report)
        return report

    # -- 2. intent ------------------------------------------------------------------------------------------------

    def _intent(self, claimed: Sequence[Claimed], decisions: dict[int, Decision], facts: dict[int, Facts],
                now: datetime, report: BatchReport) -> list[tuple[Claimed, Decision, str, int, bool]]:
        """Apply every decision that needs no hand-off; write the ledger intent of every one that does.
        Returns (claim, decision, ledger state before, attempts, possible duplicate) for the hand-offs."""
        sends = []
        with write_transaction(self.engine) as conn:
            owned = self._owned(conn, claimed)
            running = self._running(conn, {c.programme_id for c in claimed})
            release = [c for c in claimed if c.enrolment_id in owned and c.programme_id not in running]
            if release:
                self._release(conn, release)
                report.released += len(release)
            mine = [c for c in claimed if c.enrolment_id in owned and c.programme_id in running]
            report.stale += len(claimed) - len(owned)
            ledger = self._ledger_rows(conn, [c.enrolment_id for c in mine])
            applied: list[tuple[Claimed, Decision]] = []
            intents_new, intents_again = [], []
            for c in mine:
                d = decisions[c.enrolment_id]
                if d.send is None:
                    applied.append((c, d))
                    continue
                before = ledger.get((c.enrolment_id, d.send.step))
                if before is not None and before[0] in TERMINAL:
                    # Recorded already (a step whose outcome landed but whose enrolment did not move): move on.
                    program = self.versions.get({(c.programme_id, c.version)})[(c.programme_id, c.version)]
                    moved = after_delivery(program, replace(_position(c), step=d.send.step),
                                           status="sent" if before[0] == "sent" else "failed", now=now, rng=self.rng)
                    moved.records = d.records
                    moved.tasks, moved.moves = d.tasks, d.moves
                    applied.append((c, moved))
                    continue
                again = before is not None and before[0] in ("sending", "unknown")
                attempts = (before[1] if before else 0) + 1
                row = {"b_eid": c.enrolment_id, "b_step": d.send.step, "b_fence": c.fence, "b_now": now,
                       "b_attempts": attempts, "b_dup": again, "b_variant": d.send.variant,
                       "b_address": d.send.address, "b_channel": d.send.channel}
                if before is None:
                    intents_new.append({**row, "b_pid": c.programme_id, "b_version": c.version,
                                        "b_cid": c.customer_id})
                else:
                    intents_again.append(row)
                sends.append((c, d, before[0] if before else None, attempts, again))
                report.possible_duplicates += again
            if intents_new:
                conn.execute(_INSERT_INTENT, intents_new)
            if intents_again:
                conn.execute(_UPDATE_INTENT, intents_again)
            # Control steps passed on the way to a send are recorded now; the enrolment waits at the send step.
            # due_at stays set: if this worker dies, the claim expires and another takes the send over.
            pre = [(c, Decision(step=d.send.step, due_at=now, attempts=d.attempts,  # type: ignore[union-attr]
                                step_started_at=d.step_started_at, records=d.records, tasks=d.tasks, moves=d.moves))
                   for c, d, *_ in sends]
            self._apply(conn, applied, now, ledger, report, release_lease=True)
            self._apply(conn, pre, now, ledger, report, release_lease=False)
        return sends

    # -- 3. hand-off and outcome ------------------------------------------------------------------------------------

    def _hand_over(self, sends: list[tuple[Claimed, Decision, str | None, int, bool]],
                   programmes: dict[tuple[str, int], Programme], facts: dict[int, Facts], now: datetime,
                   report: BatchReport) -> None:
        with self.engine.connect() as conn:
            names = customer_names(conn, [c.customer_id for c, *_ in sends])
        outbound: list[Outbound] = []
        results: list[Delivery | None] = []
        drafts: list[Draft] = []
        for c, d, *_ in sends:
            action = d.send
            assert action is not None
            name, locale = names.get(c.customer_id, (None, None))
            drafts.append(Draft(enrolment_id=c.enrolment_id, programme_id=c.programme_id, step=action.step,
                                channel=action.channel, to=action.address, template=action.template,
                                subject=action.subject, variant=action.variant,
                                recipient=Recipient(c.customer_id, name, locale), sent_at=now,
                                incentive=action.incentive))
        batch = getattr(self.composer, "compose_batch", None)
        composed: list[Outbound | Exception] = []
        if batch is not None:  # one personalisation query for the batch; a failed draft comes back as its error
            composed = batch(drafts)
        else:
            for draft in drafts:
                try:
                    composed.append(self.composer.compose(draft))
                except ValueError as exc:
                    composed.append(exc)
        handed: list[Outbound | None] = []  # per send: the message handed over, or None when it could not be made
        for item in composed:
            if isinstance(item, ValueError):  # a header with a line break, a preflight problem …
                results.append(Delivery("failed", f"cannot compose: {item}"))
                handed.append(None)
            elif isinstance(item, Exception):
                raise item
            else:
                outbound.append(item)
                results.append(None)
                handed.append(item)
        self._record_links(outbound, now)
        delivered = iter(self.transport.deliver(outbound) if outbound else [])
        results = [r if r is not None else next(delivered) for r in results]
        mids = [o.message_id if o is not None else None for o in handed]
        report.handed_over += len(outbound)
        self._outcome(sends, results, mids, programmes, facts, now, report)

    def _outcome(self, sends: list[tuple[Claimed, Decision, str | None, int, bool]], results: list[Delivery],
                 mids: list[str | None], programmes: dict[tuple[str, int], Programme], facts: dict[int, Facts],
                 now: datetime, report: BatchReport) -> None:
        with write_transaction(self.engine) as conn:
            owned = self._owned(conn, [c for c, *_ in sends])
            ledger = self._ledger_rows(conn, [c.enrolment_id for c, *_ in sends])
            updates, applied, suppress = [], [], []
            failures: dict[str, list[bool]] = {}
            for (c, d, before, attempts, _dup), result, mid in zip(sends, results, mids, strict=True):
                if c.enrolment_id not in owned:
                    report.stale += 1
                    continue
                program = programmes[(c.programme_id, c.version)]
                status = result.status
                report.outcomes[status] += 1
                report.steps += 1
                failures.setdefault(c.programme_id, []).append(status not in ("sent", "hard_bounced"))
                # A lost reply is retried once, with the same Message-ID; a second one in a row is final.
                exhausted = attempts >= program.retries.max_attempts or (status == "unknown" and before == "unknown")
                state = {"sent": "sent", "failed": "failed", "hard_bounced": "failed"}.get(status)
                if state is None:
                    state = "failed" if exhausted else status  # soft_failed | unknown → retried
                reason = {"hard_bounced": "hard_bounce", "failed": "rejected"}.get(status)
                if state == "failed" and reason is None:
                    reason = "retries_exhausted" if status == "soft_failed" else "unknown_outcome"
                assert d.send is not None
                updates.append({"b_eid": c.enrolment_id, "b_step": d.send.step, "b_state": state, "b_reason": reason,
                                "b_detail": (result.detail or None) and result.detail[:2000], "b_now": now,
                                "b_mid": mid, "b_fence": c.fence})
                if status == "hard_bounced" and d.send.channel in ("email", "sms"):
                    suppress.append((d.send.channel, d.send.address, c.customer_id))
                position = replace(_position(c), step=d.send.step, attempts=attempts - 1)
                status_for_machine = "failed" if state == "failed" and status != "hard_bounced" else status
                moved = after_delivery(program, position, status=status_for_machine, now=now, rng=self.rng)
                if status == "sent" and not moved.finished:
                    # Go on to the next step now when it needs no hand-off (typically: start the wait, or end
                    # after the last step — which otherwise costs every enrolment one more claim).
                    nxt = advance(program, replace(position, step=moved.step, attempts=0, step_started_at=None),
                                  facts[c.enrolment_id], now)
                    moved = nxt if nxt.send is None else Decision(step=nxt.send.step, due_at=now,
                                                                  records=nxt.records, tasks=nxt.tasks,
                                                                  moves=nxt.moves)
                applied.append((c, moved))
            if updates:
                conn.execute(_UPDATE_OUTCOME, updates)
            if suppress:
                self._suppress(conn, suppress, now)
            self._apply(conn, applied, now, ledger, report, release_lease=True)
            report.paused += self._error_budget(conn, failures, programmes, sends, now)

    # -- helpers that write -----------------------------------------------------------------------------------------

    def _record_links(self, outbound: Sequence[Outbound], now: datetime) -> None:
        """The tracked links of the messages about to leave: a click can only redirect to a URL recorded here."""
        rows = [{"enrolment_id": o.enrolment_id, "step": o.step, "link_key": key, "url": url,
                 "customer_id": o.customer_id, "programme_id": o.programme_id, "created_at": now}
                for o in outbound for key, url in o.links]
        if rows:
            with write_transaction(self.engine) as conn:
                conn.execute(_ignore_duplicates(conn, t.message_links), rows)

    def _apply(self, conn: sa.Connection, items: list[tuple[Claimed, Decision]], now: datetime,
               ledger: dict[tuple[int, str], tuple[str, int]], report: BatchReport, *, release_lease: bool) -> None:
        """Write each decision's records, tasks and moves, and move its enrolment."""
        inserts, updates, tasks, lists, tags, moves = [], [], [], [], [], []
        for c, d in items:
            for r in d.records:
                row = {"b_eid": c.enrolment_id, "b_step": r.step, "b_kind": r.kind, "b_state": r.state,
                       "b_reason": r.reason, "b_detail": r.detail, "b_channel": r.channel, "b_now": now,
                       "b_fence": c.fence}
                if (c.enrolment_id, r.step) in ledger:
                    updates.append(row)
                else:
                    inserts.append({**row, "b_pid": c.programme_id, "b_version": c.version,
                                    "b_cid": c.customer_id})
                    ledger[(c.enrolment_id, r.step)] = (r.state, 0)
                report.steps += 1
                if r.state == "skipped":
                    report.skipped[r.reason or "skipped"] += 1
            program = self.versions.get({(c.programme_id, c.version)})[(c.programme_id, c.version)]
            for step_id, task in d.tasks:
                tasks.append({"enrolment_id": c.enrolment_id, "step": step_id, "programme_id": c.programme_id,
                              "customer_id": c.customer_id, "assignee": task.assignee, "title": task.title,
                              "state": "open", "due_at": now + task.due, "created_at": now,
                              "detail": {"note": task.note, "programme": program.name or c.programme_id}})
            for step_id, list_name, tag in d.moves:
                source = f"{c.programme_id}/{step_id}"
                if list_name:
                    lists.append({"list_name": list_name, "customer_id": c.customer_id, "added_at": now,
                                  "source": source})
                if tag:
                    tags.append({"customer_id": c.customer_id, "tag": tag, "added_at": now, "source": source})
            if d.deferred:
                report.deferred[d.deferred] += 1
            elif d.began_wait:
                report.steps += 1
            if d.finished:
                report.finished[d.outcome or d.state] += 1
            moves.append({"b_eid": c.enrolment_id, "b_fence": c.fence, "b_step": d.step, "b_due": d.due_at,
                          "b_state": d.state, "b_outcome": d.outcome, "b_attempts": d.attempts,
                          "b_started": d.step_started_at, "b_wake": d.wake_on,
                          "b_finished": now if d.finished else None})
        if inserts:
            conn.execute(_INSERT_RECORD, inserts)
        if updates:
            conn.execute(_UPDATE_RECORD, updates)
        if tasks:
            conn.execute(_ignore_duplicates(conn, t.tasks), tasks)
        if lists:
            conn.execute(_ignore_duplicates(conn, t.list_members), lists)
        if tags:
            conn.execute(_ignore_duplicates(conn, t.customer_tags), tags)
        if moves:
            conn.execute(_MOVE if release_lease else _MOVE_KEEP_LEASE, moves)

    def _owned(self, conn: sa.Connection, claimed: Sequence[Claimed]) -> set[int]:
        """The claims still ours: same fence and owner (locked until commit on PostgreSQL)."""
        e = t.enrolments.c
        fences = {c.enrolment_id: c.fence for c in claimed}
        stmt = sa.select(e.enrolment_id, e.fence, e.lease_owner).where(any_of(conn, e.enrolment_id, list(fences)))
        if self._pg:
            stmt = stmt.with_for_update()
        return {eid for eid, fence, owner in conn.execute(stmt)
                if fence == fences[eid] and owner == self.config.worker_id}

    @staticmethod
    def _running(conn: sa.Connection, programme_ids: set[str]) -> set[str]:
        p = t.programmes.c
        return set(conn.scalars(sa.select(p.programme_id).where(p.programme_id.in_(programme_ids),
                                                                p.state == "running")))

    @staticmethod
    def _release(conn: sa.Connection, claimed: Sequence[Claimed]) -> None:
        e = t.enrolments.c
        conn.execute(sa.update(t.enrolments).where(e.enrolment_id == sa.bindparam("b_eid"),
                                                   e.fence == sa.bindparam("b_fence"))
                     .values(lease_owner=None, lease_until=None),
                     [{"b_eid": c.enrolment_id, "b_fence": c.fence} for c in claimed])

    @staticmethod
    def _ledger_rows(conn: sa.Connection, enrolment_ids: list[int]) -> dict[tuple[int, str], tuple[str, int]]:
        g = t.ledger.c
        out = {}
        for i in range(0, len(enrolment_ids), 2_000):
            for eid, step, state, attempts in conn.execute(
                    sa.select(g.enrolment_id, g.step, g.state, g.attempts)
                    .where(any_of(conn, g.enrolment_id, enrolment_ids[i:i + 2_000]))):
                out[(eid, step)] = (state, attempts)
        return out

    def _suppress(self, conn: sa.Connection, rows: list[tuple[str, str, str]], now: datetime) -> None:
        """A hard bounce suppresses the address at once (keyed like imported suppressions)."""
        from winback.ingest.validate import content_hash

        c = t.customers.c
        keys = dict(conn.execute(sa.select(c.customer_id, c.email_key)
                                 .where(c.customer_id.in_([cid for _, _, cid in rows]))).all())
        values = []
        for channel, address, cid in rows:
            key = keys.get(cid) if channel == "email" else phone_key(address)
            if not key:
                continue
            record = {"channel": channel, "address_key": key, "address": address, "basis": "hard_bounce",
                      "source": "delivery", "at": now}
            values.append({**record, "row_hash": content_hash(record, tuple(record)), "import_id": None,
                           "updated_at": now})
        if values:
            conn.execute(_ignore_duplicates(conn, t.suppressions), values)

    def _error_budget(self, conn: sa.Connection, failures: dict[str, list[bool]],
                      programmes: dict[tuple[str, int], Programme], sends: Sequence[tuple[Claimed, Any, Any, Any, Any]],
                      now: datetime) -> list[str]:
        """Count consecutive failed hand-offs per programme; pause a programme whose budget is spent."""
        paused = []
        p = t.programmes.c
        budgets = {c.programme_id: programmes[(c.programme_id, c.version)].error_budget for c, *_ in sends}
        for pid, outcomes in failures.items():
            tail = 0
            for failed in reversed(outcomes):
                if not failed:
                    break
                tail += 1
            if tail == len(outcomes):
                conn.execute(sa.update(t.programmes).where(p.programme_id == pid)
                             .values(consecutive_failures=p.consecutive_failures + tail))
            else:
                conn.execute(sa.update(t.programmes).where(p.programme_id == pid).values(consecutive_failures=tail))
            count = conn.scalar(sa.select(p.consecutive_failures).where(p.programme_id == pid)) or 0
            if count >= budgets[pid]:
                done = conn.execute(sa.update(t.programmes).where(p.programme_id == pid, p.state == "running").values(
                    state="paused", updated_at=now,
                    state_reason=f"error budget spent: {count} hand-offs in a row failed "
                                 f"(budget {budgets[pid]}); fix the cause, then resume"))
                if done.rowcount:
                    paused.append(pid)
        return paused


def _position(c: Claimed) -> Position:
    return Position(enrolment_id=c.enrolment_id, programme_id=c.programme_id, customer_id=c.customer_id,
                    step=c.step, attempts=c.attempts, entered_at=c.entered_at, step_started_at=c.step_started_at)


def _ignore_duplicates(conn: sa.Connection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


_e = t.enrolments.c
_g = t.ledger.c
_b = sa.bindparam

_INSERT_INTENT = sa.insert(t.ledger).values(
    enrolment_id=_b("b_eid"), step=_b("b_step"), programme_id=_b("b_pid"), version=_b("b_version"),
    customer_id=_b("b_cid"), kind="send", channel=_b("b_channel"), variant=_b("b_variant"), address=_b("b_address"),
    state="sending", attempts=_b("b_attempts"), fence=_b("b_fence"), possible_duplicate=_b("b_dup"),
    created_at=_b("b_now"), updated_at=_b("b_now"))
_UPDATE_INTENT = sa.update(t.ledger).where(_g.enrolment_id == _b("b_eid"), _g.step == _b("b_step")).values(
    state="sending", attempts=_b("b_attempts"), fence=_b("b_fence"),
    possible_duplicate=sa.or_(_g.possible_duplicate, _b("b_dup", type_=sa.Boolean)),
    variant=_b("b_variant"), address=_b("b_address"), channel=_b("b_channel"), updated_at=_b("b_now"))
_UPDATE_OUTCOME = sa.update(t.ledger).where(
    _g.enrolment_id == _b("b_eid"), _g.step == _b("b_step"), _g.fence == _b("b_fence")).values(
    state=_b("b_state"), reason=_b("b_reason"), detail=_b("b_detail"), message_id=_b("b_mid"),
    updated_at=_b("b_now"))
_INSERT_RECORD = sa.insert(t.ledger).values(
    enrolment_id=_b("b_eid"), step=_b("b_step"), programme_id=_b("b_pid"), version=_b("b_version"),
    customer_id=_b("b_cid"), kind=_b("b_kind"), channel=_b("b_channel"), state=_b("b_state"),
    reason=_b("b_reason"), detail=_b("b_detail"), attempts=0, fence=_b("b_fence"), possible_duplicate=False,
    created_at=_b("b_now"), updated_at=_b("b_now"))
_UPDATE_RECORD = sa.update(t.ledger).where(_g.enrolment_id == _b("b_eid"), _g.step == _b("b_step")).values(
    kind=_b("b_kind"), channel=_b("b_channel"), state=_b("b_state"), reason=_b("b_reason"), detail=_b("b_detail"),
    fence=_b("b_fence"), updated_at=_b("b_now"))
_MOVE_VALUES = dict(step=_b("b_step"), due_at=_b("b_due"), state=_b("b_state"), outcome=_b("b_outcome"),
                    attempts=_b("b_attempts"), step_started_at=_b("b_started"), wake_on=_b("b_wake"),
                    finished_at=_b("b_finished"))
_MOVE = sa.update(t.enrolments).where(_e.enrolment_id == _b("b_eid"), _e.fence == _b("b_fence")).values(
    **_MOVE_VALUES, lease_owner=None, lease_until=None)
_MOVE_KEEP_LEASE = sa.update(t.enrolments).where(_e.enrolment_id == _b("b_eid"), _e.fence == _b("b_fence")).values(
    **_MOVE_VALUES)
