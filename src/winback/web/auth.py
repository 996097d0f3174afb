"""Who may use the dashboard and the REST API: roles, users (argon2id passwords), sessions, CSRF, API keys.

A browser holds a session cookie `wb_session` with a random 32-byte token; only its SHA-256 is stored, so a copy of
the `sessions` table cannot be replayed. A session ends after 12 hours without a request or 7 days after login,
whichever comes first. Cookie requests that change things (POST/PUT/PATCH/DELETE) must also send the session's CSRF
token (header `X-CSRF-Token` or form field `csrf_token`): another site can make a browser send the cookie, never read
the token. A server sends `Authorization: Bearer <API key>` instead, and acts with the role in the key's scopes
(`role:marketer` …). docs/users.md tells the rules to the people who run winback.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from winback.api.keys import ApiKey, verify_key
from winback.domain.errors import NotFoundError, UserError
from winback.domain.roles import CAPABILITIES, ROLES, allowed
from winback.store import tables as t
from winback.store.db import write_transaction

__all__ = ["ABSOLUTE_TTL", "CAPABILITIES", "COOKIE", "CSRF_FIELD", "CSRF_HEADER", "IDLE_TTL", "MIN_PASSWORD",
           "ROLES", "Principal", "User", "allowed", "authenticate", "check_password", "check_role", "create_user",
           "current_principal", "disable_user", "end_session", "get_user", "hash_password", "key_role",
           "list_users", "normalise_email", "page_principal", "require", "session_principal", "set_role",
           "start_session", "verify_password"]

COOKIE = "wb_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
IDLE_TTL = timedelta(hours=12)
ABSOLUTE_TTL = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)  # `last_seen_at` is written at most once a minute per session, not per request
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # a longer "password" only makes each hash cost more
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile: t=3, m=64 MiB, p=4
u = t.users.c
s = t.sessions.c


# --- roles ----------------------------------------------------------------------------------------------------------

def check_role(role: str) -> str:
    """The role, or a UserError naming the roles."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a logged-in user or a server with an API key."""

    kind: str  # "user" | "api_key"
    id: str  # user id or API key id
    name: str  # user's name or email, or the key's name
    role: str  # one of ROLES
    language: str | None  # "zh" | "en" | None
    csrf_token: str | None  # the session's (users only)

    def can(self, capability: str) -> bool:
        """True when this principal's role has `capability`."""
        return allowed(self.role, capability)


# --- passwords ------------------------------------------------------------------------------------------------------

def check_password(password: str) -> str:
    """The password, or a UserError saying what a password needs."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD} characters (a few words is fine)")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password is too long: use at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise UserError("the password cannot be only spaces")
    return password


def hash_password(password: str, *, hasher: PasswordHasher = HASHER) -> str:
    """The argon2id hash of a password that meets the policy (salt and parameters encoded in it)."""
    return hasher.hash(check_password(password))


def verify_password(stored: str, password: str, *, hasher: PasswordHasher = HASHER) -> tuple[bool, str | None]:
    """(matches, a new hash when the stored one used other parameters than `hasher`'s, else None)."""
    if len(password) > MAX_PASSWORD:
        return False, None
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, (hasher.hash(password) if hasher.check_needs_rehash(stored) else None)


@functools.cache
def _decoy_hash() -> str:
    # Unknown emails are checked against this, so a wrong email costs as long as a wrong password (no probing).
    return HASHER.hash(secrets.token_urlsafe(16))


# --- users ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    """A dashboard user, without the password hash."""

    user_id: int
    email: str
    name: str | None
    role: str
    language: str | None
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None

    @property
    def display_name(self) -> str:
        """The name, or the email when there is none."""
        return self.name or self.email

    def as_dict(self) -> dict[str, Any]:
        """Public facts, times in ISO 8601."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"user_id": self.user_id, "email": self.email, "name": self.name, "role": self.role,
                "language": self.language, "created_at": iso(self.created_at),
                "last_login_at": iso(self.last_login_at), "disabled": self.disabled_at is not None,
                "disabled_at": iso(self.disabled_at)}


def _user(row: Any) -> User:
    return User(user_id=row.user_id, email=row.email, name=row.name, role=row.role, language=row.language,
                created_at=row.created_at, last_login_at=row.last_login_at, disabled_at=row.disabled_at)


def normalise_email(email: str) -> str:
    """The email as stored (trimmed, lower-case), or a UserError when it is not an address."""
    value = email.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in value) or len(value) > 320:
        raise UserError(f"{email!r} is not an email address")
    return value


def create_user(engine: sa.Engine, *, email: str, password: str, role: str, name: str | None = None,
                now: datetime) -> int:
    """Add a user and return their id; refuses a taken email, an unknown role or a weak password."""
    email = normalise_email(email)
    check_role(role)
    name = (name or "").strip() or None
    if name and len(name) > 200:
        raise UserError("the name is too long: use at most 200 characters")
    password_hash = hash_password(password)
    with write_transaction(engine) as conn:
        if conn.execute(sa.select(u.user_id).where(u.email == email)).first() is not None:
            raise UserError(f"a user {email} already exists (see `winback users list`)")
        result = conn.execute(t.users.insert().values(email=email, name=name, role=role, password_hash=password_hash,
                                                      created_at=now))
        return int(result.inserted_primary_key[0])


def get_user(engine: sa.Engine, email: str) -> User:
    """The user with this email, or NotFoundError."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.users).where(u.email == email.strip().lower())).first()
    if row is None:
        raise NotFoundError(f"no user {email.strip()!r} (see `winback users list`)")
    return _user(row)


def list_users(engine: sa.Engine) -> list[User]:
    """Every user, oldest first."""
    with engine.connect() as conn:
        return [_user(row) for row in conn.execute(sa.select(t.users).order_by(u.user_id))]


def disable_user(engine: sa.Engine, email: str, *, now: datetime) -> User:
    """Stop a user from logging in and end their sessions at once; disabling twice changes nothing."""
    user = get_user(engine, email)
    with write_transaction(engine) as conn:
        conn.execute(t.users.update().where(u.user_id == user.user_id, u.disabled_at.is_(None))
                     .values(disabled_at=now))
        conn.execute(t.sessions.delete().where(s.user_id == user.user_id))
    return get_user(engine, email)


def set_role(engine: sa.Engine, email: str, role: str) -> User:
    """Give a user another role; their open sessions act with it from their next request."""
    check_role(role)
    user = get_user(engine, email)
    with write_transaction(engine) as conn:
        conn.execute(t.users.update().where(u.user_id == user.user_id).values(role=role))
    return get_user(engine, email)


def authenticate(engine: sa.Engine, *, email: str, password: str, now: datetime) -> User | None:
    """The user when the email and password match an enabled account (the hash is renewed if outdated), else None."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.users).where(u.email == email.strip().lower())).first()
    matches, new_hash = verify_password(row.password_hash if row is not None else _decoy_hash(), password)
    if row is None or not matches or row.disabled_at is not None:
        return None
    values: dict[str, Any] = {"last_login_at": now}
    if new_hash is not None:
        values["password_hash"] = new_hash
    with write_transaction(engine) as conn:
        conn.execute(t.users.update().where(u.user_id == row.user_id).values(**values))
    return _user(row)


# --- sessions -------------------------------------------------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(engine: sa.Engine, *, user_id: int, now: datetime, ip: str | None,
                  user_agent: str | None) -> tuple[str, str]:
    """A new session for the user: (cookie token, CSRF token); the user's ended sessions are cleared on the way."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with write_transaction(engine) as conn:
        conn.execute(t.sessions.delete().where(
            s.user_id == user_id, sa.or_(s.expires_at <= now, s.last_seen_at <= now - IDLE_TTL)))
        conn.execute(t.sessions.insert().values(
            token_hash=_digest(token), user_id=user_id, csrf_token=csrf, created_at=now,
            expires_at=now + ABSOLUTE_TTL, last_seen_at=now, ip=(ip or None) and ip[:64],
            user_agent=(user_agent or None) and user_agent[:300]))
    return token, csrf


def end_session(engine: sa.Engine, token: str) -> None:
    """Forget a session (logout); an unknown token changes nothing."""
    with write_transaction(engine) as conn:
        conn.execute(t.sessions.delete().where(s.token_hash == _digest(token)))


def session_principal(engine: sa.Engine, token: str, *, now: datetime) -> Principal | None:
    """The user behind a live session token (not expired, not idle too long, user enabled), else None."""
    digest = _digest(token)
    query = (sa.select(s.csrf_token, s.expires_at, s.last_seen_at, u.user_id, u.email, u.name, u.role, u.language,
                       u.disabled_at)
             .select_from(t.sessions.join(t.users, s.user_id == u.user_id)).where(s.token_hash == digest))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.disabled_at is not None or row.expires_at <= now or row.last_seen_at + IDLE_TTL <= now:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        with write_transaction(engine) as conn:
            conn.execute(t.sessions.update().where(s.token_hash == digest).values(last_seen_at=now))
    return Principal(kind="user", id=str(row.user_id), name=row.name or row.email, role=row.role,
                     language=row.language, csrf_token=row.csrf_token)


# --- API keys -------------------------------------------------------------------------------------------------------

def key_role(scopes: Iterable[str] | None) -> str | None:
    """The role a key acts with: the highest `role:<name>` among its scopes; None without one.

    A key made without scopes ("every scope" for the real-time API) gets no role: the admin API needs one named.
    """
    named = {scope.removeprefix("role:") for scope in scopes or () if scope.startswith("role:")}
    ranked = [role for role in ROLES if role in named]
    return ranked[-1] if ranked else None


def _key_principal(key: ApiKey) -> Principal:
    role = key_role(key.scopes)
    if role is None:
        raise HTTPException(403, f"the API key {key.key_id} has no role; make one with "
                                 "`winback apikeys create NAME --scope role:viewer` (or another role)")
    return Principal(kind="api_key", id=key.key_id, name=key.name, role=role, language=None, csrf_token=None)


# --- FastAPI dependencies -----------------------------------------------------------------------------------------

def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def _bearer(request: Request, presented: str) -> Principal:
    state = request.app.state
    key = await run_in_threadpool(verify_key, state.engine, presented, now=state.clock())
    if key is None:
        raise _unauthorized("the API key is unknown, malformed or revoked")
    return _key_principal(key)


async def _session(request: Request) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    state = request.app.state
    return await run_in_threadpool(session_principal, state.engine, token, now=state.clock())


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method not in UNSAFE_METHODS or principal.csrf_token is None:
        return
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)  # Starlette keeps the parsed form for the route
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise HTTPException(403, f"missing or wrong CSRF token: send the session's token in the {CSRF_HEADER} "
                                 f"header or the {CSRF_FIELD} form field (reload the page if it is old)")


def _authorization(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise _unauthorized("send an API key as `Authorization: Bearer wbk_…`")
    return presented.strip()


async def current_principal(request: Request) -> Principal:
    """The caller from `Authorization: Bearer <API key>` or the session cookie; 401 without, 403 on a bad CSRF."""
    presented = _authorization(request)
    if presented is not None:
        return await _bearer(request, presented)
    principal = await _session(request)
    if principal is None:
        raise _unauthorized("log in first (POST /api/v1/session) or send an API key "
                            "(Authorization: Bearer wbk_…)" if COOKIE not in request.cookies
                            else "the session has ended; log in again")
    await _check_csrf(request, principal)
    return principal


def _login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/app/login?next={quote(target, safe='/')}"


async def page_principal(request: Request) -> Principal:
    """Like `current_principal`, for HTML pages: without a live session, a 303 redirect to the login page."""
    if "authorization" in request.headers:
        return await current_principal(request)
    principal = await _session(request)
    if principal is None:
        raise HTTPException(303, "log in first", headers={"Location": _login_url(request)})
    await _check_csrf(request, principal)
    return principal


def require(capability: str, *, page: bool = False) -> Callable[..., Any]:
    """A dependency giving the principal when its role has `capability`, else 403 (`page=True`: for HTML pages)."""
    allowed("admin", capability)  # a misspelt capability fails when the route is defined, not when it is called
    source = page_principal if page else current_principal

    async def dependency(principal: Principal = Depends(source)) -> Principal:
        if not principal.can(capability):
            raise HTTPException(403, f"the role {principal.role} may not do this (needs {capability}; "
                                     "see docs/users.md)")
        return principal

    dependency.__name__ = f"require_{capability}"
    return dependency
