"""The dashboard pages on both stores: what a marketer and an account manager see and can do, in English and
Chinese, with empty states, errors a person understands, CSRF and roles."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from winback.settings import Settings
from winback.store import tables as t
from winback.web import auth
from winback.web.app import create_admin_app
from winback.web.i18n import STRINGS

PASSWORD = "correct horse battery"
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "winback" / "web" / "templates"


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def app(engine, now, tmp_path):
    settings = Settings(home=tmp_path, transport="memory", postal_address="1 Example Street, Springfield",
                        shop_url="https://shop.example/")
    return create_admin_app(settings, engine=engine, clock=Clock(now))


def client_for(app, engine, now, *, role: str, email: str | None = None) -> TestClient:
    """A client with a live session of a new user in `role`; its CSRF token in `client.csrf`."""
    email = email or f"{role}@example.com"
    user_id = auth.create_user(engine, email=email, password=PASSWORD, role=role, name=role.title(), now=now)
    token, csrf = auth.start_session(engine, user_id=user_id, now=now, ip=None, user_agent=None)
    client = TestClient(app)
    client.cookies.set(auth.COOKIE, token)
    client.csrf = csrf
    return client


@pytest.fixture
def marketer(app, engine, now):
    with client_for(app, engine, now, role="marketer") as client:
        yield client


def text(response) -> str:
    """The visible text of a page, whitespace collapsed."""
    body = re.sub(r"<script[^>]*>.*?</script>", " ", response.text, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def seed(engine, now) -> None:
    """Three scored customers (two at risk), an order, an event, feedback, two score runs and an open task."""
    audit = {"row_hash": "x", "updated_at": now}
    earlier = now - timedelta(days=30)
    people = [("C1", "Ann Lee", "ann@example.com", "at_risk", 900.0), ("C2", "Bo <b>Chen</b>", "bo@example.com",
                                                                          "at_risk", 300.0),
              ("C3", "Cy Park", "cy@example.com", "active", 10.0)]
    signals = [{"code": "overdue", "strength": 0.5, "text": "2.0× overdue against own purchase cycle (40 days)"}]
    explanation = {"stage": "silent 80 days (at risk after 60)", "signals": [s["text"] for s in signals],
                   "dormancy": ["no email opens for 90 days"],
                   "churn_drivers": [{"feature": "days_since_last_activity", "text": "days since any activity",
                                      "value": 80.0, "contribution": 1.2}]}
    with engine.begin() as conn:
        for cid, name, email, *_ in [*people, ("C4", "Di Unscored", "di@example.com")]:  # C4: never scored
            conn.execute(t.customers.insert().values(customer_id=cid, name=name, email=email, email_key=email,
                                                     **audit))
        for run_id, as_of, stages in (("r1", earlier, {"active": 3}), ("r2", now, {"at_risk": 2, "active": 1})):
            conn.execute(t.score_runs.insert().values(
                run_id=run_id, as_of=as_of, started_at=as_of, finished_at=as_of, rules={"name": "retail"},
                summary={"customers": 3, "stages": stages, "value_at_risk": {"USD": 1210.0, "none": 0.0},
                         "reasons": {"price": 1, "none": 2}, "dormancy_types": {"content_fatigue": 1, "none": 2}}))
        for cid, _, _, stage, risk in people:
            at_risk = stage == "at_risk"
            conn.execute(t.profiles.insert().values(
                customer_id=cid, run_id="r2", as_of=now, stage=stage, value_at_risk=risk, clv=risk * 1.5,
                p_churn=0.8 if at_risk else 0.1, p_alive=0.4, churn_reason="price" if cid == "C1" else None,
                dormancy_type="content_fatigue" if cid == "C1" else None, days_since_last_order=80.0,
                signals=signals if at_risk else [], explanation=explanation if at_risk else {}))
        conn.execute(t.orders.insert().values(order_id="O1", customer_id="C1", ordered_at=now - timedelta(days=80),
                                              amount=120, currency="USD", status="completed", **audit))
        conn.execute(t.events.insert().values(event_id="E1", customer_id="C1", occurred_at=now - timedelta(days=70),
                                              type="page_view", **audit))
        conn.execute(t.feedback.insert().values(feedback_id="F1", customer_id="C1", kind="review", rating=2,
                                                text="too expensive now", opened_at=now - timedelta(days=75), **audit))
        conn.execute(t.tasks.insert().values(customer_id="C1", title="Call Ann about her renewal", state="open",
                                             due_at=now + timedelta(days=2), created_at=now))


# --- overview -----------------------------------------------------------------------------------------------------

def test_overview_without_scores_says_what_to_do(marketer):
    page = marketer.get("/app/")
    assert page.status_code == 200
    assert "No customers scored yet" in text(page)
    assert "No programmes running yet: start one from a playbook." in text(page)


def test_overview_shows_stages_value_at_risk_signals_and_chart_data(marketer, engine, now):
    seed(engine, now)
    page = marketer.get("/app/")
    body = text(page)
    assert page.status_code == 200
    assert "At risk 2" in body and "Active 1" in body
    assert "1,210.00 USD" in body
    assert "overdue" in body and "Top warning signals this week" in body
    chart = json.loads(re.search(r'<script type="application/json" id="stage-chart-data">(.*?)</script>',
                                 page.text, re.S).group(1))
    assert chart["labels"] == [(now - timedelta(days=30)).date().isoformat(), now.date().isoformat()]
    at_risk = next(s for s in chart["series"] if s["stage"] == "at_risk")
    assert at_risk["values"] == [0, 2]
    assert "<script>" not in page.text  # no inline script: the CSP forbids it
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


# --- customers ----------------------------------------------------------------------------------------------------

def test_customers_are_sorted_by_value_at_risk_and_filtered_by_stage(marketer, engine, now):
    seed(engine, now)
    body = text(marketer.get("/app/customers"))
    assert body.index("C1") < body.index("C2") < body.index("C3") < body.index("Di Unscored")  # unscored last
    at_risk = text(marketer.get("/app/customers", params={"stage": "at_risk"}))
    assert "C1" in at_risk and "C2" in at_risk and "Cy Park" not in at_risk


def test_customers_search_reason_dormancy_and_segment(marketer, engine, now):
    seed(engine, now)
    assert "Ann Lee" in text(marketer.get("/app/customers", params={"q": "ANN@example.com"}))
    assert "Cy Park" in text(marketer.get("/app/customers", params={"q": "Cy"}))
    assert "Di Unscored" in text(marketer.get("/app/customers", params={"q": "C4"}))
    only_c1 = text(marketer.get("/app/customers", params={"reason": "price", "dormancy": "content_fatigue"}))
    assert "Ann Lee" in only_c1 and "Cy Park" not in only_c1
    segment = text(marketer.get("/app/customers", params={"segment": "clv > 1000"}))
    assert "Ann Lee" in segment and "Cy Park" not in segment
    none = text(marketer.get("/app/customers", params={"q": "nobody-like-this"}))
    assert "No customers match these filters" in none


def test_a_bad_segment_expression_is_explained_not_a_crash(marketer, engine, now):
    seed(engine, now)
    page = marketer.get("/app/customers", params={"segment": "clv >"})
    assert page.status_code == 200
    assert "The segment expression has a mistake" in text(page)


def test_customers_page_through(marketer, engine, now, monkeypatch):
    from winback.web import pages

    seed(engine, now)
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    first = text(marketer.get("/app/customers"))
    second = text(marketer.get("/app/customers", params={"page": 2}))
    assert "Next" in first and "C3" not in first
    assert "C3" in second and "Di Unscored" in second and "Previous" in second and "Ann Lee" not in second
    assert "Next" not in second
    for typo in ("x", "0", "-3"):
        assert text(marketer.get("/app/customers", params={"page": typo})) == first  # a bad number: the first page
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    fourth = text(marketer.get("/app/customers", params={"page": 4}))
    assert "Di Unscored" in fourth and "Cy Park" not in fourth and "Next" not in fourth


def test_customer_detail_shows_why_timeline_and_tasks(marketer, engine, now):
    seed(engine, now)
    page = marketer.get("/app/customers/C1")
    body = text(page)
    assert page.status_code == 200
    assert "2.0× overdue against own purchase cycle (40 days)" in body
    assert "days since any activity" in body and "silent 80 days" in body
    assert "O1: 120.00 USD (completed)" in body and "page_view" in body and "too expensive now" in body
    assert "Call Ann about her renewal" in body
    assert body.index("page_view") < body.index("too expensive now") < body.index("O1:")  # newest first


def test_names_are_escaped(marketer, engine, now):
    seed(engine, now)
    page = marketer.get("/app/customers/C2")
    assert "Bo &lt;b&gt;Chen&lt;/b&gt;" in page.text and "<b>Chen</b>" not in page.text


def test_an_unknown_customer_is_a_clear_404(marketer):
    page = marketer.get("/app/customers/NOPE")
    assert page.status_code == 404
    assert "There is no customer NOPE" in text(page)


# --- programmes ---------------------------------------------------------------------------------------------------

def test_programmes_empty_state_points_to_playbooks(marketer):
    assert "No programmes yet: start one from a playbook." in text(marketer.get("/app/programmes"))


def test_check_dry_run_start_pause_and_run_a_playbook(marketer, engine, now):
    seed(engine, now)
    form = {"csrf_token": marketer.csrf, "playbook": "four-email-winback"}
    checked = marketer.post("/app/programmes/new", data={**form, "action": "validate"})
    assert checked.status_code == 200 and "four-email-winback is valid: 8 steps." in text(checked)
    planned = text(marketer.post("/app/programmes/new", data={**form, "action": "plan"}))
    assert "Dry run of four-email-winback" in planned and "Extra buyers" in planned and "95 % interval" in planned
    assert "Start the programme" in planned
    started = marketer.post("/app/programmes/new", data={**form, "action": "start"}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/app/programmes/four-email-winback"
    page = text(marketer.get(started.headers["location"]))
    assert "four-email-winback is running (version 1)" in page  # the one-time notice
    assert "Lift against the holdout" in page and "Run the worker now" in page
    ran = marketer.post("/app/programmes/four-email-winback/run", data={"csrf_token": marketer.csrf})
    assert "The worker ran from" in text(ran)
    paused = text(marketer.post("/app/programmes/four-email-winback/state",
                                data={"csrf_token": marketer.csrf, "action": "pause"}))
    assert "The programme is now paused." in paused and "Resume" in paused
    listed = text(marketer.get("/app/programmes"))
    assert "four-email-winback" in listed and "paused" in listed
    with engine.connect() as conn:
        assert conn.scalar(sa.select(t.programmes.c.state)) == "paused"


def test_pasted_yaml_errors_name_the_line(marketer):
    bad = "programme: mine\naudience: \"stage == 'at_risk'\"\nsteps:\n  - wait: soon\n"
    page = marketer.post("/app/programmes/new", data={"csrf_token": marketer.csrf, "yaml_text": bad,
                                                      "action": "validate"})
    assert page.status_code == 422
    body = text(page)
    assert "The programme has a problem" in body and "pasted YAML:" in body
    assert "/tmp" not in body and "programme.yaml" not in body


def test_nothing_chosen_asks_for_a_playbook(marketer):
    page = marketer.post("/app/programmes/new", data={"csrf_token": marketer.csrf, "action": "plan"})
    assert page.status_code == 422 and "Choose a playbook or paste a programme file first." in text(page)


def test_a_viewer_sees_the_dry_run_but_cannot_start(app, engine, now):
    seed(engine, now)
    with client_for(app, engine, now, role="viewer") as viewer:
        form = {"csrf_token": viewer.csrf, "playbook": "four-email-winback"}
        assert "Only marketers and admins" in text(viewer.post("/app/programmes/new", data={**form,
                                                                                             "action": "plan"}))
        refused = viewer.post("/app/programmes/new", data={**form, "action": "start"})
        assert refused.status_code == 403
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.programmes)) == 0


def test_a_form_without_the_csrf_token_is_refused(marketer):
    refused = marketer.post("/app/programmes/new", data={"playbook": "four-email-winback", "action": "start"})
    assert refused.status_code == 403


def test_an_unknown_programme_is_a_clear_404(marketer):
    page = marketer.get("/app/programmes/nope")
    assert page.status_code == 404 and "There is no programme nope" in text(page)


# --- tasks --------------------------------------------------------------------------------------------------------

def test_tasks_assign_to_me_and_mark_done(app, engine, now):
    seed(engine, now)
    with client_for(app, engine, now, role="account_manager") as am:
        queue = text(am.get("/app/tasks"))
        assert "Call Ann about her renewal" in queue and "unassigned" in queue and "900.00" in queue
        task_id = re.search(r'/app/tasks/(\d+)/assign', am.get("/app/tasks").text).group(1)
        assigned = text(am.post(f"/app/tasks/{task_id}/assign", data={"csrf_token": am.csrf}))
        assert f"Task {task_id} is yours." in assigned
        assert "Call Ann about her renewal" in text(am.get("/app/tasks", params={"mine": 1}))
        done = text(am.post(f"/app/tasks/{task_id}/done", data={"csrf_token": am.csrf, "note": "called, renewing"}))
        assert f"Task {task_id} is done." in done and "No open tasks" in done
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.tasks.c.state, t.tasks.c.assignee, t.tasks.c.detail)).one()
    assert row.state == "done" and row.assignee == "Account_Manager"
    assert row.detail["history"][-1]["note"] == "called, renewing"


def test_a_viewer_cannot_change_tasks(app, engine, now):
    seed(engine, now)
    with client_for(app, engine, now, role="viewer") as viewer:
        assert "Assign to me" not in text(viewer.get("/app/tasks"))
        assert viewer.post("/app/tasks/1/done", data={"csrf_token": viewer.csrf}).status_code == 403
    with engine.connect() as conn:
        assert conn.scalar(sa.select(t.tasks.c.state)) == "open"


# --- languages, login, layout ---------------------------------------------------------------------------------------

def test_chinese_is_chosen_by_query_then_kept_in_a_cookie(marketer, engine, now):
    seed(engine, now)
    first = marketer.get("/app/", params={"lang": "zh"})
    assert "各生命周期阶段客户数" in text(first) and first.cookies.get("wb_lang") == "zh"
    assert "有流失风险" in text(marketer.get("/app/customers"))
    assert "Customers by lifecycle stage" in text(marketer.get("/app/", params={"lang": "en"}))


def test_accept_language_decides_without_a_choice(app, engine, now):
    with client_for(app, engine, now, role="viewer") as viewer:
        assert "暂无计划" in text(viewer.get("/app/programmes", headers={"Accept-Language": "zh-CN,zh;q=0.9"}))


def test_pages_need_a_session(app):
    with TestClient(app) as anonymous:
        page = anonymous.get("/app/customers", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/app/login?next=/app/customers")


def test_static_files_and_the_vendored_chart_library_are_served(marketer):
    assert "nav-toggle" in marketer.get("/app/static/app.js").text
    assert "Chart.js v4" in marketer.get("/app/static/vendor/chart.umd.js").text[:200]


def test_every_text_key_in_the_templates_exists_in_both_languages():
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= {k for k in re.findall(r"\bt\('([a-z_.]+)'", path.read_text(encoding="utf-8"))
                 if not k.endswith(".")}  # 'stage.' ~ name: the names are listed below
    used |= {f"stage.{s}" for s in ("new", "active", "at_risk", "dormant", "churned", "reactivated", "none")}
    used |= {f"state.{s}" for s in ("draft", "running", "paused", "stopped")}
    used |= {f"role.{r}" for r in auth.ROLES}
    used |= {f"kind.{k}" for k in ("order", "event", "message", "engagement", "feedback")}
    used |= {f"f.{k}" for k in ("recipients", "sent", "delivered", "opens", "clicks", "unsubscribes", "conversions",
                                "revenue", "skipped", "failed")}
    assert used, "no keys found"
    missing = sorted(k for k in used if k not in STRINGS)
    assert not missing
    assert all(en and zh for en, zh in STRINGS.values())
