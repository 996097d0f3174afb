"""Every route of the admin app needs a user or an API key, except a short, explicit list of public ones.

The test walks the routes the app really serves (including every REST router and the dashboard pages), calls each
method without credentials (path parameters filled with dummy values) and expects 401 JSON from the API and a
redirect to the login page from HTML pages: never 2xx, never 5xx. A new route without `require(...)` or
`page_principal` makes it fail.

Public, and why: the login form (GET, POST) and `POST /api/v1/session` (one must log in somehow), static files
(CSS, scripts and the chart library: nothing private), `/` (a redirect to /app/) and the OpenAPI document (it
describes the shape of the API, which is already public in the source, and the API testers need it; it holds no data).
"""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.convertors import FloatConvertor, IntegerConvertor, UUIDConvertor
from starlette.routing import Mount, Route

from winback.settings import Settings
from winback.web.app import OPENAPI_URL, create_admin_app

PUBLIC = {("GET", "/app/login"), ("POST", "/app/login"), ("POST", "/api/v1/session"), ("GET", OPENAPI_URL),
          ("HEAD", OPENAPI_URL), ("GET", "/")}
PUBLIC_MOUNTS = {"/app/static"}
CREDENTIALS = {"none": {}, "ended session": {"cookie": "wb_session=not-a-live-session"}}


def _dummy(convertor: object) -> str:
    if isinstance(convertor, IntegerConvertor):
        return "1"
    if isinstance(convertor, FloatConvertor):
        return "1.5"
    if isinstance(convertor, UUIDConvertor):
        return "00000000-0000-0000-0000-000000000001"
    return "x1"


def endpoints(app: FastAPI) -> tuple[list[tuple[str, str, str]], set[str]]:
    """(method, route path, URL to call) of every route and method, and the paths of mounted apps."""
    calls, mounts = [], set()
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, Mount):
            mounts.add(original.path)
            continue
        assert isinstance(original, Route), f"a route of a kind this test does not know: {original!r}"
        url = re.sub(r"{(\w+)(:\w+)?}", lambda m, c=route.param_convertors: _dummy(c[m.group(1)]), route.path_format)
        calls += [(method, route.path_format, url) for method in sorted(route.methods)]
    return calls, mounts


def problems(app: FastAPI, headers: dict[str, str]) -> list[str]:
    """What is wrong with each non-public route called with these (non-)credentials."""
    calls, mounts = endpoints(app)
    found: list[str] = [f"mount {m} is not known to be public" for m in mounts - PUBLIC_MOUNTS]
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path, url in calls:
            if (method, path) in PUBLIC:
                continue
            response = client.request(method, url, headers=headers, follow_redirects=False)
            status, where = response.status_code, f"{method} {path}"
            if path.startswith("/api/"):
                if status != 401 or not isinstance(response.json().get("detail"), str):
                    found.append(f"{where}: {status} (want 401 with a JSON detail)")
            elif status not in (302, 303) or not response.headers.get("location", "").startswith("/app/login"):
                found.append(f"{where}: {status} (want a redirect to /app/login)")
    return found


@pytest.fixture
def app(engine, now, tmp_path):
    return create_admin_app(Settings(home=tmp_path), engine=engine, clock=lambda: now)


@pytest.mark.parametrize("credentials", CREDENTIALS, ids=str)
def test_every_route_needs_authentication(app, credentials):
    calls, _ = endpoints(app)
    assert len(calls) > len(PUBLIC) + 20  # the REST API and the dashboard are really there
    assert problems(app, CREDENTIALS[credentials]) == []


def test_the_public_list_names_only_routes_that_exist(app):
    calls, mounts = endpoints(app)
    assert {(method, path) for method, path, _ in calls} >= PUBLIC and mounts == PUBLIC_MOUNTS


def test_public_routes_answer_without_credentials(app):
    with TestClient(app) as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/app/"
        assert client.get("/app/login").status_code == 200
        assert client.get("/app/static/login.css").status_code == 200
        spec = client.get(OPENAPI_URL).json()
        assert "/api/v1/session" in spec["paths"]


def test_an_unprotected_route_is_caught(app):
    @app.get("/api/v1/leak")
    async def leak() -> dict:
        return {"customers": []}

    @app.post("/app/leak")
    async def leak_page() -> dict:
        return {}

    assert problems(app, {}) == ["GET /api/v1/leak: 200 (want 401 with a JSON detail)",
                                 "POST /app/leak: 200 (want a redirect to /app/login)"]
