"""Programmes and playbooks: list and status, validate, dry run, start, pause, resume, stop; the shipped playbooks.

A programme comes in as YAML text or as the name of a shipped playbook — never as a path on the server."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from winback.api.routes.common import (
    CHECKS,
    Campaigns,
    Limit,
    Offset,
    Page,
    Reader,
    WorkspaceDep,
    page,
    plain,
    user_errors,
)
from winback.campaigns.files import ProgrammeError, ProgrammeFile, parse_programme
from winback.campaigns.playbooks import playbook_summaries, playbook_text
from winback.domain.errors import NotFoundError, SegmentError, UserError
from winback.jobs import programmes as jobs
from winback.jobs.plan import plan as plan_job
from winback.jobs.workspace import Workspace
from winback.store import tables as t

router = APIRouter(prefix="/api/v1", tags=["programmes"], dependencies=CHECKS)

ProgrammeId = Annotated[str, Path(min_length=1, max_length=200, description="The programme's id ('programme:').")]
MAX_YAML = 200_000
ORIGIN = "programme.yaml"  # how messages name YAML sent in a request: `programme.yaml:7: …`
STATES = ("draft", "running", "paused", "stopped")


class ProgrammeSource(BaseModel):
    """Exactly one of `yaml` (the programme file's text) or `playbook` (a shipped playbook's name)."""

    model_config = ConfigDict(extra="forbid")

    yaml: str | None = Field(default=None, max_length=MAX_YAML, description="The programme file, as YAML text.")
    playbook: str | None = Field(default=None, min_length=1, max_length=100,
                                 description="The name of a shipped playbook (GET /api/v1/playbooks).")

    @model_validator(mode="after")
    def _one(self) -> ProgrammeSource:
        if (self.yaml is None) == (self.playbook is None):
            raise ValueError("give exactly one of 'yaml' (the programme's text) or 'playbook' (a playbook's name)")
        return self


class StateChange(BaseModel):
    programme: str
    state: str
    previous: str
    ended: int | None = None


def load(body: ProgrammeSource) -> ProgrammeFile:
    """The programme of a request; a mistake is 422 with `origin:line: what … write …`."""
    try:
        if body.playbook is not None:
            return parse_programme(playbook_text(body.playbook), origin=f"playbook {body.playbook}")
        return parse_programme(body.yaml or "", origin=ORIGIN)
    except UserError as exc:  # an unknown playbook too: the body is wrong, not the URL
        raise HTTPException(422, detail=str(exc)) from None


@router.get("/programmes", response_model=Page, tags=["programmes"], summary="Programmes with their status")
def list_programmes(
    ws: WorkspaceDep, _: Reader,
    state: Annotated[str | None, Query(pattern="^(draft|running|paused|stopped)$")] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """Each programme as in `winback programs status --json`, by id."""
    p = t.programmes.c
    stmt = sa.select(p.programme_id).order_by(p.programme_id)
    if state is not None:
        stmt = stmt.where(p.state == state)
    with ws.ready_engine().connect() as conn:
        ids = list(conn.scalars(stmt.limit(limit + 1).offset(offset)))
    items = [_status(ws, pid) for pid in ids[:limit]]
    return page([*items, *ids[limit:]], limit=limit, offset=offset)


def _status(ws: Workspace, programme_id: str) -> dict[str, Any]:
    with user_errors():
        return dict(jobs.status(ws, programme_id)["programmes"][0])


@router.get("/programmes/{programme_id}", summary="One programme's status and definition")
def get_programme(ws: WorkspaceDep, _: Reader, programme_id: ProgrammeId) -> dict[str, Any]:
    """`winback programs status NAME --json` for one programme, with the current version's YAML (`source`)."""
    out = _status(ws, programme_id)
    v, p = t.programme_versions.c, t.programmes.c
    with ws.ready_engine().connect() as conn:
        row = conn.execute(sa.select(v.source, v.created_at).select_from(t.programme_versions.join(
            t.programmes, (p.programme_id == v.programme_id) & (p.version == v.version)))
            .where(p.programme_id == programme_id)).first()
    out["source"] = row.source if row else None
    out["version_created_at"] = row.created_at if row else None
    return plain(out)


@router.post("/programmes/validate", summary="Check a programme")
def validate(body: ProgrammeSource, ws: WorkspaceDep, _: Campaigns) -> dict[str, Any]:
    """As `winback programs validate --json`; a mistake is 422 whose `detail` names the line and the fix."""
    pf = load(body)
    with user_errors(missing=422):
        return plain(jobs.validate(ws, pf))


@router.post("/programmes/plan", summary="Dry run: who would enter, what is sent when, effect and cost")
def plan(body: ProgrammeSource, ws: WorkspaceDep, _: Campaigns) -> dict[str, Any]:
    """As `winback programs plan --json`; reads the store, writes nothing."""
    pf = load(body)
    with user_errors(missing=422):
        return plain(plan_job(ws, pf))


@router.post("/programmes", status_code=201, summary="Start a programme")
def start(body: ProgrammeSource, ws: WorkspaceDep, _: Campaigns) -> dict[str, Any]:
    """As `winback programs start --json`: stores a new version when the definition changed and runs it; an
    audience programme enrols now. 409 when the programme was stopped (stopped programmes stay stopped)."""
    pf = load(body)
    try:
        return plain(jobs.start(ws, pf))
    except (ProgrammeError, SegmentError, NotFoundError) as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except UserError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    except sa.exc.IntegrityError:  # the same programme started by two requests at once
        raise HTTPException(409, detail=f"programme {pf.programme.programme!r} was changed by another request "
                                        "at the same time; look at its status and try again") from None


def _change(ws: Workspace, programme_id: str, action: str) -> dict[str, Any]:
    with user_errors(conflict=True):
        return plain(jobs.set_state(ws, programme_id, action))


@router.post("/programmes/{programme_id}/pause", response_model=StateChange, summary="Pause a programme")
def pause(ws: WorkspaceDep, _: Campaigns, programme_id: ProgrammeId) -> dict[str, Any]:
    """Stop handing steps over; enrolments keep their place. 409 unless running."""
    return _change(ws, programme_id, "pause")


@router.post("/programmes/{programme_id}/resume", response_model=StateChange, summary="Resume a programme")
def resume(ws: WorkspaceDep, _: Campaigns, programme_id: ProgrammeId) -> dict[str, Any]:
    """Continue from the ledger: nothing already sent is sent again. 409 unless paused."""
    return _change(ws, programme_id, "resume")


@router.post("/programmes/{programme_id}/stop", response_model=StateChange, summary="Stop a programme for good")
def stop(ws: WorkspaceDep, _: Campaigns, programme_id: ProgrammeId) -> dict[str, Any]:
    """Every active enrolment ends; pending steps are recorded as skipped. 409 when already stopped."""
    return _change(ws, programme_id, "stop")


@router.get("/playbooks", response_model=Page, tags=["playbooks"], summary="The shipped playbooks")
def list_playbooks(_: Reader) -> dict[str, Any]:
    """As `winback playbooks list --json`: name, title, description, audience, trigger, steps."""
    return {"items": plain(playbook_summaries()), "next": None}


@router.get("/playbooks/{name}", tags=["playbooks"], summary="A playbook's YAML",
            response_class=Response, responses={200: {"content": {"application/yaml": {}}}})
def get_playbook(_: Reader, name: Annotated[str, Path(min_length=1, max_length=100)]) -> Response:
    """The playbook's YAML exactly as shipped, to adapt and send back as `yaml`."""
    with user_errors():
        text = playbook_text(name)
    return Response(text, media_type="application/yaml; charset=utf-8")
