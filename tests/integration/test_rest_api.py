"""The REST API of the admin app against real stores: each resource, pagination, filters and role checks — on
SQLite and PostgreSQL. The caller's role is set by overriding `current_principal`, so `require(...)` still decides."""

from __future__ import annotations

import csv
import io
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from winback.api.routes import ROUTERS
from winback.jobs import programmes as jobs
from winback.jobs.workspace import Workspace
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t
from winback.web.auth import Principal, current_principal

START = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
ADDRESS = "Example Shop, 1 Example Street, 10115 Berlin"
AUDIENCE = ", ".join(f"'c{i}'" for i in range(1, 13))
PROGRAMME = textwrap.dedent(f"""\
    programme: rest
    audience: "customer_id in [{AUDIENCE}]"
    holdout: 0.25
    steps:
      - id: hello
        send:
          template: winback/reminder
          subject: Hello
          incentive: {{kind: percent, value: 10, expires: 10d}}
      - task: {{title: Call them, assignee: am-team, due: 2d}}
""")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def principal(role: str) -> Principal:
    return Principal(kind="user", id="1", name=f"{role}@example.com", role=role, language=None, csrf_token=None)


class World:
    """A store with 20 customers (c0…c19), 10 of them scored, an app on it, and the caller's role."""

    def __init__(self, engine: sa.Engine, store_url: str, tmp_path) -> None:
        self.engine, self.clock = engine, Clock(START)
        self.ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address=ADDRESS), clock=self.clock)
        self.ws.__dict__["engine"] = engine
        app = FastAPI()
        for router in ROUTERS:
            app.include_router(router)
        app.state.settings, app.state.engine, app.state.clock = self.ws.settings, engine, self.clock
        self.role = "admin"
        app.dependency_overrides[current_principal] = lambda: principal(self.role)
        self.client = TestClient(app)

    def as_(self, role: str) -> TestClient:
        self.role = role
        return self.client

    def seed(self) -> None:
        stages = ["at_risk", "active", "dormant", "at_risk", "churned"]
        with self.engine.begin() as conn:
            conn.execute(t.customers.insert(), [
                {"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
                 "name": f"Customer {i}" if i != 7 else "Zoë 100%_off", "locale": "en", "time_zone": "UTC",
                 "row_hash": "x", "updated_at": START} for i in range(20)])
            conn.execute(t.profiles.insert(), [
                {"customer_id": f"c{i}", "run_id": "r1", "as_of": START, "stage": stages[i % 5],
                 "value_at_risk": float(100 * i), "p_churn": i / 10, "clv": 50.0 * i,
                 "churn_reason": "price" if i % 2 else "service", "dormancy_type": "natural_cycle",
                 "signals": [{"code": "overdue", "text": f"ordered every 30 days, silent {i} days"}],
                 "explanation": {"signals": [f"ordered every 30 days, silent {i} days"]}} for i in range(10)])
            conn.execute(t.orders.insert(), [
                {"order_id": f"o{i}", "customer_id": "c1", "ordered_at": START - timedelta(days=40 - i),
                 "amount": 20 + i, "currency": "EUR", "status": "completed", "row_hash": "x", "updated_at": START}
                for i in range(3)])
            conn.execute(t.events.insert(), [{"event_id": "e1", "customer_id": "c1", "type": "page_view",
                                              "occurred_at": START - timedelta(days=1), "row_hash": "x",
                                              "updated_at": START}])
            conn.execute(t.feedback.insert(), [{"feedback_id": "f1", "customer_id": "c1", "kind": "nps", "rating": 3,
                                                "text": "too expensive", "opened_at": START - timedelta(days=2),
                                                "row_hash": "x", "updated_at": START}])

    def start_and_run(self) -> dict:
        started = self.as_("marketer").post("/api/v1/programmes", json={"yaml": PROGRAMME})
        assert started.status_code == 201, started.text
        jobs.run(self.ws, until_idle=True, simulate=True, transport=MemoryTransport(), seed=1)
        return started.json()


@pytest.fixture
def world(engine, store_url, tmp_path):
    w = World(engine, store_url, tmp_path)
    w.seed()
    yield w
    w.client.close()


@pytest.fixture
def ran(world):
    world.started = world.start_and_run()
    return world


# --- customers -------------------------------------------------------------------------------------------------------

def test_customers_are_sorted_by_value_at_risk_filtered_and_paginated(world):
    client = world.as_("viewer")
    first = client.get("/api/v1/customers", params={"limit": 4}).json()
    assert [c["customer_id"] for c in first["items"]] == ["c9", "c8", "c7", "c6"] and first["next"] == 4
    second = client.get("/api/v1/customers", params={"limit": 4, "offset": first["next"]}).json()
    assert [c["customer_id"] for c in second["items"]] == ["c5", "c4", "c3", "c2"]
    everyone = client.get("/api/v1/customers", params={"limit": 500}).json()
    assert len(everyone["items"]) == 20 and everyone["next"] is None
    assert everyone["items"][-1]["value_at_risk"] is None  # the unscored come last
    at_risk = client.get("/api/v1/customers", params={"stage": "at_risk", "limit": 500}).json()
    assert sorted(c["customer_id"] for c in at_risk["items"]) == ["c0", "c3", "c5", "c8"]
    by_churn = client.get("/api/v1/customers", params={"sort": "p_churn", "churn_reason": "service"}).json()
    assert [c["customer_id"] for c in by_churn["items"]] == ["c8", "c6", "c4", "c2", "c0"]
    segment = client.get("/api/v1/customers", params={"segment": "clv > 300 and stage != 'dormant'"}).json()
    assert [c["customer_id"] for c in segment["items"]] == ["c9", "c8"]  # c7 is dormant


def test_customer_search_matches_id_email_and_name_prefixes_literally(world):
    client = world.as_("viewer")

    def ids(q: str) -> list[str]:
        return sorted(c["customer_id"] for c in client.get("/api/v1/customers", params={"q": q}).json()["items"])

    assert ids("c1") == ["c1", *(f"c1{i}" for i in range(10))]
    assert ids("C15@EXAMPLE") == ["c15"]
    assert ids("zoë 100%_") == ["c7"]
    assert ids("customer 1_") == []  # _ and % are letters here, not wildcards
    assert ids("%") == []


def test_bad_customer_filters_are_422_with_a_message(world):
    client = world.as_("viewer")
    bad = client.get("/api/v1/customers", params={"segment": "stage == 'at_risk' and clv >"})
    assert bad.status_code == 422 and bad.json()["column"] is not None and "segment" in bad.json()["detail"]
    assert client.get("/api/v1/customers", params={"stage": "sleepy"}).status_code == 422
    assert client.get("/api/v1/customers", params={"limit": 501}).status_code == 422
    assert client.get("/api/v1/customers", params={"offset": -1}).status_code == 422


def test_a_customer_profile_has_scores_signals_and_why(world):
    client = world.as_("viewer")
    body = client.get("/api/v1/customers/c3").json()
    assert body["customer"]["email"] == "c3@example.com"
    assert body["profile"]["stage"] == "at_risk" and body["profile"]["value_at_risk"] == 300.0
    assert body["why"]["signals"][0]["text"] == "ordered every 30 days, silent 3 days"
    assert body["why"]["churn_reason"] == "price" and body["why"]["dormancy_type"] == "natural_cycle"
    missing = client.get("/api/v1/customers/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_the_timeline_merges_history_newest_first_in_pages(ran):
    client = ran.as_("viewer")
    everything = client.get("/api/v1/customers/c1/timeline", params={"limit": 500}).json()["items"]
    kinds = {e["kind"] for e in everything}
    assert {"order", "event", "feedback"} <= kinds
    times = [e["at"] for e in everything]
    assert times == sorted(times, reverse=True)
    pages, offset = [], 0
    while offset is not None:
        body = client.get("/api/v1/customers/c1/timeline", params={"limit": 2, "offset": offset}).json()
        pages.extend(body["items"])
        offset = body["next"]
    assert pages == everything
    orders = client.get("/api/v1/customers/c1/timeline", params={"kind": "order"}).json()["items"]
    assert [e["id"] for e in orders] == ["o2", "o1", "o0"]
    assert client.get("/api/v1/customers/c1/timeline", params={"kind": "gossip"}).status_code == 422
    assert client.get("/api/v1/customers/nobody/timeline").status_code == 404


# --- segments --------------------------------------------------------------------------------------------------------

def test_segment_count_and_fields(world):
    client = world.as_("viewer")
    counted = client.post("/api/v1/segments/count", json={"expression": "stage == 'at_risk'"})
    assert counted.status_code == 200 and counted.json()["count"] == 4
    bad = client.post("/api/v1/segments/count", json={"expression": "stage = = 'x'"})
    assert bad.status_code == 422 and isinstance(bad.json()["column"], int) and bad.json()["reason"]
    assert client.post("/api/v1/segments/count", json={}).status_code == 422
    fields = client.get("/api/v1/segments/fields").json()
    assert "stage" in {f["name"] for f in fields["fields"]} and fields["functions"]


# --- programmes ------------------------------------------------------------------------------------------------------

def test_validate_and_plan_a_programme_from_yaml_or_a_playbook(world):
    client = world.as_("marketer")
    valid = client.post("/api/v1/programmes/validate", json={"yaml": PROGRAMME})
    assert valid.status_code == 200 and valid.json()["steps"][0] == "hello"
    playbook = client.post("/api/v1/programmes/validate", json={"playbook": "four-email-winback"})
    assert playbook.status_code == 200 and playbook.json()["valid"] is True
    broken = client.post("/api/v1/programmes/validate", json={"yaml": PROGRAMME.replace("holdout: 0.25",
                                                                                          "holdout: lots")})
    assert broken.status_code == 422 and broken.json()["detail"].startswith("programme.yaml:3:")
    assert client.post("/api/v1/programmes/validate", json={"playbook": "nope"}).status_code == 422
    assert client.post("/api/v1/programmes/validate", json={}).status_code == 422
    assert client.post("/api/v1/programmes/validate", json={"yaml": "x", "playbook": "y"}).status_code == 422
    assert client.post("/api/v1/programmes/validate", json={"yaml": "/etc/passwd"}).status_code == 422
    deep = client.post("/api/v1/programmes/validate", json={"yaml": "[" * 5_000 + "]" * 5_000})
    assert deep.status_code == 422 and "nested" in deep.json()["detail"]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
    expanded = client.post("/api/v1/programmes/validate", json={"yaml": bomb})
    assert expanded.status_code == 422 and "aliases" in expanded.json()["detail"]
    plan = client.post("/api/v1/programmes/plan", json={"yaml": PROGRAMME})
    assert plan.status_code == 200 and plan.json()["programme"] == "rest"
    assert client.get("/api/v1/programmes").json()["items"] == []  # a plan writes nothing


def test_start_status_pause_resume_stop_and_conflicts(ran):
    assert ran.started["enrolled"] + ran.started["holdout"] == 12 and ran.started["version"] == 1
    client = ran.as_("viewer")
    listed = client.get("/api/v1/programmes").json()
    assert [p["programme"] for p in listed["items"]] == ["rest"] and listed["next"] is None
    one = client.get("/api/v1/programmes/rest").json()
    assert one["state"] == "running" and one["steps"]["hello"]["states"]["sent"] == ran.started["enrolled"]
    assert one["source"] == PROGRAMME
    assert client.get("/api/v1/programmes/nope").status_code == 404
    client = ran.as_("marketer")
    again = client.post("/api/v1/programmes", json={"yaml": PROGRAMME})
    assert again.status_code == 201 and again.json()["new_version"] is False
    assert client.post("/api/v1/programmes/rest/resume").status_code == 409
    paused = client.post("/api/v1/programmes/rest/pause")
    assert paused.json() == {"programme": "rest", "state": "paused", "previous": "running", "ended": None}
    assert client.get("/api/v1/programmes", params={"state": "paused"}).json()["items"][0]["programme"] == "rest"
    assert client.post("/api/v1/programmes/rest/resume").json()["state"] == "running"
    assert client.post("/api/v1/programmes/rest/stop").json()["state"] == "stopped"
    restarted = client.post("/api/v1/programmes", json={"yaml": PROGRAMME})
    assert restarted.status_code == 409 and "stopped" in restarted.json()["detail"]
    assert client.post("/api/v1/programmes/nope/pause").status_code == 404


def test_playbooks_are_listed_and_shown_as_yaml(world):
    client = world.as_("viewer")
    names = [p["name"] for p in client.get("/api/v1/playbooks").json()["items"]]
    assert "four-email-winback" in names
    shown = client.get("/api/v1/playbooks/four-email-winback")
    assert shown.headers["content-type"].startswith("application/yaml") and "programme:" in shown.text
    assert client.get("/api/v1/playbooks/..%2F..%2Fsettings").status_code == 404


# --- enrolments and reports ------------------------------------------------------------------------------------------

def test_enrolments_filter_and_show_their_ledger(ran):
    client = ran.as_("viewer")
    everyone = client.get("/api/v1/programmes/rest/enrolments", params={"limit": 500}).json()["items"]
    assert len(everyone) == 12
    held = client.get("/api/v1/programmes/rest/enrolments", params={"holdout": "true", "limit": 500}).json()
    assert len(held["items"]) == ran.started["holdout"] and all(e["state"] == "holdout" for e in held["items"])
    completed = client.get("/api/v1/programmes/rest/enrolments",
                           params={"state": "completed", "outcome": "completed", "limit": 3}).json()
    assert len(completed["items"]) == 3 and completed["next"] == 3
    treated = completed["items"][0]
    one = client.get(f"/api/v1/enrolments/{treated['enrolment_id']}").json()
    assert [r["step"] for r in one["ledger"]] == ["hello", "task-2"] and one["ledger"][0]["state"] == "sent"
    assert client.get("/api/v1/enrolments/999999").status_code == 404
    assert client.get("/api/v1/programmes/nope/enrolments").status_code == 404
    assert client.get("/api/v1/programmes/rest/enrolments", params={"state": "asleep"}).status_code == 422


def test_reports_as_json_and_html(ran):
    client = ran.as_("viewer")
    report = client.get("/api/v1/programmes/rest/report")
    assert report.status_code == 200
    body = report.json()
    assert body["state"] == "running" and {"funnel", "lift"} <= set(body)
    assert body["funnel"][0]["sent"] == ran.started["enrolled"]
    html = client.get("/api/v1/programmes/rest/report.html")
    assert html.status_code == 200 and html.text.lstrip().lower().startswith("<!doctype html")
    assert "style-src 'unsafe-inline'" in html.headers["content-security-policy"]
    assert client.get("/api/v1/programmes/rest/report", params={"as_of": "yesterday"}).status_code == 422
    for extreme in ("0001-01-01T00:00:00", "9999-12-31T23:59:59-05:00"):
        assert client.get("/api/v1/programmes/rest/report", params={"as_of": extreme}).status_code == 422
    later = client.get("/api/v1/programmes/rest/report", params={"as_of": "2026-11-01T00:00:00+01:00"}).json()
    assert later["as_of"] == "2026-10-31T23:00:00+00:00"
    assert client.get("/api/v1/programmes/nope/report").status_code == 404


# --- suppressions ----------------------------------------------------------------------------------------------------

def test_suppressions_add_list_and_remove_with_a_reason(world):
    client = world.as_("marketer")
    added = client.post("/api/v1/suppressions", json={"address": " C1@Example.com", "source": "phoned in"})
    assert added.status_code == 201 and added.json()["basis"] == "manual"
    assert client.post("/api/v1/suppressions", json={"address": "c1@example.com"}).status_code == 409
    bad = client.post("/api/v1/suppressions", json={"address": "not an address"})
    assert bad.status_code == 422 and "not a valid email address" in bad.json()["detail"]
    assert client.post("/api/v1/suppressions", json={"channel": "sms", "address": "+49 30 1234567"}).status_code == 201
    listed = client.get("/api/v1/suppressions", params={"channel": "email"}).json()
    assert [s["address"] for s in listed["items"]] == ["C1@example.com"]
    assert client.get("/api/v1/suppressions", params={"q": "c1@"}).json()["items"][0]["source"] == "phoned in"
    world.clock.now += timedelta(minutes=1)
    assert client.delete("/api/v1/suppressions/email/c1@example.com", params={"reason": "asked back"}) \
        .status_code == 403  # marketers may not lift a suppression
    admin = world.as_("admin")
    assert admin.delete("/api/v1/suppressions/email/c1@example.com").status_code == 422  # no reason
    removed = admin.delete("/api/v1/suppressions/email/c1@example.com", params={"reason": "asked to hear again"})
    assert removed.status_code == 200 and removed.json()["removed"]["basis"] == "manual"
    assert admin.delete("/api/v1/suppressions/email/c1@example.com", params={"reason": "again"}).status_code == 404
    with world.engine.connect() as conn:
        alert = conn.execute(sa.select(t.alerts.c.kind, t.alerts.c.detail)).one()
    assert alert.kind == "suppression_removed" and alert.detail["reason"] == "asked to hear again"
    assert [s["channel"] for s in admin.get("/api/v1/suppressions").json()["items"]] == ["sms"]


# --- coupons ---------------------------------------------------------------------------------------------------------

def test_coupons_list_counts_and_export(ran):
    issued = ran.started["enrolled"]
    with ran.engine.begin() as conn:  # a code a spreadsheet would run as a formula
        conn.execute(t.coupons.insert().values(code="=HYPERLINK(1)", programme_id="rest", kind="amount", value=5,
                                               state="void", created_at=START))
    marketer = ran.as_("marketer")
    body = marketer.get("/api/v1/coupons", params={"programme": "rest", "state": "issued", "limit": 500}).json()
    assert len(body["items"]) == issued and body["counts"] == [{"programme": "rest", "state": "issued",
                                                               "count": issued}]
    code = body["items"][0]["code"]
    viewer = ran.as_("viewer")
    masked = viewer.get("/api/v1/coupons", params={"state": "issued"}).json()["items"][0]["code"]
    assert masked == code[:2] + "…"
    assert viewer.get("/api/v1/coupons/export.csv").status_code == 403
    exported = ran.as_("marketer").get("/api/v1/coupons/export.csv", params={"programme": "rest"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == issued + 1 and {"'=HYPERLINK(1)", code} <= {r["code"] for r in rows}
    assert marketer.get("/api/v1/coupons", params={"state": "lost"}).status_code == 422


# --- tasks -----------------------------------------------------------------------------------------------------------

def test_tasks_list_assign_done_and_cancel(ran):
    n = ran.started["enrolled"]
    viewer = ran.as_("viewer")
    first = viewer.get("/api/v1/tasks", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next"] == 2
    everything = viewer.get("/api/v1/tasks", params={"limit": 500}).json()["items"]
    assert len(everything) == n and all(x["assignee"] == "am-team" for x in everything)
    task_id = everything[0]["task_id"]
    assert viewer.post(f"/api/v1/tasks/{task_id}/done", json={}).status_code == 403
    manager = ran.as_("account_manager")
    assigned = manager.post(f"/api/v1/tasks/{task_id}/assign", json={"assignee": " ann "})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "ann"
    assert manager.get("/api/v1/tasks", params={"assignee": "ann"}).json()["items"][0]["task_id"] == task_id
    assert manager.post(f"/api/v1/tasks/{task_id}/assign", json={"assignee": "  "}).status_code == 422
    done = manager.post(f"/api/v1/tasks/{task_id}/done", json={"note": "called, ordering next week"})
    assert done.status_code == 200 and done.json()["state"] == "done"
    shown = manager.get(f"/api/v1/tasks/{task_id}").json()
    assert shown["note"] is None and [h["action"] for h in shown["history"]] == ["assign", "done"]
    assert shown["history"][-1]["by"] == "account_manager@example.com"
    assert manager.post(f"/api/v1/tasks/{task_id}/cancel").status_code == 409
    other = everything[1]["task_id"]
    assert manager.post(f"/api/v1/tasks/{other}/cancel").json()["state"] == "cancelled"
    assert len(manager.get("/api/v1/tasks", params={"state": "all", "limit": 500}).json()["items"]) == n
    assert manager.get("/api/v1/tasks/999999").status_code == 404
    assert manager.get("/api/v1/tasks", params={"state": "later"}).status_code == 422


# --- roles -----------------------------------------------------------------------------------------------------------

def test_roles_decide_what_each_may_do(world):
    assert world.as_("viewer").post("/api/v1/programmes", json={"playbook": "four-email-winback"}).status_code == 403
    assert world.as_("account_manager").post("/api/v1/programmes/validate",
                                             json={"yaml": PROGRAMME}).status_code == 403
    assert world.as_("viewer").post("/api/v1/suppressions", json={"address": "a@example.com"}).status_code == 403
    assert world.as_("viewer").get("/api/v1/customers").status_code == 200
    assert world.as_("marketer").post("/api/v1/suppressions", json={"address": "a@example.com"}).status_code == 201
    assert world.as_("marketer").delete("/api/v1/suppressions/email/a@example.com",
                                        params={"reason": "by mistake"}).status_code == 403


# --- through the admin app, with real credentials ---------------------------------------------------------------

def test_the_admin_app_serves_the_routes_with_keys_and_sessions(ran):
    from winback.api.keys import create_key
    from winback.web.app import CSP, create_admin_app
    from winback.web.auth import COOKIE, create_user, start_session

    app = create_admin_app(ran.ws.settings, engine=ran.engine, clock=ran.clock)
    viewer = create_key(ran.engine, name="dashboard-reader", scopes=["role:viewer"], now=START)
    manager = create_key(ran.engine, name="crm", scopes=["role:account_manager"], now=START)
    user = create_user(ran.engine, email="mia@example.com", password="a long enough password", role="marketer",
                       now=START)
    cookie, csrf = start_session(ran.engine, user_id=user, now=START, ip=None, user_agent=None)
    with TestClient(app) as client:
        assert client.get("/api/v1/customers").status_code == 401
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        assert client.get("/api/v1/customers", headers=as_viewer).json()["items"][0]["customer_id"] == "c9"
        assert client.post("/api/v1/programmes", json={"yaml": PROGRAMME}, headers=as_viewer).status_code == 403
        task_id = client.get("/api/v1/tasks", headers=as_viewer).json()["items"][0]["task_id"]
        done = client.post(f"/api/v1/tasks/{task_id}/done", json={}, headers={"Authorization": f"Bearer {manager}"})
        assert done.status_code == 200 and done.json()["detail"]["history"][0]["by"] == "crm"
        client.cookies.set(COOKIE, cookie)
        assert client.post("/api/v1/programmes/rest/pause").status_code == 403  # no CSRF token
        paused = client.post("/api/v1/programmes/rest/pause", headers={"X-CSRF-Token": csrf})
        assert paused.status_code == 200 and paused.json()["state"] == "paused"
        assert client.delete("/api/v1/suppressions/email/c1@example.com", params={"reason": "asked"},
                             headers={"X-CSRF-Token": csrf}).status_code == 403  # a marketer
        page = client.get("/api/v1/programmes/rest/report.html")
        policies = page.headers.get_list("content-security-policy")
        assert page.status_code == 200 and len(policies) == 1 and "style-src 'unsafe-inline'" in policies[0]
        assert page.headers["x-frame-options"] == "DENY"
        assert client.get("/api/v1/customers").headers.get_list("content-security-policy") == [CSP]


def test_text_no_store_can_hold_is_refused_with_422(world):
    client = world.as_("admin")
    nul = "text in a request may not contain the NUL character"
    for response in (
        client.get("/api/v1/customers/a%00b"),
        client.get("/api/v1/customers", params={"q": "a\x00"}),
        client.get("/api/v1/tasks", params={"assignee": "\x00"}),
        client.post("/api/v1/suppressions", json={"address": "c1@example.com", "source": "a\x00"}),
        client.post("/api/v1/suppressions", content=b'{"address": "c1@example.com", "source": "\\ud800"}',
                    headers={"content-type": "application/json"}),
        client.post("/api/v1/segments/count", content=b'{"expression": "name == \'\\udfff\'"}',
                    headers={"content-type": "application/json"}),
    ):
        assert response.status_code == 422 and response.json()["detail"].startswith(nul)
    emoji = client.post("/api/v1/segments/count", headers={"content-type": "application/json"},
                        content=b'{"expression": "customer_id == \'\\ud83d\\ude00\'"}')
    assert emoji.status_code == 200 and emoji.json()["count"] == 0  # a surrogate pair is a character
    del world.client.app.dependency_overrides[current_principal]  # nobody: 401 comes before any other check
    assert client.get("/api/v1/customers/a%00b").status_code == 401
