from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from winback.tracking.app import CSP, SecurityHeaders


def _client() -> TestClient:
    app = FastAPI()

    @app.get("/plain")
    def plain() -> HTMLResponse:
        return HTMLResponse("<p>x</p>")

    @app.get("/own")
    def own() -> HTMLResponse:
        return HTMLResponse("<p>x</p>", headers={"Content-Security-Policy": "img-src https:"})

    return TestClient(SecurityHeaders(app))


def test_html_gets_the_policy_unless_the_route_set_its_own_and_every_response_the_other_headers() -> None:
    client = _client()
    plain, own = client.get("/plain"), client.get("/own")
    assert plain.headers.get_list("content-security-policy") == [CSP]
    assert own.headers.get_list("content-security-policy") == ["img-src https:"]
    for r in (plain, own, client.get("/missing")):
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
