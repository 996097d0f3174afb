"""The tracking service's open pixel and click redirects against real stores (SQLite and PostgreSQL): what is recorded,
where a click may go, machine flags, the one answer to every bad link, and the security headers."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from winback.settings import Settings
from winback.store.tables import engagements, message_links, tracking_rejects
from winback.tracking.app import CSP, create_app
from winback.tracking.hits import GIF, INVALID_LINK_BODY
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id, link_key

with warnings.catch_warnings():  # Starlette now asks for the `httpx2` fork; plain httpx works the same here
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PUBLIC = "https://t.example.com"
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SENT = NOW - timedelta(hours=2)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
TARGETS = ["https://shop.example/sale?utm_source=winback", "https://shop.example/new", "https://shop.example/help"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(engine: sa.Engine, store_url: str, tmp_path: Path, clock: Clock) -> FastAPI:
    settings = Settings(home=tmp_path, database_url=store_url, public_url=PUBLIC, secret_keys="k1:" + "s" * 32)
    with engine.begin() as conn:
        conn.execute(message_links.insert(), [
            {"enrolment_id": 7, "step": "day-1", "link_key": link_key(url), "url": url, "customer_id": "C-1",
             "programme_id": "p", "created_at": SENT} for url in TARGETS])
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=PUBLIC, headers={"user-agent": BROWSER}) as c:
        yield c


def path(url: str) -> str:
    assert url.startswith(PUBLIC)
    return url.removeprefix(PUBLIC)


def links(app: FastAPI) -> LinkBuilder:
    return app.state.links


def rows(app: FastAPI, table: sa.Table) -> list[dict[str, Any]]:
    app.state.recorder.flush()
    with app.state.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def click_url(app: FastAPI, target: str, *, sent_at: datetime = SENT, customer: str = "C-1") -> str:
    return links(app).click_url(customer_id=customer, enrolment_id=7, step="day-1", link_key=link_key(target),
                                sent_at=sent_at)


def open_url(app: FastAPI, *, sent_at: datetime = SENT) -> str:
    return links(app).open_url(customer_id="C-1", enrolment_id=7, step="day-1", sent_at=sent_at)


def test_open_pixel_is_recorded(app: FastAPI, client: TestClient) -> None:
    response = client.get(path(open_url(app)))
    assert response.status_code == 200
    assert response.content == GIF and response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store"
    [row] = rows(app, engagements)
    assert (row["customer_id"], row["enrolment_id"], row["step"], row["kind"]) == ("C-1", 7, "day-1", "open")
    assert row["at"] == NOW and row["machine"] is False and row["reason"] is None
    assert row["detail"] == {"ip": None, "ua": BROWSER}  # the test client's "testclient" is no address
    assert rows(app, tracking_rejects) == []


def test_machine_opens_are_flagged_and_still_get_the_gif(app: FastAPI, client: TestClient, clock: Clock) -> None:
    assert client.get(path(open_url(app)), headers={"user-agent": "Mozilla/5.0"}).content == GIF
    google = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    assert client.get(path(open_url(app)), headers={"user-agent": google}).content == GIF
    assert client.get(path(open_url(app, sent_at=NOW - timedelta(seconds=4)))).content == GIF
    head = client.head(path(open_url(app)))
    assert head.status_code == 200 and head.headers["content-type"] == "image/gif"
    assert [(r["machine"], r["reason"]) for r in rows(app, engagements)] == [
        (True, "apple_mpp"), (True, "google_image_proxy"), (True, "prefetch_after_send"), (True, "head_request")]


def test_click_redirects_only_to_the_recorded_url(app: FastAPI, client: TestClient) -> None:
    response = client.get(path(click_url(app, TARGETS[0])), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == TARGETS[0]
    assert response.headers["cache-control"] == "no-store"
    [row] = rows(app, engagements)
    assert (row["kind"], row["customer_id"], row["enrolment_id"], row["machine"]) == ("click", "C-1", 7, False)
    assert row["detail"]["k"] == link_key(TARGETS[0]) and row["detail"]["method"] == "GET"
    # a query string cannot steer the redirect
    steered = client.get(path(click_url(app, TARGETS[1])) + "?url=https://evil.example", follow_redirects=False)
    assert steered.headers["location"] == TARGETS[1]


def test_head_click_is_flagged_and_has_no_other_effect(app: FastAPI, client: TestClient) -> None:
    response = client.head(path(click_url(app, TARGETS[0])), follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == TARGETS[0]
    assert response.content == b""
    [row] = rows(app, engagements)
    assert (row["kind"], row["machine"], row["reason"]) == ("click", True, "head_request")
    assert rows(app, tracking_rejects) == []
    with app.state.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(message_links)) == len(TARGETS)


def test_scanner_and_too_early_clicks_are_flagged(app: FastAPI, client: TestClient) -> None:
    client.get(path(click_url(app, TARGETS[0])), headers={"user-agent": "Mimecast-URL-Protect"},
               follow_redirects=False)
    client.get(path(click_url(app, TARGETS[0], sent_at=NOW - timedelta(seconds=1))), follow_redirects=False)
    assert [(r["machine"], r["reason"]) for r in rows(app, engagements)] == [
        (True, "scanner_agent"), (True, "click_before_open")]


def test_every_link_within_seconds_flags_the_whole_burst(app: FastAPI, client: TestClient, clock: Clock) -> None:
    for i, target in enumerate(TARGETS[:2]):
        clock.now = NOW + timedelta(seconds=i)
        assert client.get(path(click_url(app, target)), follow_redirects=False).status_code == 302
    assert [r["machine"] for r in rows(app, engagements)] == [False, False]  # two of three links: a person may
    clock.now = NOW + timedelta(seconds=2)
    client.get(path(click_url(app, TARGETS[2])), follow_redirects=False)
    assert [(r["machine"], r["reason"]) for r in rows(app, engagements)] == [
        (True, "all_links_within_seconds")] * 3
    # a click on the same message much later is a person again
    clock.now = NOW + timedelta(minutes=10)
    client.get(path(click_url(app, TARGETS[0])), follow_redirects=False)
    assert rows(app, engagements)[-1]["machine"] is False


def test_unknown_link_key_is_the_generic_404(app: FastAPI, client: TestClient) -> None:
    response = client.get(path(click_url(app, "https://evil.example/phish")), follow_redirects=False)
    assert response.status_code == 404 and response.text == INVALID_LINK_BODY
    assert "location" not in response.headers
    assert rows(app, engagements) == []
    assert [(r["route"], r["reason"]) for r in rows(app, tracking_rejects)] == [("click", "unknown_link")]


def test_a_valid_token_for_a_message_without_that_link_is_refused(app: FastAPI, client: TestClient) -> None:
    # the link key exists, but under another message: lookups are by (enrolment, step, link key) together
    other = links(app).click_url(customer_id="C-2", enrolment_id=999, step="day-1", link_key=link_key(TARGETS[0]),
                                 sent_at=SENT)
    assert client.get(path(other), follow_redirects=False).status_code == 404
    assert rows(app, engagements) == []


@pytest.mark.parametrize("where", ["/c/{bad}", "/o/{bad}.gif", "/u/{bad}", "/p/{bad}", "/v/{bad}", "/s/{bad}",
                                   "/o/{good_click}.gif", "/c/{good_open}", "/o/", "/nothing/here"])
def test_every_bad_link_gets_one_answer_and_a_reject_row(app: FastAPI, client: TestClient, where: str) -> None:
    good_click = path(click_url(app, TARGETS[0])).rsplit("/", 1)[1]
    good_open = path(open_url(app)).rsplit("/", 1)[1].removesuffix(".gif")
    other_env = TokenSigner({"k1": b"s" * 32}, "k1", environment_id("https://staging.example.com"))
    bad = other_env.sign("click", {"c": "C-1", "e": 7, "s": "day-1", "k": link_key(TARGETS[0])})
    method = "POST" if where == "/o/{good_click}.gif" else "GET"  # a wrong method is refused the same way
    response = client.request(method, where.format(bad=bad, good_click=good_click, good_open=good_open),
                              follow_redirects=False)
    assert response.status_code == 404
    assert response.text == INVALID_LINK_BODY
    assert response.headers["content-security-policy"] == CSP
    assert rows(app, engagements) == []
    [reject] = rows(app, tracking_rejects)
    assert reject["at"] == NOW and reject["reason"] in ("bad_token", "no_route", "bad_method")
    assert reject["route"] == {"c": "click", "o": "open", "u": "unsubscribe", "p": "preferences", "v": "view",
                               "s": "survey"}.get(where[1], "other")


def test_security_headers_on_every_response(app: FastAPI, client: TestClient) -> None:
    for response in (client.get(path(open_url(app))), client.get(path(click_url(app, TARGETS[0])),
                                                                  follow_redirects=False),
                     client.get("/c/nope"), client.get("/api/v1/nothing")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    html = client.get("/c/nope")
    assert html.headers["content-security-policy"] == CSP and html.headers["cache-control"] == "no-store"
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and "content-security-policy" not in api.headers  # JSON, not HTML
    assert api.headers["content-type"].startswith("application/json")


def test_rotation_keeps_old_links_working(engine: sa.Engine, store_url: str, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(message_links.insert(), {"enrolment_id": 1, "step": "s", "link_key": link_key(TARGETS[0]),
                                              "url": TARGETS[0], "customer_id": "C-1", "programme_id": "p",
                                              "created_at": SENT})
    old = create_app(Settings(home=tmp_path, database_url=store_url, public_url=PUBLIC,
                              secret_keys="old:" + "o" * 32), engine=engine)
    url = old.state.links.click_url(customer_id="C-1", enrolment_id=1, step="s", link_key=link_key(TARGETS[0]),
                                    sent_at=SENT)
    for keys, status in (("new:" + "n" * 32 + ",old:" + "o" * 32, 302), ("new:" + "n" * 32, 404)):
        app = create_app(Settings(home=tmp_path, database_url=store_url, public_url=PUBLIC, secret_keys=keys),
                         engine=engine)
        with TestClient(app, base_url=PUBLIC, headers={"user-agent": BROWSER}) as c:
            assert c.get(path(url), follow_redirects=False).status_code == status


def test_nothing_is_lost_at_shutdown(app: FastAPI) -> None:
    with TestClient(app, base_url=PUBLIC, headers={"user-agent": BROWSER}) as c:
        for _ in range(25):
            c.get(path(open_url(app)))
        c.get("/o/bad.gif")
    # the lifespan's shutdown wrote everything: read without flushing
    with app.state.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(engagements)) == 25
        assert conn.scalar(sa.select(sa.func.count()).select_from(tracking_rejects)) == 1


def test_the_app_serves_the_pages_and_the_api(app: FastAPI) -> None:
    paths: set[str] = set()
    for route in app.routes:  # FastAPI keeps an included router as one entry holding the original router
        included = getattr(route, "original_router", None)
        paths |= {r.path for r in included.routes} if included is not None else {getattr(route, "path", "")}
    assert {"/o/{token}.gif", "/c/{token}", "/u/{token}", "/p/{token}", "/v/{token}", "/s/{token}"} <= paths
    assert any(p.startswith("/api/v1/") for p in paths)
    state = app.state
    assert state.settings.public_url == PUBLIC and state.links.base == PUBLIC
    assert state.clock() == NOW and state.recorder.engine is state.engine


def test_even_a_server_error_carries_the_security_headers(app: FastAPI) -> None:
    async def boom(request: Any) -> None:
        raise RuntimeError("a bug")

    app.add_route("/c/boom/{x}", boom)
    with TestClient(app, base_url=PUBLIC, raise_server_exceptions=False) as c:
        response = c.get("/c/boom/1")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
