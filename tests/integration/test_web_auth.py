"""Logging in to the admin app: cookies, expiry, logout, CSRF, API keys with roles, disabled users, rate limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from winback.api.keys import create_key, revoke_key
from winback.settings import Settings
from winback.store import tables as t
from winback.web import auth
from winback.web.app import CSP, create_admin_app

PASSWORD = "correct horse battery"

probe = APIRouter()


@probe.post("/api/v1/probe/campaigns")
async def campaigns_probe(p: Annotated[auth.Principal, Depends(auth.require("campaigns"))]) -> dict:
    return {"role": p.role, "kind": p.kind}


@probe.get("/api/v1/probe/admin")
async def admin_probe(p: Annotated[auth.Principal, Depends(auth.require("admin"))]) -> dict:
    return {"role": p.role}


@probe.get("/app/probe")
async def page_probe(p: Annotated[auth.Principal, Depends(auth.page_principal)]) -> dict:
    return {"name": p.name}


@probe.get("/app/probe/admin")
async def admin_page_probe(p: Annotated[auth.Principal, Depends(auth.require("admin", page=True))]) -> dict:
    return {"role": p.role}


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(now):
    return Clock(now)


@pytest.fixture
def app(engine, clock, tmp_path):
    app = create_admin_app(Settings(home=tmp_path), engine=engine, clock=clock)
    app.include_router(probe)
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def ann(engine, now):
    return auth.create_user(engine, email="Ann@Example.com", password=PASSWORD, role="marketer", name="Ann", now=now)


def use_token(client, token):
    client.cookies.clear()
    client.cookies.set("wb_session", token)


def login(client, email="ann@example.com", password=PASSWORD):
    return client.post("/api/v1/session", json={"email": email, "password": password})


def test_form_login_sets_a_safe_cookie_and_goes_to_next(client, ann, engine):
    page = client.get("/app/login?next=/app/customers")
    assert page.status_code == 200 and 'value="/app/customers"' in page.text
    assert page.headers["content-security-policy"] == CSP and page.headers["x-frame-options"] == "DENY"
    response = client.post("/app/login", data={"email": "ANN@example.com ", "password": PASSWORD,
                                               "next": "/app/customers"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/app/customers"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("wb_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http (a local run); see the https case below
    token = client.cookies["wb_session"]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(t.sessions.c.token_hash, t.sessions.c.expires_at)).all()
    assert len(stored) == 1 and stored[0].token_hash != token and token not in stored[0].token_hash
    assert client.get("/app/probe").json() == {"name": "Ann"}


def test_cookie_is_secure_over_https(app, ann):
    with TestClient(app, base_url="https://testserver") as client:
        response = login(client)
    assert response.status_code == 200 and "Secure" in response.headers["set-cookie"]


def test_bad_logins_are_refused_without_a_cookie(client, ann):
    form = client.post("/app/login", data={"email": "ann@example.com", "password": "wrong password!"},
                       follow_redirects=False)
    assert form.status_code == 401 and "Wrong email or password" in form.text and "set-cookie" not in form.headers
    for email, password in [("ann@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)]:
        response = login(client, email, password)
        assert response.status_code == 401 and "set-cookie" not in response.headers
    assert client.get("/api/v1/session").status_code == 401


def test_login_page_speaks_chinese_and_english(client, ann):
    zh = client.get("/app/login?lang=zh")
    assert "登录" in zh.text and 'lang="zh-CN"' in zh.text and zh.cookies.get("wb_lang") == "zh"
    assert "登录" in client.get("/app/login").text  # the choice is remembered
    en = client.get("/app/login?lang=en")
    assert "Log in" in en.text and "登录" not in en.text
    wrong = client.post("/app/login?lang=zh", data={"email": "ann@example.com", "password": "wrong password!"})
    assert "邮箱或密码错误" in wrong.text


def test_login_from_another_site_is_refused(client, ann):
    response = client.post("/app/login", data={"email": "ann@example.com", "password": PASSWORD},
                           headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert response.status_code == 403 and "wb_session" not in client.cookies


def test_json_session_gives_the_csrf_token_and_user(client, ann):
    body = login(client).json()
    assert body["user"] == {"user_id": ann, "email": "ann@example.com", "name": "Ann", "role": "marketer",
                            "language": None}
    me = client.get("/api/v1/session").json()
    assert me["csrf_token"] == body["csrf_token"] and me["capabilities"] == ["read", "tasks", "campaigns"]


def test_sessions_end_after_12_idle_hours(client, ann, clock):
    login(client)
    clock.now += timedelta(hours=11, minutes=59)
    assert client.get("/api/v1/session").status_code == 200  # this request counts as activity
    clock.now += timedelta(hours=11, minutes=59)
    assert client.get("/api/v1/session").status_code == 200
    clock.now += timedelta(hours=12)
    response = client.get("/api/v1/session")
    assert response.status_code == 401 and "ended" in response.json()["detail"]


def test_sessions_end_7_days_after_login_however_busy(client, ann, clock):
    login(client)
    start = clock.now
    while clock.now < start + timedelta(days=7) - timedelta(hours=6):
        clock.now += timedelta(hours=6)
        assert client.get("/api/v1/session").status_code == 200
    clock.now = start + timedelta(days=7)
    assert client.get("/api/v1/session").status_code == 401


def test_logout_ends_the_session_for_good(client, ann, engine):
    csrf = login(client).json()["csrf_token"]
    token = client.cookies["wb_session"]
    response = client.post("/app/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/app/login"
    use_token(client, token)  # a copy kept by someone else is worth nothing now
    assert client.get("/api/v1/session").status_code == 401
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.sessions)).scalar_one() == 0


def test_json_logout(client, ann):
    csrf = login(client).json()["csrf_token"]
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/session").status_code == 401


def test_login_rotates_the_session(client, ann):
    login(client)
    first = client.cookies["wb_session"]
    login(client)
    second = client.cookies["wb_session"]
    assert first != second
    use_token(client, first)
    assert client.get("/api/v1/session").status_code == 401


def test_csrf_is_needed_for_changes_with_a_cookie(client, ann):
    csrf = login(client).json()["csrf_token"]
    missing = client.post("/api/v1/probe/campaigns")
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    assert client.post("/api/v1/probe/campaigns", headers={"X-CSRF-Token": csrf[:-1] + "x"}).status_code == 403
    assert client.post("/api/v1/probe/campaigns", data={"csrf_token": "nope"}).status_code == 403
    assert client.post("/api/v1/probe/campaigns", headers={"X-CSRF-Token": csrf}).json() == \
        {"role": "marketer", "kind": "user"}
    assert client.post("/api/v1/probe/campaigns", data={"csrf_token": csrf}).status_code == 200
    assert client.get("/api/v1/probe/admin").status_code == 403  # GET needs no token; the role is too low


def test_an_api_key_acts_with_its_role(client, engine, now):
    key = create_key(engine, name="crm", scopes=["role:marketer"], now=now)
    headers = {"Authorization": f"Bearer {key}"}
    me = client.get("/api/v1/session", headers=headers).json()
    assert (me["kind"], me["name"], me["role"], me["csrf_token"]) == ("api_key", "crm", "marketer", None)
    assert client.post("/api/v1/probe/campaigns", headers=headers).json() == {"role": "marketer", "kind": "api_key"}
    assert client.get("/api/v1/probe/admin", headers=headers).status_code == 403
    viewer = create_key(engine, name="wallboard", scopes=["role:viewer"], now=now)
    assert client.post("/api/v1/probe/campaigns", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403


def test_keys_without_a_role_or_alive_are_refused(client, engine, now):
    for scopes in (["orders:write"], None):
        key = create_key(engine, name="shop", scopes=scopes, now=now)
        response = client.get("/api/v1/session", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403 and "has no role" in response.json()["detail"]
    key = create_key(engine, name="old", scopes=["role:admin"], now=now)
    revoke_key(engine, key, now=now)
    for value in (f"Bearer {key}", "Bearer wbk_nonsense", "Basic YTpi"):
        assert client.get("/api/v1/session", headers={"Authorization": value}).status_code == 401


def test_a_disabled_user_cannot_log_in_and_loses_their_sessions(client, app, ann, engine, now):
    login(client)
    with TestClient(app) as other:
        login(other)
        auth.disable_user(engine, "ann@example.com", now=now)
        assert other.get("/api/v1/session").status_code == 401
    assert client.get("/api/v1/session").status_code == 401
    assert login(client).status_code == 401


def test_a_new_role_applies_from_the_next_request(client, ann, engine):
    login(client)
    assert client.get("/api/v1/probe/admin").status_code == 403
    auth.set_role(engine, "ann@example.com", "admin")
    assert client.get("/api/v1/probe/admin").json() == {"role": "admin"}


def test_pages_redirect_to_login_without_a_session(client):
    response = client.get("/app/probe?x=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/app/login?next=/app/probe%3Fx%3D1"


def test_pages_that_need_a_capability(client, ann, engine):
    assert client.get("/app/probe/admin", follow_redirects=False).status_code == 303
    login(client)
    assert client.get("/app/probe/admin").status_code == 403
    auth.set_role(engine, "ann@example.com", "admin")
    assert client.get("/app/probe/admin").json() == {"role": "admin"}


def test_an_account_is_locked_after_five_failures(client, ann, clock):
    for _ in range(5):
        assert login(client, password="wrong password!").status_code == 401
    locked = login(client)  # even the right password: guessing must gain nothing
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) == 60
    form = client.post("/app/login", data={"email": "ann@example.com", "password": PASSWORD})
    assert form.status_code == 429 and "Too many attempts" in form.text
    clock.now += timedelta(seconds=61)
    assert login(client).status_code == 200


def test_one_address_gets_ten_attempts_a_minute(client, ann, clock):
    for n in range(10):
        assert login(client, email=f"guess{n}@example.com").status_code == 401
    assert login(client).status_code == 429
    clock.now += timedelta(seconds=61)
    assert login(client).status_code == 200


def test_login_renews_an_outdated_password_hash(client, ann, engine):
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(t.users.update().values(password_hash=cheap))
    assert login(client).status_code == 200
    with engine.connect() as conn:
        renewed = conn.execute(sa.select(t.users.c.password_hash, t.users.c.last_login_at)).one()
    assert renewed.password_hash != cheap and "m=65536,t=3,p=4" in renewed.password_hash
    assert renewed.last_login_at is not None


def test_users_are_unique_by_email(engine, ann, now):
    with pytest.raises(auth.UserError, match="already exists"):
        auth.create_user(engine, email="ANN@example.com", password=PASSWORD, role="viewer", now=now)
    assert [u.email for u in auth.list_users(engine)] == ["ann@example.com"]
