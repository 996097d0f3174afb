"""The dashboard's HTML pages under /app: overview, customers, programmes (new, dry run, start, results), tasks.

Server-rendered with Jinja2 (autoescape on); every form posts the session's CSRF token, which
`winback.web.auth.page_principal` checks. Pages read through `winback.web.queries`; actions call the same jobs
functions as the CLI (`winback.jobs.programmes`, `winback.jobs.plan`, `winback.jobs.tasks`).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from winback.domain.errors import NotFoundError, SegmentError, UserError, WinbackError
from winback.jobs.workspace import Workspace
from winback.web import queries
from winback.web.auth import Principal, page_principal
from winback.web.i18n import LANGUAGES, choose_language, t

__all__ = ["router"]

router = APIRouter(prefix="/app", include_in_schema=False)
TEMPLATES = Path(__file__).parent / "templates"
LANG_COOKIE = "wb_lang"
NOTICE_COOKIE = "wb_notice"
PAGE_SIZE = 50
MAX_PAGE = 100_000
RUNNING_ON_OVERVIEW = 5
STAGE_ORDER = ("new", "active", "at_risk", "dormant", "churned", "reactivated")
User = Annotated[Principal, Depends(page_principal)]


# --- rendering ----------------------------------------------------------------------------------------------------

@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(money=_money, pct=_pct, num=_num, signed=_signed, day=_day, when=_when, STAGES=STAGE_ORDER)
    return env


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def _signed(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:+,.{digits}f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _day(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    return value[:10] if isinstance(value, str) else value.strftime("%Y-%m-%d")


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    return value[:16].replace("T", " ") if isinstance(value, str) else value.strftime("%Y-%m-%d %H:%M")


def language(request: Request, principal: Principal) -> str:
    """The page's language: `?lang=`, the `wb_lang` cookie, the user's, then the browser's."""
    return choose_language(query=request.query_params.get("lang"), cookie=request.cookies.get(LANG_COOKIE),
                           user=principal.language, accept=request.headers.get("accept-language"))


def render(request: Request, principal: Principal, template: str, *, status: int = 200,
           **context: Any) -> HTMLResponse:
    """The page in the request's language, with the layout's needs (nav, CSRF token, language links, notice)."""
    lang = language(request, principal)
    notice = request.cookies.get(NOTICE_COOKIE)
    page = _environment().get_template(template).render(
        request=request, user=principal, lang=lang, t=functools.partial(_translate, lang),
        csrf_token=principal.csrf_token or "", path=request.url.path, lang_links=_language_links(request),
        notice=unquote(notice) if notice else None, can=principal.can, **context)
    response = HTMLResponse(page, status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86_400, samesite="lax", httponly=True)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path="/app")
    return response


def _translate(lang: str, key: str, **values: Any) -> str:
    return t(key, lang, **values)


def _language_links(request: Request) -> dict[str, str]:
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    return {code: f"{request.url.path}?{urlencode({**params, 'lang': code})}" for code in LANGUAGES}


def redirect(url: str, *, notice: str | None = None) -> Response:
    """A 303 to a GET page, carrying a one-time notice that page shows."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        response.set_cookie(NOTICE_COOKIE, quote(notice), max_age=60, path="/app", samesite="lax", httponly=True)
    return response


def error_page(request: Request, principal: Principal, *, status: int, message: str) -> HTMLResponse:
    """A page that says what went wrong and where to go next."""
    titles = {403: "error.forbidden", 404: "error.not_found"}
    return render(request, principal, "error.html", status=status, title_key=titles.get(status, "error.title"),
                  message=message)


def forbidden(request: Request, principal: Principal) -> HTMLResponse:
    lang = language(request, principal)
    return error_page(request, principal, status=403,
                      message=t("common.not_allowed", lang, role=t(f"role.{principal.role}", lang)))


def workspace(request: Request) -> Workspace:
    """The jobs' workspace over the app's settings, clock and engine."""
    state = request.app.state
    ws = Workspace(settings=state.settings, clock=state.clock)
    ws.__dict__["engine"] = state.engine  # share the app's pool instead of opening a second one (cached_property)
    return ws


def _connect(request: Request) -> Any:
    engine: sa.Engine = request.app.state.engine
    return engine.connect()


def _reports(request: Request) -> dict[str, Any]:
    """Programme reports built during this request (a page may ask for one twice; each is built once)."""
    if not hasattr(request.state, "reports"):
        request.state.reports = {}
    return request.state.reports


def programme_report(request: Request, programme_id: str) -> dict[str, Any]:
    """The measurement report of one programme (`winback.jobs.report`), computed on first use in this request."""
    cache = _reports(request)
    if programme_id not in cache:
        from winback.jobs.report import build_report

        now = request.app.state.clock()
        with _connect(request) as conn:
            cache[programme_id] = build_report(conn, programme_id,
                                               as_of=queries.report_as_of(conn, programme_id, now=now))
    return cache[programme_id]


# --- overview -----------------------------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def overview(request: Request, principal: User) -> Response:
    """Stages now and over time, value at risk, the top signals, and running programmes with their lift."""
    now = request.app.state.clock()
    with _connect(request) as conn:
        run = queries.latest_run(conn)
        history = queries.stage_history(conn)
        signals = queries.top_signals(conn) if run else {"pool": 0, "signals": []}
        programmes = queries.programme_rows(conn, states=("running",))[:RUNNING_ON_OVERVIEW]
    running = []
    for row in programmes:
        report = programme_report(request, row["programme_id"]) if row["enrolled"] else None
        running.append({**row, "report": report})
    lang = language(request, principal)
    chart = {"labels": [h["date"] for h in history],
             "series": [{"stage": s, "label": t(f"stage.{s}", lang), "values": [h["stages"].get(s, 0)
                                                                               for h in history]}
                        for s in STAGE_ORDER]}
    recent = run is not None and (now - run["as_of"]).days <= 7
    return render(request, principal, "overview.html", run=run, history=history, chart=chart, signals=signals,
                  signals_recent=recent, running=running)


# --- customers ----------------------------------------------------------------------------------------------------

@router.get("/customers", response_class=HTMLResponse)
def customers(request: Request, principal: User, q: str = "", stage: str = "", reason: str = "",
              dormancy: str = "", segment: str = "", page: str = "1") -> Response:
    """Search and filter customers, sorted by value at risk, a page at a time."""
    number = _page_number(page)
    filters = queries.CustomerFilter(q=q[:320], stage=stage if stage in STAGE_ORDER else "", reason=reason[:40],
                                     dormancy=dormancy[:40], segment=segment[:2000])
    lang = language(request, principal)
    problem = queries.check_segment(filters.segment)
    rows: list[dict[str, Any]] = []
    has_more = False
    with _connect(request) as conn:
        run = queries.latest_run(conn)
        if problem is None:
            try:
                result = queries.search_customers(conn, filters, now=request.app.state.clock(),
                                                  offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
                rows, has_more = result.rows, result.has_more
            except SegmentError as exc:  # valid syntax, but the store cannot evaluate it
                problem = str(exc)
        any_customers = bool(rows) or queries.has_customers(conn)
    params = {k: v for k, v in (("q", filters.q), ("stage", filters.stage), ("reason", filters.reason),
                                ("dormancy", filters.dormancy), ("segment", filters.segment)) if v}
    return render(request, principal, "customers.html", rows=rows, filters=filters, page=number, has_more=has_more,
                  choices=queries.filter_choices(run), any_customers=any_customers,
                  segment_error=t("error.bad_segment", lang, message=problem) if problem else None,
                  page_url=lambda n: "/app/customers?" + urlencode({**params, "page": n}),
                  first=(number - 1) * PAGE_SIZE + 1, last=(number - 1) * PAGE_SIZE + len(rows))


def _page_number(text: str) -> int:
    """The page asked for; anything that is not a page number (a typo in a shared link) is the first page."""
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_PAGE else 1


@router.get("/customers/{customer_id:path}", response_class=HTMLResponse)
def customer(request: Request, principal: User, customer_id: str) -> Response:
    """One customer: scores and why, a timeline of everything that happened, and their tasks."""
    with _connect(request) as conn:
        detail = queries.customer_detail(conn, customer_id)
    if detail is None:
        lang = language(request, principal)
        return error_page(request, principal, status=404, message=t("customer.not_found", lang, id=customer_id))
    profile = detail["profile"]
    explanation = (profile or {}).get("explanation") or {}
    return render(request, principal, "customer.html", **detail, explanation=explanation,
                  reason=explanation.get("reason") or {})


# --- programmes ---------------------------------------------------------------------------------------------------

@router.get("/programmes", response_class=HTMLResponse)
def programmes(request: Request, principal: User) -> Response:
    """Every programme with its state and enrolments."""
    with _connect(request) as conn:
        rows = queries.programme_rows(conn)
    return render(request, principal, "programmes.html", rows=rows)


@router.get("/programmes/new", response_class=HTMLResponse)
def new_programme(request: Request, principal: User, playbook: str = "") -> Response:
    """Pick a playbook or paste YAML."""
    return _new_page(request, principal, playbook=playbook, yaml_text="")


def _new_page(request: Request, principal: User, *, playbook: str, yaml_text: str, status: int = 200,
              **context: Any) -> HTMLResponse:
    from winback.campaigns.playbooks import playbook_summaries

    context.setdefault("error", None)
    context.setdefault("checked", None)
    context.setdefault("plan", None)
    return render(request, principal, "programme_new.html", status=status, playbooks=playbook_summaries(),
                  playbook=playbook, yaml_text=yaml_text, **context)


@router.post("/programmes/new", response_class=HTMLResponse)
def new_programme_action(request: Request, principal: User, action: Annotated[str, Form()] = "validate",
                         playbook: Annotated[str, Form()] = "", yaml_text: Annotated[str, Form()] = "") -> Response:
    """Check, dry-run or start the chosen programme (marketers and admins start)."""
    from winback.campaigns.playbooks import playbook_names
    from winback.jobs import plan as plans
    from winback.jobs import programmes as jobs

    lang = language(request, principal)
    keep = {"playbook": playbook if playbook in playbook_names() else "", "yaml_text": yaml_text[:200_000]}
    if action == "start" and not principal.can("campaigns"):
        return _new_page(request, principal, **keep, status=403, error=t("new.marketer_only", lang))
    ws = workspace(request)
    try:
        with _source(keep["playbook"], keep["yaml_text"], lang) as (source, origin):
            checked = jobs.validate(ws, source)
            checked["origin"] = origin
            if action == "validate":
                return _new_page(request, principal, **keep, checked=checked)
            if action == "plan":
                return _new_page(request, principal, **keep, checked=checked, plan=plans.plan(ws, source))
            started = jobs.start(ws, source)
    except UserError as exc:
        return _new_page(request, principal, **keep, status=422, error=_clean(str(exc)))
    pid = started["programme"]
    return redirect(f"/app/programmes/{quote(pid)}", notice=t(
        "new.started", lang, programme=pid, version=started["version"], enrolled=started.get("enrolled", 0),
        holdout=started.get("holdout", 0)))


class _source:
    """The programme source for the jobs functions: a playbook's name, or pasted YAML in a temporary .yaml file."""

    def __init__(self, playbook: str, yaml_text: str, lang: str) -> None:
        self.playbook, self.yaml_text, self.lang = playbook, yaml_text, lang
        self.folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> tuple[str, str]:
        if self.yaml_text.strip():
            self.folder = tempfile.TemporaryDirectory(prefix="winback-programme-")
            path = Path(self.folder.name) / "programme.yaml"
            path.write_text(self.yaml_text.replace("\r\n", "\n"), encoding="utf-8")
            return str(path), "pasted YAML"
        if self.playbook:
            return self.playbook, f"playbook {self.playbook}"
        raise UserError(t("new.need_source", self.lang))

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            self.folder.cleanup()


def _clean(message: str) -> str:
    """An error about pasted YAML names it so, not by its temporary file's path."""
    marker = "/programme.yaml"
    if marker in message:
        start = message.rfind(" ", 0, message.find(marker)) + 1
        message = message[:start] + "pasted YAML" + message[message.find(marker) + len(marker):]
    return message


@router.get("/programmes/{programme_id}", response_class=HTMLResponse)
def programme(request: Request, principal: User, programme_id: str) -> Response:
    """Status, lift with intervals, the funnel per step and variant, and the controls."""
    from winback.jobs import programmes as jobs

    lang = language(request, principal)
    try:
        status = jobs.status(workspace(request), programme_id)["programmes"][0]
    except NotFoundError:
        return error_page(request, principal, status=404, message=t("programme.not_found", lang, id=programme_id))
    enrolled = sum(status["enrolments"].values())
    report = programme_report(request, programme_id) if enrolled else None
    return render(request, principal, "programme.html", info=status, report=report, enrolled=enrolled,
                  programme_id=programme_id)


@router.post("/programmes/{programme_id}/state")
def programme_state(request: Request, principal: User, programme_id: str,
                    action: Annotated[str, Form()]) -> Response:
    """Pause, resume or stop a programme."""
    from winback.jobs import programmes as jobs

    if not principal.can("campaigns"):
        return forbidden(request, principal)
    if action not in ("pause", "resume", "stop"):
        return error_page(request, principal, status=400, message=f"unknown action {action!r}")
    lang = language(request, principal)
    return _act(request, principal, programme_id, lambda ws: t(
        "programme.state_changed", lang,
        state=t(f"state.{jobs.set_state(ws, programme_id, action)['state']}", lang)))


@router.post("/programmes/{programme_id}/run")
def programme_run(request: Request, principal: User, programme_id: str) -> Response:
    """Run the worker until nothing is due, on a simulated clock (a demo convenience; production runs the worker)."""
    from winback.jobs import programmes as jobs

    if not principal.can("campaigns"):
        return forbidden(request, principal)
    lang = language(request, principal)

    def run(ws: Workspace) -> str:
        result = jobs.run(ws, until_idle=True, simulate=True, seed=0)
        return t("programme.worker_done", lang, start=_when(result.started), end=_when(result.finished),
                 sent=f"{result.steps.handed_over:,}")

    return _act(request, principal, programme_id, run)


def _act(request: Request, principal: Principal, programme_id: str, action: Callable[[Workspace], str]) -> Response:
    lang = language(request, principal)
    target = f"/app/programmes/{quote(programme_id)}"
    try:
        notice = action(workspace(request))
    except NotFoundError:
        return error_page(request, principal, status=404, message=t("programme.not_found", lang, id=programme_id))
    except WinbackError as exc:
        return redirect(target, notice=str(exc))
    return redirect(target, notice=notice)


# --- tasks --------------------------------------------------------------------------------------------------------

@router.get("/tasks", response_class=HTMLResponse)
def tasks(request: Request, principal: User, mine: bool = False, page: str = "1") -> Response:
    """Open tasks by due date and value at risk."""
    number = _page_number(page)
    with _connect(request) as conn:
        rows, has_more = queries.task_queue(conn, assignee=principal.name if mine else None,
                                            offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render(request, principal, "tasks.html", rows=rows, mine=mine, page=number, has_more=has_more,
                  now=request.app.state.clock(),
                  page_url=lambda n: "/app/tasks?" + urlencode({**({"mine": "1"} if mine else {}), "page": n}))


@router.post("/tasks/{task_id}/assign")
def task_assign(request: Request, principal: User, task_id: int) -> Response:
    """Give the task to the signed-in user."""
    from winback.jobs import tasks as jobs

    lang = language(request, principal)
    return _task_action(request, principal, lambda ws: jobs.assign(ws, task_id, principal.name, by=principal.name),
                        t("tasks.assigned", lang, id=task_id))


@router.post("/tasks/{task_id}/done")
def task_done(request: Request, principal: User, task_id: int, note: Annotated[str, Form()] = "") -> Response:
    """Mark the task done, with an optional note."""
    from winback.jobs import tasks as jobs

    lang = language(request, principal)
    return _task_action(request, principal, lambda ws: jobs.complete(ws, task_id, note=note.strip()[:2000] or None,
                                                                     by=principal.name),
                        t("tasks.completed", lang, id=task_id))


def _task_action(request: Request, principal: Principal, action: Callable[[Workspace], Any], done: str) -> Response:
    if not principal.can("tasks"):
        return forbidden(request, principal)
    try:
        action(workspace(request))
    except NotFoundError as exc:
        return error_page(request, principal, status=404, message=str(exc))
    except UserError as exc:
        return redirect("/app/tasks", notice=str(exc))
    return redirect("/app/tasks", notice=done)
