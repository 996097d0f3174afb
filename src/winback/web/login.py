"""Logging in and out: the HTML form under /app and the JSON session API, with login rate limits.

Limits live in the memory of each process (docs/users.md): at most `per_ip` attempts a minute from one address, and
after `failures` wrong passwords in a row an account is locked for `lock` — a wrong password then gets 429 even
when it is right, so guessing gains nothing. With several processes each keeps its own counts.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from winback.web import auth
from winback.web.auth import Principal, current_principal, page_principal

__all__ = ["LANG_COOKIE", "LoginLimiter", "PrincipalPublic", "SessionCreate", "SessionPublic", "UserPublic",
           "router"]

router = APIRouter()
TEMPLATES = Path(__file__).parent / "templates"
LANG_COOKIE = "wb_lang"
LANGUAGES = ("zh", "en")
TEXTS = {
    "en": {"title": "Log in — winback", "heading": "Log in", "email": "Email", "password": "Password",
           "submit": "Log in", "other_lang": "中文", "bad": "Wrong email or password, or the account is disabled.",
           "limited": "Too many attempts. Wait {seconds} seconds and try again.",
           "first_admin": "No account yet? An administrator adds one with `winback users add`."},
    "zh": {"title": "登录 — winback", "heading": "登录", "email": "邮箱", "password": "密码", "submit": "登录",
           "other_lang": "English", "bad": "邮箱或密码错误，或账户已停用。",
           "limited": "尝试次数过多，请 {seconds} 秒后再试。",
           "first_admin": "还没有账户？请管理员用 `winback users add` 添加。"},
}


# --- rate limits ----------------------------------------------------------------------------------------------------

@dataclass
class LoginLimiter:
    """Login attempts per client address (sliding minute) and failures per account (lock after a run of them)."""

    per_ip: int = 10
    failures: int = 5
    lock: timedelta = timedelta(minutes=1)
    _attempts: dict[str, deque[datetime]] = field(default_factory=dict)
    _failed: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)  # (failures in a row, locked until)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, *, ip: str, account: str, now: datetime) -> float:
        """0 when this attempt may go ahead (it is counted), else the seconds to wait."""
        with self._lock:
            self._prune(now)
            _, until = self._failed.get(account, (0, None))
            if until is not None and until > now:
                return (until - now).total_seconds()
            seen = self._attempts.setdefault(ip, deque())
            while seen and seen[0] <= now - timedelta(minutes=1):
                seen.popleft()
            if len(seen) >= self.per_ip:
                return (seen[0] + timedelta(minutes=1) - now).total_seconds()
            seen.append(now)
            return 0.0

    def failed(self, account: str, *, now: datetime) -> None:
        """Count a wrong password for the account; the last of a run locks it."""
        with self._lock:
            count, _ = self._failed.get(account, (0, None))
            count += 1
            self._failed[account] = (0, now + self.lock) if count >= self.failures else (count, None)

    def succeeded(self, account: str) -> None:
        """A right password clears the account's run of failures."""
        with self._lock:
            self._failed.pop(account, None)

    def _prune(self, now: datetime) -> None:
        # Bounded memory under a flood of made-up addresses or accounts.
        if len(self._attempts) > 10_000:
            self._attempts = {ip: d for ip, d in self._attempts.items() if d and d[-1] > now - timedelta(minutes=1)}
        if len(self._failed) > 10_000:
            self._failed = {a: f for a, f in self._failed.items() if f[1] is not None and f[1] > now}


def _limiter(request: Request) -> LoginLimiter:
    return request.app.state.login_limiter


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- shared steps ---------------------------------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another site, `//host`) becomes /app/."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/app/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/app/"


def _same_origin(request: Request) -> bool:
    # A login form posted from another site would log the browser into the attacker's account (login CSRF).
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.url.netloc


def _set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(auth.COOKIE, token, max_age=int(auth.ABSOLUTE_TTL.total_seconds()), path="/",
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")


def _clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


async def _log_in(request: Request, *, email: str, password: str) -> tuple[auth.User, str, str] | float | None:
    """(user, cookie token, CSRF token) on success, seconds to wait when limited, None when refused."""
    state = request.app.state
    account, now = email.strip().lower(), state.clock()
    wait = _limiter(request).check(ip=_client_ip(request), account=account, now=now)
    if wait > 0:
        return wait
    user = await run_in_threadpool(auth.authenticate, state.engine, email=account, password=password, now=now)
    if user is None:
        _limiter(request).failed(account, now=now)
        return None
    _limiter(request).succeeded(account)
    old = request.cookies.get(auth.COOKIE)
    if old:  # a new token at every login, so a token planted before login is worth nothing after it
        await run_in_threadpool(auth.end_session, state.engine, old)
    token, csrf = await run_in_threadpool(auth.start_session, state.engine, user_id=user.user_id, now=now,
                                          ip=_client_ip(request), user_agent=request.headers.get("user-agent"))
    return user, token, csrf


def _retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(wait + 0.999)))}


# --- HTML -----------------------------------------------------------------------------------------------------------

@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def _language(request: Request) -> str:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def _form_page(request: Request, *, lang: str, next_: str, email: str = "", error: str | None = None,
               status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    html = _environment().get_template("login.html").render(
        t=TEXTS[lang], lang=lang, other="en" if lang == "zh" else "zh", next=next_, email=email, error=error)
    response = HTMLResponse(html, status_code=status, headers=headers)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="lax",
                            secure=request.url.scheme == "https")
    return response


@router.get("/app/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The login form."""
    return _form_page(request, lang=_language(request), next_=_safe_next(next))


@router.post("/app/login", response_class=HTMLResponse, include_in_schema=False)
async def login_submit(request: Request, email: Annotated[str, Form(max_length=320)] = "",
                       password: Annotated[str, Form(max_length=auth.MAX_PASSWORD)] = "",
                       next: Annotated[str, Form(max_length=2000)] = "/app/") -> Response:
    """Check the form; on success set the session cookie and go to `next`."""
    lang, target = _language(request), _safe_next(next)
    if not _same_origin(request):
        raise HTTPException(403, "the login form was posted from another site")
    outcome = await _log_in(request, email=email, password=password)
    if isinstance(outcome, float):
        message = TEXTS[lang]["limited"].format(seconds=max(1, int(outcome + 0.999)))
        return _form_page(request, lang=lang, next_=target, email=email, error=message, status=429,
                          headers=_retry_after(outcome))
    if outcome is None:
        return _form_page(request, lang=lang, next_=target, email=email, error=TEXTS[lang]["bad"], status=401)
    _, token, _ = outcome
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, token)
    return response


@router.post("/app/logout", include_in_schema=False)
async def logout(request: Request, principal: Annotated[Principal, Depends(page_principal)]) -> Response:
    """End the session and go back to the login form."""
    token = request.cookies.get(auth.COOKIE)
    if token:
        await run_in_threadpool(auth.end_session, request.app.state.engine, token)
    response = RedirectResponse("/app/login", status_code=303)
    _clear_cookie(request, response)
    return response


# --- JSON -----------------------------------------------------------------------------------------------------------

class SessionCreate(BaseModel):
    """Credentials for `POST /api/v1/session`."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=auth.MAX_PASSWORD)


class UserPublic(BaseModel):
    """A user as the API shows them."""

    user_id: int
    email: str
    name: str | None
    role: str
    language: str | None


class SessionPublic(BaseModel):
    """A new session: send `csrf_token` in the X-CSRF-Token header of every POST/PUT/PATCH/DELETE."""

    csrf_token: str
    user: UserPublic


class PrincipalPublic(BaseModel):
    """Who the caller is, with what their role may do."""

    kind: str
    id: str
    name: str
    role: str
    language: str | None
    capabilities: list[str]
    csrf_token: str | None


def _json_error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


@router.post("/api/v1/session", response_model=SessionPublic, tags=["session"],
             responses={401: {"description": "Wrong email or password, or a disabled account"},
                        403: {"description": "Posted from another site"},
                        429: {"description": "Too many attempts (Retry-After says how long to wait)"}})
async def create_session(request: Request, body: SessionCreate) -> Response:
    """Log in: sets the `wb_session` cookie and returns the session's CSRF token and the user."""
    if not _same_origin(request):
        return _json_error(403, "the login was posted from another site")
    outcome = await _log_in(request, email=body.email, password=body.password)
    if isinstance(outcome, float):
        return _json_error(429, f"too many login attempts; retry in {max(1, int(outcome + 0.999))} s",
                           _retry_after(outcome))
    if outcome is None:
        return _json_error(401, "wrong email or password, or the account is disabled")
    user, token, csrf = outcome
    payload = SessionPublic(csrf_token=csrf, user=UserPublic(user_id=user.user_id, email=user.email, name=user.name,
                                                             role=user.role, language=user.language))
    response = JSONResponse(payload.model_dump())
    _set_cookie(request, response, token)
    return response


@router.get("/api/v1/session", response_model=PrincipalPublic, tags=["session"])
async def read_session(principal: Annotated[Principal, Depends(current_principal)]) -> PrincipalPublic:
    """The caller (session user or API key), their role and capabilities."""
    return PrincipalPublic(kind=principal.kind, id=principal.id, name=principal.name, role=principal.role,
                           language=principal.language, csrf_token=principal.csrf_token,
                           capabilities=[c for c in auth.CAPABILITIES if principal.can(c)])


@router.delete("/api/v1/session", status_code=204, tags=["session"])
async def delete_session(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Response:
    """Log out: ends the cookie's session (an API key has no session: revoke it with `winback apikeys revoke`)."""
    token = request.cookies.get(auth.COOKIE)
    response = Response(status_code=204)
    if principal.kind == "user" and token:
        await run_in_threadpool(auth.end_session, request.app.state.engine, token)
        _clear_cookie(request, response)
    return response
