"""The customer-facing tracking pages against real stores: unsubscribe (RFC 8058 one-click), the preference centre,
the exit survey and view-in-browser; bad tokens; language; escaping — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import textwrap
import warnings
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from winback.jobs import programmes as jobs
from winback.jobs.workspace import Workspace
from winback.messaging.transports.memory import MemoryTransport
from winback.settings import Settings
from winback.store import tables as t
from winback.tracking.hits import INVALID_LINK_BODY
from winback.tracking.pages import FORM_TTL, router
from winback.tracking.preferences import survey_id
from winback.tracking.recorder import Recorder
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id

with warnings.catch_warnings():  # Starlette now asks for the `httpx2` fork; plain httpx works the same here
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

START = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PUBLIC = "https://t.example.com"
ADDRESS = "Example Shop, 1 Example Street, 10115 Berlin"
EVIL = "<script>alert(1)</script>"
WATCHED = (t.suppressions, t.engagements, t.consents, t.consent_history, t.feedback, t.customer_preferences,
           t.enrolments)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def site(engine, store_url, tmp_path):
    """A small app with the state the tracking service gives its routes, and three customers:
    c1 (English, a hostile name), c2 (zh-CN), c3 (no email)."""
    settings = Settings(home=tmp_path, database_url=store_url, public_url=PUBLIC, postal_address=ADDRESS,
                        secret_keys="k1:" + "s" * 32)
    signer = TokenSigner({"k1": b"s" * 32}, "k1", environment_id(PUBLIC))
    clock = Clock(START)
    app = FastAPI()
    app.state.engine, app.state.signer, app.state.settings = engine, signer, settings
    app.state.links, app.state.clock = LinkBuilder(signer, PUBLIC), clock
    app.state.recorder = Recorder(engine)  # not started: a test flushes it when it wants the rows written
    app.include_router(router)
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": "c1", "email": "Ann@Example.com", "email_key": "ann@example.com", "name": EVIL,
             "locale": "en-GB", "row_hash": "x", "updated_at": START},
            {"customer_id": "c2", "email": "li@example.cn", "email_key": "li@example.cn", "name": "李雷",
             "locale": "zh-CN", "phone": "+8613800000000", "row_hash": "x", "updated_at": START},
            {"customer_id": "c3", "email": None, "email_key": None, "name": "No Mail", "locale": "en",
             "row_hash": "x", "updated_at": START}])

    class Site:
        def __init__(self):
            self.app, self.signer, self.clock, self.engine, self.settings = app, signer, clock, engine, settings
            self.client = TestClient(app, base_url=PUBLIC, follow_redirects=False)

        def token(self, purpose, **payload):
            return signer.sign(purpose, payload)

        def snapshot(self):
            with engine.connect() as conn:
                return {tb.name: sorted(map(repr, conn.execute(sa.select(tb)).all())) for tb in WATCHED}

        def rows(self, table, **where):
            stmt = sa.select(table)
            for key, value in where.items():
                stmt = stmt.where(table.c[key] == value)
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(stmt).mappings()]

    s = Site()
    yield s
    s.client.close()


def unsub(site, customer="c1", enrolment=7, step="first"):
    return f"/u/{site.token('unsubscribe', c=customer, e=enrolment, s=step)}"


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


# --- unsubscribe ---------------------------------------------------------------------------------------------------

def test_get_and_head_show_the_confirmation_and_change_nothing(site):
    before = site.snapshot()
    url = unsub(site)
    page = site.client.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'method="post"' in page.text and ">Unsubscribe<" in page.text and "A•••@Example.com" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["x-robots-tag"] == "noindex, nofollow"
    assert site.client.head(url).status_code == 200
    for other, status in ((f"/p/{site.token('preferences', c='c1')}", 200), (f"/s/{site.token('survey', c='c1')}", 200),
                          (f"/v/{site.token('view', c='c1', e=7, s='first')}", 404)):  # view: no such message
        assert site.client.get(other).status_code == status and site.client.head(other).status_code == status
    assert site.snapshot() == before


def test_one_click_post_without_cookies_unsubscribes_once(site):
    url = unsub(site)
    first = site.client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert first.status_code == 200 and "You are unsubscribed" in first.text
    assert "set-cookie" not in first.headers
    assert "/p/" in first.text and "/s/" in first.text  # links to the preference centre and the survey
    after_first = site.snapshot()
    [sup] = site.rows(t.suppressions)
    assert (sup["channel"], sup["address_key"], sup["basis"], sup["source"]) == \
        ("email", "ann@example.com", "unsubscribe", "link")
    [consent] = site.rows(t.consents)
    assert (consent["customer_id"], consent["channel"], consent["status"]) == ("c1", "email", "unsubscribed")
    [history] = site.rows(t.consent_history)
    assert (history["status"], history["outcome"], history["source"]) == ("unsubscribed", "applied", "link")
    [eng] = site.rows(t.engagements)
    assert (eng["customer_id"], eng["enrolment_id"], eng["step"], eng["kind"], eng["machine"]) == \
        ("c1", 7, "first", "unsubscribe", False)
    site.clock.now += timedelta(minutes=5)
    second = site.client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert second.status_code == 200 and second.text == first.text
    assert site.snapshot() == after_first  # a second POST is a no-op


def test_the_confirmation_form_post_and_an_empty_post_also_unsubscribe(site):
    assert site.client.post(unsub(site, "c2", 9, "second")).status_code == 200
    assert [r["address_key"] for r in site.rows(t.suppressions)] == ["li@example.cn"]
    # A customer without an email address: nothing to suppress, the withdrawal and the engagement are kept.
    assert site.client.post(unsub(site, "c3", 1, "a")).status_code == 200
    assert [r["channel"] for r in site.rows(t.consents, customer_id="c3")] == ["email"]


def test_concurrent_first_unsubscribes_of_one_customer_write_once(site):
    from concurrent.futures import ThreadPoolExecutor

    from winback.store.db import write_transaction
    from winback.tracking.preferences import unsubscribe

    def one(_):
        with write_transaction(site.engine) as conn:
            return unsubscribe(conn, customer_id="c1", enrolment_id=7, step="first", now=START)

    with ThreadPoolExecutor(4) as pool:
        changed = list(pool.map(one, range(4)))
    assert changed.count(True) == 1  # the customer's row lock (PostgreSQL) or the write lock (SQLite) queues them
    assert (len(site.rows(t.suppressions)), len(site.rows(t.engagements)), len(site.rows(t.consent_history))) == \
        (1, 1, 1)


def test_the_unsubscribe_page_is_chinese_for_a_zh_customer_and_follows_lang(site):
    url = unsub(site, "c2")
    page = site.client.get(url)
    assert '<html lang="zh-CN">' in page.text and ">退订<" in page.text
    assert '<html lang="en">' in site.client.get(url + "?lang=en").text
    assert "您已退订" in site.client.post(url).text
    assert ">退订<" in site.client.get(unsub(site, "c1") + "?lang=zh").text


def test_a_stored_language_choice_wins_over_the_locale(site):
    with site.engine.begin() as conn:
        conn.execute(t.customer_preferences.insert().values(customer_id="c1", language="zh", updated_at=START))
    assert '<html lang="zh-CN">' in site.client.get(unsub(site, "c1")).text


# --- bad tokens ----------------------------------------------------------------------------------------------------

def bad_links(site):
    good = site.token("unsubscribe", c="c1", e=7, s="first")
    other_key = TokenSigner({"k1": b"t" * 32}, "k1", environment_id(PUBLIC)).sign("unsubscribe",
                                                                                  {"c": "c1", "e": 7, "s": "first"})
    flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    return [
        ("/u/", flipped), ("/u/", good[:-5]), ("/u/", "x"), ("/u/", other_key),
        ("/u/", site.token("preferences", c="c1")),  # cross-purpose
        ("/u/", site.token("unsubscribe", c="c1")),  # a payload without enrolment and step
        ("/u/", site.token("unsubscribe", c=5, e=7, s="first")),
        ("/p/", good), ("/p/", site.token("survey", c="c1")),
        ("/s/", good), ("/s/", site.token("survey", c="c1", e="7")),
        ("/v/", good), ("/v/", site.token("view", m="7.first")),
    ]


def test_bad_tampered_truncated_and_cross_purpose_tokens_get_the_same_404_and_change_nothing(site):
    before = site.snapshot()
    links = bad_links(site)
    answers = set()
    for prefix, token in links:
        for method in ("GET", "POST"):
            if prefix == "/v/" and method == "POST":
                continue
            r = site.client.request(method, prefix + token, data={"List-Unsubscribe": "One-Click"})
            answers.add((r.status_code, r.content, r.headers["content-type"]))
    assert answers == {(404, INVALID_LINK_BODY.encode(), "text/html; charset=utf-8")}
    site.app.state.recorder.flush()
    assert site.snapshot() == before
    rejects = site.rows(t.tracking_rejects)
    assert len(rejects) == sum(1 if p == "/v/" else 2 for p, _ in links)
    assert {r["route"] for r in rejects} == {"unsubscribe", "preferences", "survey", "view"}
    assert {r["reason"] for r in rejects} == {"bad_token"}


# --- preference centre ----------------------------------------------------------------------------------------------

def test_preferences_round_trip(site):
    url = f"/p/{site.token('preferences', c='c2')}"
    page = site.client.get(url)
    assert page.status_code == 200 and "您的偏好设置" in page.text and "李雷" in page.text
    assert page.text.count(" checked") == 3 + 1 + 2  # all topics, "no limit", both channels
    saved = site.client.post(url, data={"form_key": form_key(page.text), "action": "save", "topics": ["news"],
                                        "channels": ["email"], "frequency": "pause_30", "language": "en"})
    assert saved.status_code == 200 and "Your preferences are saved." in saved.text  # now in their chosen language
    [row] = site.rows(t.customer_preferences)
    assert (row["customer_id"], row["topics"], row["channels"], row["frequency"], row["language"]) == \
        ("c2", ["news"], ["email"], None, "en")
    assert row["paused_until"] == START + timedelta(days=30) and row["source"] == "preference_centre"
    again = site.client.get(url)
    assert 'value="news" checked' in again.text and 'value="offers" checked' not in again.text
    assert 'value="keep" checked' in again.text and "2026-10-31" in again.text
    assert 'value="sms" checked' not in again.text
    site.client.post(url, data={"form_key": form_key(again.text), "action": "save", "topics": ["offers", "news"],
                                "channels": ["email", "sms"], "frequency": "weekly", "language": "zh"})
    [row] = site.rows(t.customer_preferences)
    assert (row["topics"], row["channels"], row["frequency"], row["paused_until"], row["language"]) == \
        (["offers", "news"], None, "weekly", None, "zh")
    assert site.rows(t.suppressions) == []


def test_validation_errors_are_shown_and_nothing_is_written(site):
    url = f"/p/{site.token('preferences', c='c1')}"
    key = form_key(site.client.get(url).text)
    before = site.snapshot()
    r = site.client.post(url, data={"form_key": key, "action": "save", "channels": ["email"], "frequency": "daily",
                                    "language": "en"})
    assert r.status_code == 400
    assert "Nothing was saved" in r.text and "Choose at least one topic" in r.text and "not valid" in r.text
    assert site.snapshot() == before


def test_a_forged_preference_post_is_refused(site):
    url = f"/p/{site.token('preferences', c='c1')}"
    key = form_key(site.client.get(url).text)
    other_key = form_key(site.client.get(f"/p/{site.token('preferences', c='c2')}").text)
    fields = {"action": "save", "topics": ["news"], "channels": ["email"], "frequency": "any", "language": "en"}
    before = site.snapshot()
    for data, headers in [
        (fields, {}),  # no form key
        ({**fields, "form_key": "forged"}, {}),
        ({**fields, "form_key": other_key}, {}),  # a key shown for another link
        ({**fields, "form_key": key}, {"Origin": "https://evil.example"}),
        ({**fields, "action": "unsubscribe_all"}, {}),
    ]:
        r = site.client.post(url, data=data, headers=headers)
        assert r.status_code == 403 and "too old or was not sent from this page" in r.text
    site.clock.now += FORM_TTL + timedelta(seconds=1)
    assert site.client.post(url, data={**fields, "form_key": key}).status_code == 403  # expired
    assert site.snapshot() == before
    ok = site.client.post(url, data={**fields, "form_key": form_key(site.client.get(url).text)},
                          headers={"Origin": PUBLIC})
    assert ok.status_code == 200 and len(site.rows(t.customer_preferences)) == 1


def test_unsubscribe_from_everything_does_what_the_link_does_on_both_channels(site):
    url = f"/p/{site.token('preferences', c='c2')}"
    r = site.client.post(url, data={"form_key": form_key(site.client.get(url).text), "action": "unsubscribe_all"})
    assert r.status_code == 200 and "您已退订" in r.text
    assert [(s["channel"], s["basis"]) for s in site.rows(t.suppressions)] == [("email", "unsubscribe")]
    assert sorted((c["channel"], c["status"]) for c in site.rows(t.consents)) == \
        [("email", "unsubscribed"), ("sms", "unsubscribed")]
    [eng] = site.rows(t.engagements)
    assert (eng["kind"], eng["enrolment_id"], eng["step"]) == ("unsubscribe", None, None)


def test_customer_names_are_escaped(site):
    page = site.client.get(f"/p/{site.token('preferences', c='c1')}")
    assert EVIL not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script" not in page.text


# --- exit survey ---------------------------------------------------------------------------------------------------

def test_the_survey_stores_one_feedback_row_however_often_it_is_sent(site):
    url = f"/s/{site.token('survey', c='c2', e=4)}"
    page = site.client.get(url)
    assert "您为什么不再购买了？" in page.text and page.text.count('type="radio"') == 7
    first = site.client.post(url, data={"reason": "price", "text": "太贵了 <b>"})
    assert first.status_code == 200 and "感谢您的反馈" in first.text
    site.clock.now += timedelta(minutes=1)
    site.client.post(url, data={"reason": "competitor", "text": "found a cheaper shop"})
    [row] = site.rows(t.feedback)
    assert (row["feedback_id"], row["customer_id"], row["kind"], row["category"], row["text"]) == \
        (survey_id("c2", 4), "c2", "survey", "competitor", "found a cheaper shop")
    assert row["opened_at"] == START and row["updated_at"] == START + timedelta(minutes=1) and row["row_hash"]
    # Without an enrolment (from the preference centre, say) it is a row of its own.
    site.client.post(f"/s/{site.token('survey', c='c2')}", data={"reason": "other", "text": ""})
    assert len(site.rows(t.feedback)) == 2


def test_a_survey_without_a_choice_shows_the_question_again(site):
    url = f"/s/{site.token('survey', c='c1')}"
    for data in ({"text": "hmm"}, {"reason": "because", "text": "hmm"}):
        r = site.client.post(url, data=data)
        assert r.status_code == 400 and "Please choose an answer." in r.text and ">hmm</textarea>" in r.text
    assert site.rows(t.feedback) == []


def test_a_survey_answer_is_read_as_a_labelled_churn_reason(site):
    from winback.scoring.reasons import RuleClassifier

    site.client.post(f"/s/{site.token('survey', c='c1')}", data={"reason": "price", "text": ""})
    [row] = site.rows(t.feedback)
    reason = RuleClassifier().classify(row["text"], category=row["category"], rating=row["rating"],
                                       source=row["kind"], at=row["opened_at"])
    assert reason.label == "price"


# --- view in browser -----------------------------------------------------------------------------------------------

PROGRAMME = """
    programme: view
    audience: "customer_id in ['c1', 'c2']"
    holdout: 0
    steps:
      - id: first
        send: {template: winback/reminder, subject: {en: Hello, zh: 你好}}
"""


def test_view_in_browser_renders_the_sent_message_again(site, store_url, tmp_path):
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, public_url=PUBLIC, postal_address=ADDRESS,
                            secret_keys="k1:" + "s" * 32), clock=Clock(START))
    try:
        path = tmp_path / "view.yaml"
        path.write_text(textwrap.dedent(PROGRAMME))
        jobs.start(ws, str(path))
        sink = MemoryTransport()
        jobs.run(ws, until_idle=True, simulate=False, transport=sink, seed=1)
    finally:
        ws.close()
    [sent] = [m for m in sink.outbox if m.customer_id == "c2"]
    [ann] = [m for m in sink.outbox if m.customer_id == "c1"]
    url = f"/v/{site.token('view', c='c2', e=sent.enrolment_id, s='first')}"
    page = site.client.get(url)
    assert page.status_code == 200 and "李雷" in page.text and ADDRESS in page.text
    assert "/u/" in page.text and f"{PUBLIC}{url}" in page.text and "<script" not in page.text
    assert "img-src https:" in page.headers["content-security-policy"]
    evil = site.client.get(f"/v/{site.token('view', c='c1', e=ann.enrolment_id, s='first')}")
    assert evil.status_code == 200 and EVIL not in evil.text and "&lt;script&gt;" in evil.text
    # Another customer's enrolment, or a step that sent nothing: not available, and nothing leaks.
    gone = site.client.get(f"/v/{site.token('view', c='c1', e=sent.enrolment_id, s='first')}")
    assert gone.status_code == 404 and "no longer available" in gone.text and "李雷" not in gone.text
    assert site.client.get(f"/v/{site.token('view', c='c2', e=sent.enrolment_id, s='nope')}").status_code == 404
