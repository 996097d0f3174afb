"""Programme jobs for the fronts: validate, start (a new version when the file changed), pause, resume, stop,
status, and the worker."""

from __future__ import annotations

import os
import random
import socket
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winback.campaigns.definition import Programme
from winback.campaigns.engine import StepEngine, WorkerConfig
from winback.campaigns.enrol import enrol
from winback.campaigns.files import (
    ProgrammeError,
    ProgrammeFile,
    parse_programme,
    programme_from_definition,
    read_programme,
)
from winback.campaigns.worker import SimulatedClock, WorkerReport, run_worker
from winback.domain.errors import NotFoundError, UserError
from winback.jobs.workspace import Workspace
from winback.messaging.compose import Composer
from winback.messaging.transports import Transport
from winback.store import tables as t
from winback.store.db import write_transaction


def load_programme(source: str | ProgrammeFile, *, templates_dir: Path | None = None,
                   check_templates: bool = True) -> ProgrammeFile:
    """A programme from a file path, or a shipped playbook by name, or already parsed; its email templates must
    exist and use only known variables (so a mistake shows now, not at send time)."""
    if isinstance(source, ProgrammeFile):  # parsed by the caller: the REST API takes YAML text, never a path
        pf = source
    elif (path := Path(source)).exists() or source.endswith((".yaml", ".yml")) or os.sep in source:
        pf = read_programme(path)
    else:
        from winback.campaigns.playbooks import playbook_text

        pf = parse_programme(playbook_text(source), origin=f"playbook {source}")
    if check_templates:
        problems = template_problems(pf.programme, templates_dir=templates_dir)
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise ProgrammeError(f"{pf.origin}: " + "; ".join(problems[:3]) + more)
    return pf


def template_problems(programme: Programme, *, templates_dir: Path | None = None) -> list[str]:
    """Every problem of the email templates (and subjects) the programme's send steps use."""
    from winback.messaging.templates import TemplateLibrary

    library = TemplateLibrary(templates_dir)
    problems: list[str] = []
    for step_id, step in zip(programme.step_ids, programme.steps, strict=True):
        send = step.send
        if send is None or send.channel != "email":
            continue
        for variant in send.variants or [None]:
            template = (variant.template if variant is not None and variant.template else send.template) or ""
            subject = variant.subject if variant is not None and variant.subject is not None else send.subject
            subjects = list(subject.values()) if isinstance(subject, dict) else [subject]
            for text in subjects:
                for problem in library.check(template, subject=text):
                    line = f"step {step_id!r}: {problem}"
                    if line not in problems:
                        problems.append(line)
    return problems


def make_composer(ws: Workspace, engine: sa.Engine) -> Composer:
    """The production composer: templates, personalisation, links, MIME, DKIM (when a key exists), preflight."""
    from winback.messaging.composer import TemplateComposer
    from winback.messaging.context import build_contexts, fit_recommender
    from winback.messaging.templates import TemplateLibrary

    fitted: dict[str, Any] = {}

    def contexts(customer_ids: list[str], now: Any) -> dict[str, dict[str, Any]]:
        with engine.connect() as conn:
            if "model" not in fitted:  # co-purchases, fitted once per worker process
                fitted["model"] = fit_recommender(conn)
            return build_contexts(conn, customer_ids, now=now, currency_default=ws.settings.currency,
                                  recommender=fitted["model"])

    def coupons(drafts: Any) -> dict[tuple[int, str], dict[str, Any]]:
        from winback.messaging.coupons import issue_for_drafts

        with write_transaction(engine) as conn:  # expiry = sent_at + incentive.expires; a retry gets the same code
            return issue_for_drafts(conn, drafts)

    return TemplateComposer.from_settings(ws.settings, library=TemplateLibrary(ws.settings.templates_dir),
                                          contexts=contexts, coupons=coupons)


def validate(ws: Workspace, source: str | ProgrammeFile) -> dict[str, Any]:
    pf = load_programme(source, templates_dir=ws.settings.templates_dir)
    p = pf.programme
    return {"programme": p.programme, "valid": True, "origin": pf.origin, "steps": p.step_ids,
            "audience": p.audience, "trigger": p.trigger.event if p.trigger else None, "holdout": p.holdout,
            "digest": pf.digest}


def start(ws: Workspace, source: str | ProgrammeFile) -> dict[str, Any]:
    """Store the programme (a new version when its definition changed) and set it running; an audience
    programme enrols its audience now."""
    pf = load_programme(source, templates_dir=ws.settings.templates_dir)
    p = pf.programme
    now = ws.clock()
    engine = ws.ready_engine()
    with write_transaction(engine) as conn:
        version, created = _store_version(conn, pf, now)
        row = conn.execute(sa.select(t.programmes.c.state).where(t.programmes.c.programme_id == p.programme)).one()
        if row.state == "stopped":
            raise UserError(f"programme {p.programme!r} was stopped; stopped programmes stay stopped "
                            "(give the file a new 'programme:' name to run it again)")
        conn.execute(sa.update(t.programmes).where(t.programmes.c.programme_id == p.programme).values(
            state="running", state_reason=None, updated_at=now, version=version,
            started_at=sa.func.coalesce(t.programmes.c.started_at, now)))
        result = None
        if p.audience is not None and p.trigger is None:
            from winback.segments import matching_ids, parse_segment

            ids = matching_ids(conn, parse_segment(p.audience), now=now)
            result = enrol(conn, programme=p, version=version, customer_ids=ids, now=now)
            conn.execute(sa.update(t.programmes).where(t.programmes.c.programme_id == p.programme)
                         .values(audience_checked_at=now))
    out = {"programme": p.programme, "version": version, "new_version": created, "state": "running"}
    if result is not None:
        out.update(result.as_dict())
    return out


def _store_version(conn: sa.Connection, pf: ProgrammeFile, now: Any) -> tuple[int, bool]:
    p, v = t.programmes.c, t.programme_versions.c
    pid = pf.programme.programme
    current = conn.execute(sa.select(p.version).where(p.programme_id == pid)).scalar_one_or_none()
    if current is None:
        conn.execute(t.programmes.insert().values(programme_id=pid, version=1, state="draft", created_at=now,
                                                  updated_at=now, consecutive_failures=0))
    else:
        digest = conn.scalar(sa.select(v.digest).where(v.programme_id == pid, v.version == current))
        if digest == pf.digest:
            return current, False
    version = (current or 0) + 1
    conn.execute(t.programme_versions.insert().values(programme_id=pid, version=version, source=pf.source,
                                                      definition=pf.definition, digest=pf.digest, created_at=now))
    return version, True


def set_state(ws: Workspace, programme_id: str, action: str) -> dict[str, Any]:
    """pause | resume | stop."""
    engine = ws.ready_engine()
    now = ws.clock()
    p = t.programmes.c
    with write_transaction(engine) as conn:
        state = conn.scalar(sa.select(p.state).where(p.programme_id == programme_id))
        if state is None:
            raise NotFoundError(f"no programme {programme_id!r}; `winback programs status` lists them")
        allowed = {"pause": ("running",), "resume": ("paused",), "stop": ("running", "paused", "draft")}[action]
        if state not in allowed:
            raise UserError(f"programme {programme_id!r} is {state}; cannot {action} it")
        new = {"pause": "paused", "resume": "running", "stop": "stopped"}[action]
        values: dict[str, Any] = {"state": new, "updated_at": now,
                                  "state_reason": f"{action} by operator" if action != "resume" else None}
        if action == "resume":
            values["consecutive_failures"] = 0
        conn.execute(sa.update(t.programmes).where(p.programme_id == programme_id).values(**values))
        ended = 0
        if action == "stop":
            ended = _stop_enrolments(conn, programme_id, now)
    return {"programme": programme_id, "state": new, "previous": state, **({"ended": ended} if ended else {})}


def _stop_enrolments(conn: sa.Connection, programme_id: str, now: Any) -> int:
    """Every active enrolment ends; its pending step is recorded as skipped (programme_stopped)."""
    e, g = t.enrolments.c, t.ledger.c
    pending = sa.select(e.enrolment_id, e.step, e.programme_id, e.version, e.customer_id,
                        sa.literal("stop").label("kind"), sa.literal("skipped").label("state"),
                        sa.literal("programme_stopped").label("reason"), sa.literal(0).label("attempts"),
                        e.fence, sa.literal(False).label("possible_duplicate"),
                        sa.literal(now, t.ledger.c.created_at.type).label("created_at"),
                        sa.literal(now, t.ledger.c.updated_at.type).label("updated_at")).where(
        e.programme_id == programme_id, e.state == "active", e.step.is_not(None),
        ~sa.exists().where(g.enrolment_id == e.enrolment_id, g.step == e.step))
    conn.execute(t.ledger.insert().from_select(
        ["enrolment_id", "step", "programme_id", "version", "customer_id", "kind", "state", "reason", "attempts",
         "fence", "possible_duplicate", "created_at", "updated_at"], pending))
    conn.execute(sa.update(t.ledger).where(g.programme_id == programme_id, g.state.in_(("soft_failed",))).values(
        state="skipped", reason="programme_stopped", updated_at=now))
    return conn.execute(sa.update(t.enrolments).where(e.programme_id == programme_id, e.state == "active").values(
        state="stopped", outcome="programme_stopped", step=None, due_at=None, wake_on=None, finished_at=now,
        fence=e.fence + 1, lease_owner=None, lease_until=None)).rowcount


def status(ws: Workspace, programme_id: str | None = None) -> dict[str, Any]:
    engine = ws.ready_engine()
    p, e, g = t.programmes.c, t.enrolments.c, t.ledger.c
    with engine.connect() as conn:
        stmt = sa.select(t.programmes).order_by(p.programme_id)
        if programme_id is not None:
            stmt = stmt.where(p.programme_id == programme_id)
        rows = conn.execute(stmt).mappings().all()
        if programme_id is not None and not rows:
            raise NotFoundError(f"no programme {programme_id!r}; `winback programs status` lists them")
        out = []
        for row in rows:
            pid = row["programme_id"]
            enrolments: dict[str, int] = {}
            outcomes: dict[str, int] = {}
            for state, outcome, n in conn.execute(sa.select(e.state, e.outcome, sa.func.count())
                                                  .where(e.programme_id == pid).group_by(e.state, e.outcome)):
                enrolments[state] = enrolments.get(state, 0) + n
                if outcome:
                    outcomes[outcome] = outcomes.get(outcome, 0) + n
            pending = conn.scalar(sa.select(sa.func.count()).where(e.programme_id == pid, e.state == "active",
                                                                   e.due_at.is_not(None))) or 0
            steps: dict[str, dict[str, Any]] = {}
            for step, kind, state, reason, variant, n, dups in conn.execute(
                    sa.select(g.step, g.kind, g.state, g.reason, g.variant, sa.func.count(),
                              sa.func.sum(sa.case((g.possible_duplicate, 1), else_=0)))
                    .where(g.programme_id == pid).group_by(g.step, g.kind, g.state, g.reason, g.variant)):
                entry = steps.setdefault(step, {"kind": kind, "states": {}, "skipped": {}, "variants": {},
                                                "possible_duplicates": 0})
                entry["states"][state] = entry["states"].get(state, 0) + n
                if state == "skipped":
                    entry["skipped"][reason or "unknown"] = entry["skipped"].get(reason or "unknown", 0) + n
                if variant:
                    per = entry["variants"].setdefault(variant, {})
                    per[state] = per.get(state, 0) + n
                entry["possible_duplicates"] += int(dups or 0)
            waiting = dict(conn.execute(sa.select(e.step, sa.func.count()).where(
                e.programme_id == pid, e.state == "active").group_by(e.step)).all())
            for step, n in waiting.items():
                if step is not None:
                    steps.setdefault(step, {"kind": None, "states": {}, "skipped": {}, "variants": {},
                                            "possible_duplicates": 0})["pending"] = n
            out.append({"programme": pid, "state": row["state"], "state_reason": row["state_reason"],
                        "version": row["version"], "started_at": _iso(row["started_at"]),
                        "consecutive_failures": row["consecutive_failures"],
                        "enrolments": enrolments, "holdout": enrolments.get("holdout", 0),
                        "pending_steps": pending, "outcomes": outcomes, "steps": steps})
    return {"programmes": out}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def make_transport(ws: Workspace) -> Transport:
    """Email through WINBACK_TRANSPORT, SMS through WINBACK_SMS_TRANSPORT, webhooks to WINBACK_WEBHOOK_URL."""
    from winback.messaging.transports.router import open_transports

    return open_transports(ws.settings)


def run(ws: Workspace, *, until_idle: bool, simulate: bool, batch_size: int = 500, transport: Transport | None = None,
        seed: int | None = None, max_batches: int | None = None, poll: float = 1.0,
        stop: threading.Event | None = None, composer: Composer | None = None) -> WorkerReport:
    """Run a worker in this process against the workspace's store."""
    engine = ws.ready_engine()
    simulated = None
    clock = ws.clock
    if simulate:
        simulated = SimulatedClock(ws.clock())
        clock = simulated
    transport = transport or make_transport(ws)
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    composer = composer or make_composer(ws, engine)
    steps = StepEngine(engine, transport=transport, composer=composer, clock=clock,
                       config=WorkerConfig(worker_id=worker_id, batch_size=batch_size, global_caps=ws.settings.caps),
                       rng=random.Random(seed))
    from winback.jobs.experiments import decide_winners
    from winback.jobs.guard import check_complaint_rates, sending_domain

    domain = sending_domain(ws)

    def guard(now: datetime) -> None:
        check_complaint_rates(engine, now=now, sending_domain=domain)  # alert at 0.08 % complaints, pause at 0.2 %
        decide_winners(engine, now=now)  # A/B tests of steps with auto_winner

    try:
        return run_worker(steps, until_idle=until_idle or simulate, simulated=simulated, max_batches=max_batches,
                          poll=poll, stop=stop, on_sweep=guard)
    finally:
        transport.close()


def programme_definition(ws: Workspace, programme_id: str, version: int | None = None) -> Any:
    engine = ws.ready_engine()
    p, v = t.programmes.c, t.programme_versions.c
    with engine.connect() as conn:
        version = version or conn.scalar(sa.select(p.version).where(p.programme_id == programme_id))
        if version is None:
            raise NotFoundError(f"no programme {programme_id!r}")
        definition = conn.scalar(sa.select(v.definition).where(v.programme_id == programme_id, v.version == version))
    return programme_from_definition(definition)
