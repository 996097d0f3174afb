"""The admin app (`winback dashboard`): the dashboard under /app, the REST API under /api/v1, login and logout.

`create_admin_app` sets what routes read from `request.app.state`: `settings`, `engine` (a current store), `clock`
(aware UTC now) and `login_limiter`. Every route but the login form, the session POST, static files, `/` and the
OpenAPI document needs a user or an API key (tests/integration/test_web_routes_need_auth.py checks each one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from winback.settings import Settings
from winback.store.db import create_store_engine
from winback.store.migrate import require_current
from winback.web.login import LoginLimiter

__all__ = ["CSP", "OPENAPI_URL", "SecurityHeaders", "create_admin_app", "from_environment"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")
OPENAPI_URL = "/api/v1/openapi.json"
STATIC = Path(__file__).parent / "static"
_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
_NO_STORE = (b"cache-control", b"no-store")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SecurityHeaders:
    """Adds the security headers to every response, and `no-store` to all but static files (ASGI, no buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/app/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # A response with a policy of its own keeps it (the self-contained report page: inline CSS only).
                own = any(k.lower() == b"content-security-policy" for k, _ in headers)
                headers += [h for h in _HEADERS if not (own and h[0] == b"content-security-policy")]
                # Pages and API answers carry customer data: no copy in a shared browser's or proxy's cache.
                if not static and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_admin_app(settings: Settings, *, engine: sa.Engine | None = None,
                     clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The admin app on a current store (`StoreNotReadyError` otherwise)."""
    own_engine = engine is None
    engine = engine if engine is not None else create_store_engine(settings.store_url)
    require_current(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if own_engine:
                engine.dispose()

    # Swagger UI and ReDoc load scripts from a CDN, which the CSP (rightly) refuses: the spec is served as JSON.
    app = FastAPI(title="winback", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=OPENAPI_URL,
                  description="The winback REST API: send a session cookie with its CSRF token, or an API key with a "
                              "role scope as `Authorization: Bearer wbk_…` (docs/users.md).")
    state: Any = app.state
    state.settings = settings
    state.engine = engine
    state.clock = clock or _utc_now
    state.login_limiter = LoginLimiter()
    app.add_middleware(SecurityHeaders)
    _include_fronts(app)
    app.mount("/app/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/", _home, methods=["GET"], include_in_schema=False)
    return app


async def _home() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=303)


def _include_fronts(app: FastAPI) -> None:
    # Imported here: the routes pull in the jobs, the store queries and the templates, which `winback` commands
    # other than `dashboard` do not need.
    from winback.api.routes import ROUTERS
    from winback.web.login import router as login
    from winback.web.pages import router as pages

    app.include_router(login)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages)


def from_environment() -> FastAPI:
    """The app from WINBACK_* settings: the factory `winback dashboard --workers N` hands to uvicorn."""
    return create_admin_app(Settings())
