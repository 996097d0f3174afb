"""Reports: what a programme earned, as JSON (as `winback report --json`) or as the self-contained HTML page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import HTMLResponse

from winback.api.routes.common import CHECKS, Reader, WorkspaceDep, plain, user_errors
from winback.jobs import report as jobs
from winback.jobs.workspace import Workspace

router = APIRouter(prefix="/api/v1/programmes", tags=["reports"], dependencies=CHECKS)

ProgrammeId = Annotated[str, Path(min_length=1, max_length=200, description="The programme's id.")]
AsOf = Annotated[datetime | None, Query(description="Measure as of this time (ISO 8601; default now; UTC when "
                                                    "no offset is given).")]
Machine = Annotated[bool, Query(description="Count machine opens and clicks (privacy proxies, scanners).")]
FIRST_YEAR, LAST_YEAR = 1900, 2999
# The page carries its own inline CSS and data: images; it runs no script.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'self'")


def _report(ws: Workspace, programme_id: str, as_of: datetime | None, include_machine: bool) -> dict[str, Any]:
    if as_of is not None:
        if not FIRST_YEAR <= as_of.year <= LAST_YEAR:  # the report's windows reach days around it
            raise HTTPException(422, detail=f"as_of must lie between the years {FIRST_YEAR} and {LAST_YEAR}")
        as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
    with user_errors():
        return jobs.report(ws, programme_id, as_of=as_of, include_machine=include_machine)


@router.get("/{programme_id}/report", summary="A programme's report")
def report(ws: WorkspaceDep, _: Reader, programme_id: ProgrammeId, as_of: AsOf = None,
           include_machine: Machine = False) -> dict[str, Any]:
    """As `winback report NAME --json`: funnel per step and variant, lift against the holdout with intervals, ROI,
    experiments, attribution and failure analysis."""
    return plain(_report(ws, programme_id, as_of, include_machine))


@router.get("/{programme_id}/report.html", response_class=HTMLResponse, summary="A programme's report as a page")
def report_html(ws: WorkspaceDep, _: Reader, programme_id: ProgrammeId, as_of: AsOf = None,
                include_machine: Machine = False) -> HTMLResponse:
    """As `winback report NAME --html FILE`: one self-contained page (inline CSS and SVG charts)."""
    page = jobs.render_html(_report(ws, programme_id, as_of, include_machine))
    return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP})
