"""The open pixel (`GET /o/{token}.gif`) and click redirects (`GET|HEAD /c/{token}`).

Both answer from the token and a cache of the message's recorded links, and hand the row to the recorder: the store
is written after the response, in batches. A click redirects only to the URL recorded in `message_links` for the
token's (enrolment, step, link key), never to one read from the request.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from winback.store.tables import message_links
from winback.tracking.quality import ALL_LINKS_SECONDS, all_links_within, classify_click, classify_open, truncate_ip
from winback.tracking.tokens import BadToken

__all__ = ["GIF", "INVALID_LINK_BODY", "InvalidLink", "LinkCache", "invalid_link_response", "route_of", "routes"]

# The smallest transparent 1×1 GIF (43 bytes).
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
INVALID_LINK_BODY = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Link not valid</title>"
                     "</head><body><p>This link is not valid.</p></body></html>")
INVALID_LINK_STATUS = 404
ROUTE_NAMES = {"u": "unsubscribe", "p": "preferences", "c": "click", "o": "open", "v": "view", "s": "survey"}


class InvalidLink(Exception):
    """Raised by any tracking route for a link it will not serve; answered with the one generic response and
    counted in `tracking_rejects` with `route` and `reason` (never shown to the visitor)."""

    def __init__(self, *, route: str, reason: str) -> None:
        super().__init__(f"{route}: {reason}")
        self.route = route
        self.reason = reason


def route_of(path: str) -> str:
    """The tracking route a path belongs to by its first segment (`/c/…` → click), else `other`."""
    first = path.lstrip("/").split("/", 1)[0]
    return ROUTE_NAMES.get(first, "other")


def invalid_link_response(request: Request, *, route: str, reason: str) -> HTMLResponse:
    """The one answer to every bad, unknown or refused link; the reason goes to `tracking_rejects` only."""
    state = request.app.state
    state.recorder.reject(route=route, reason=reason, at=state.clock(), detail=_client(request))
    return HTMLResponse(INVALID_LINK_BODY, status_code=INVALID_LINK_STATUS)


def _client(request: Request) -> dict[str, Any]:
    ip = request.client.host if request.client else None
    return {"ip": truncate_ip(ip), "ua": (request.headers.get("user-agent") or "")[:300] or None}


def _sent_at(payload: dict[str, Any]) -> datetime | None:
    t = payload.get("t")
    return datetime.fromtimestamp(t, UTC) if isinstance(t, int) else None


def _open_fields(payload: dict[str, Any]) -> tuple[str, int, str]:
    c, e, s = payload.get("c"), payload.get("e"), payload.get("s")
    if not (isinstance(c, str) and isinstance(e, int) and isinstance(s, str)):
        raise BadToken()
    return c, e, s


class LinkCache:
    """The recorded links of recent messages, {(enrolment, step): {link key: url}}, and their recent clicks.

    Links are recorded before a message is handed over, so a cached set is complete for every click of that send;
    a key missing from it (a retry that rendered a new URL) is looked up again. Bounded: cleared when full.
    """

    def __init__(self, engine: sa.Engine, *, max_messages: int = 200_000, readers: int = 4) -> None:
        self.engine = engine
        self.max_messages = max_messages
        self.local = engine.dialect.name == "sqlite"
        self._links: dict[tuple[int, str], dict[str, str]] = {}
        self._clicks: dict[tuple[int, str], deque[tuple[datetime, str]]] = {}
        self._lock = threading.Lock()
        # Connections kept open for these reads (at most `readers`, fewer than the engine's pool, should callers
        # use threads): a pool checkout (with its ping) and a transaction would triple a lookup's round trips.
        self._readers = threading.BoundedSemaphore(readers)
        self._idle: list[sa.Connection] = []
        self._query = sa.select(message_links.c.link_key, message_links.c.url).where(
            message_links.c.enrolment_id == sa.bindparam("e"), message_links.c.step == sa.bindparam("s"))

    def cached(self, enrolment_id: int, step: str, *, key: str) -> dict[str, str] | None:
        """The cached links of (enrolment, step) if `key` is among them, else None (ask `links`)."""
        found = self._links.get((enrolment_id, step))
        return found if found is not None and key in found else None

    def links(self, enrolment_id: int, step: str, *, key: str) -> dict[str, str]:
        """All recorded links of (enrolment, step), read again from the store when `key` is not among them."""
        found = self.cached(enrolment_id, step, key=key)
        if found is not None:
            return found
        with self._readers:
            found = self._read(enrolment_id, step)
        if found:
            with self._lock:
                if len(self._links) >= self.max_messages:
                    self._links.clear()
                self._links[(enrolment_id, step)] = found
        return found

    def _read(self, enrolment_id: int, step: str) -> dict[str, str]:
        for attempt in (1, 2):  # a connection that broke (server restart) is replaced once
            conn = self._checkout()
            try:
                with conn.begin():  # autocommit on PostgreSQL: emits nothing; SQLite's BEGIN costs no round trip
                    found = {k: url for k, url in conn.execute(self._query, {"e": enrolment_id, "s": step})}
            except sa.exc.DBAPIError:
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.close()
                if attempt == 2:
                    raise
                continue
            with self._lock:
                self._idle.append(conn)
            return found
        raise AssertionError("unreachable")

    def _checkout(self) -> sa.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = self.engine.connect()
        return conn if self.local else conn.execution_options(isolation_level="AUTOCOMMIT")

    def close(self) -> None:
        """Return the lookup connections to the engine's pool (at shutdown)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.close()

    def click(self, enrolment_id: int, step: str, *, key: str, at: datetime, link_count: int) -> datetime | None:
        """Note a click; if it completes every link of the message within the window, the first click's time."""
        if link_count < 2:
            return None
        window = timedelta(seconds=ALL_LINKS_SECONDS)
        with self._lock:
            if len(self._clicks) >= self.max_messages:
                self._clicks = {m: q for m, q in self._clicks.items() if q and at - q[-1][0] <= window}
            recent = self._clicks.setdefault((enrolment_id, step), deque(maxlen=4 * link_count))
            recent.append((at, key))
            while recent and at - recent[0][0] > window:
                recent.popleft()
            if all_links_within(list(recent), link_count=link_count):
                return recent[0][0]
        return None


async def open_pixel(request: Request) -> Response:
    """The open pixel: always the GIF for a valid token, recorded with its machine verdict."""
    state = request.app.state
    token = request.path_params["token"]
    try:
        payload = state.signer.verify(token, "open")
        customer_id, enrolment_id, step = _open_fields(payload)
    except BadToken:
        return invalid_link_response(request, route="open", reason="bad_token")
    at = state.clock()
    client = _client(request)
    verdict = classify_open(method=request.method, user_agent=request.headers.get("user-agent"),
                            ip=request.client.host if request.client else None, at=at, sent_at=_sent_at(payload))
    state.recorder.engagement(customer_id=customer_id, enrolment_id=enrolment_id, step=step, kind="open", at=at,
                              machine=verdict.machine, reason=verdict.reason, detail=client)
    return Response(GIF, media_type="image/gif")


async def click(request: Request) -> Response:
    """A click: 302 to the recorded URL of the token's link, recorded with its machine verdict."""
    state = request.app.state
    token = request.path_params["token"]
    try:
        payload = state.signer.verify(token, "click")
        customer_id, enrolment_id, step = _open_fields(payload)
        key = payload.get("k")
        if not isinstance(key, str):
            raise BadToken()
    except BadToken:
        return invalid_link_response(request, route="click", reason="bad_token")
    cache: LinkCache = state.link_cache
    # Read on the event loop: one indexed lookup (≈ 40 µs on SQLite, ≈ 0.3 ms on a local PostgreSQL) costs less
    # than the hop to a worker thread, whose GIL hand-offs measured a much worse p99 (docs/tracking.md).
    links = cache.links(enrolment_id, step, key=key)
    url = links.get(key)
    if url is None:
        return invalid_link_response(request, route="click", reason="unknown_link")
    at = state.clock()
    verdict = classify_click(method=request.method, user_agent=request.headers.get("user-agent"),
                             ip=request.client.host if request.client else None, at=at, sent_at=_sent_at(payload))
    machine, reason = verdict.machine, verdict.reason
    first = cache.click(enrolment_id, step, key=key, at=at, link_count=len(links))
    if first is not None:
        state.recorder.relabel_clicks(enrolment_id=enrolment_id, step=step, since=first,
                                      reason="all_links_within_seconds")
        if not machine:
            machine, reason = True, "all_links_within_seconds"
    state.recorder.engagement(customer_id=customer_id, enrolment_id=enrolment_id, step=step, kind="click", at=at,
                              machine=machine, reason=reason, detail={**_client(request), "k": key,
                                                                      "method": request.method})
    return Response(status_code=302, headers={"location": url})


# Plain Starlette routes: these two answer most of the traffic, and FastAPI's per-request parameter solving would
# cost them a fifth of their time for one path parameter.
routes = [Route("/o/{token}.gif", open_pixel, methods=["GET"]), Route("/c/{token}", click, methods=["GET", "HEAD"])]
