"""The tracking service: one FastAPI app with the open pixel and clicks, the recipient pages and the real-time API.

`create_app` wires the pieces every route reads from `request.app.state`: `settings`, `engine` (a current store),
`signer` (tokens), `links` (LinkBuilder), `clock` (aware UTC now), `recorder` (batched writes of engagements and
refused requests) and `link_cache`. Every refused link, on any route, gets the same 404 page and a
`tracking_rejects` row: raise `InvalidLink(route=…, reason=…)` or let `BadToken` escape a route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from winback.settings import Settings
from winback.store.db import create_store_engine
from winback.store.migrate import require_current
from winback.tracking import hits
from winback.tracking.hits import InvalidLink, LinkCache, invalid_link_response, route_of
from winback.tracking.recorder import Recorder
from winback.tracking.tokens import BadToken, LinkBuilder, TokenSigner, environment_id, load_keys

__all__ = ["CSP", "create_app", "from_environment"]

CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY")]
_HTML = [(b"content-security-policy", CSP.encode())]
_NO_STORE = [(b"cache-control", b"no-store")]
_TOKEN_PREFIXES = tuple(f"/{first}/" for first in hits.ROUTE_NAMES)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SecurityHeaders:
    """Adds the security headers to every response: CSP on HTML, no-store on token routes (ASGI, no buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token_route = scope["path"].startswith(_TOKEN_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if not (token_route and k.lower() == b"cache-control")]
                headers += _ALWAYS
                if token_route:
                    headers += _NO_STORE
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                # A route may set a policy of its own (view in browser lets a message's images load): it stands
                # alone, since a browser applies every policy it is given.
                if html and not any(k.lower() == b"content-security-policy" for k, v in headers):
                    headers += _HTML
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TrackingApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's error middleware, so that a 500 carries the security headers too.
        return SecurityHeaders(super().build_middleware_stack())


async def _invalid_link(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidLink)
    return invalid_link_response(request, route=exc.route, reason=exc.reason)


async def _bad_token(request: Request, exc: Exception) -> Response:
    return invalid_link_response(request, route=route_of(request.url.path), reason="bad_token")


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # The API answers in JSON; every other unknown path or method looks exactly like a bad link.
    if exc.status_code not in (404, 405) or request.url.path.startswith("/api/"):
        return await http_exception_handler(request, exc)
    reason = "no_route" if exc.status_code == 404 else "bad_method"
    return invalid_link_response(request, route=route_of(request.url.path), reason=reason)


def create_app(settings: Settings, *, engine: sa.Engine | None = None,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The tracking service on a current store (`StoreNotReadyError` otherwise)."""
    own_engine = engine is None
    engine = engine if engine is not None else create_store_engine(settings.store_url)
    require_current(engine)
    keys, current = load_keys(settings.secret_keys, settings.home)
    signer = TokenSigner(keys, current, environment_id(settings.public_url))
    recorder = Recorder(engine)
    link_cache = LinkCache(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        recorder.start()
        try:
            yield
        finally:
            try:
                recorder.stop()
            finally:
                link_cache.close()
                if own_engine:
                    engine.dispose()

    app = _TrackingApp(title="winback tracking", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    state: Any = app.state
    state.settings = settings
    state.engine = engine
    state.signer = signer
    state.links = LinkBuilder(signer, settings.public_url)
    state.clock = clock or _utc_now
    state.recorder = recorder
    state.link_cache = link_cache
    app.add_exception_handler(InvalidLink, _invalid_link)
    app.add_exception_handler(BadToken, _bad_token)
    app.add_exception_handler(StarletteHTTPException, _not_found)
    app.router.routes.extend(hits.routes)
    _include_fronts(app)
    return app


def _include_fronts(app: FastAPI) -> None:
    # Imported here: the pages and the API import the store and templates, which `winback.tracking.app` users that
    # only build links do not need.
    from winback.api.realtime import router as realtime
    from winback.tracking.pages import router as pages

    app.include_router(pages)
    app.include_router(realtime)


def from_environment() -> FastAPI:
    """The app from WINBACK_* settings: the factory `winback serve --workers N` hands to uvicorn."""
    return create_app(Settings())
