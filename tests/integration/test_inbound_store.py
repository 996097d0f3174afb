"""Inbound processing into the store (SQLite and PostgreSQL): suppressions, alerts, engagements, quarantine."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from winback.messaging.inbound import (
    WebhookRejected,
    process_maildir,
    process_provider_events,
    process_raw,
    reset_soft_bounces,
    sign_provider_webhook,
    verify_provider_webhook,
)
from winback.store import tables as t

CORPUS = Path(__file__).parents[1] / "data" / "inbound"
HARD = {"alice@example.net", "erin@example.net", "grace@nowhere.example.org", "heidi@example.com", "judy@example.net",
        "mallory@example.net", "niaj@example.org", "peggy@example.com", "rupert@example.org", "sybil@example.net",
        "trent@example.com"}
COMPLAINTS = {"uma@example.com", "redacted@example.net", "yvonne@example.com"}
SOFT = {"bob@example.net", "dave@example.org", "frank@example.net", "olivia@example.com", "leo@example.com"}
QUARANTINED = {"malformed_no_status", "malformed_final_recipient_no_semicolon", "malformed_bom",
               "malformed_non_utf8_bytes", "malformed_truncated_mime", "malformed_empty", "human_reply",
               "plain_bounce_without_code"}
IGNORED = {"ooo_english_auto_submitted", "ooo_exchange_automatic_reply", "ooo_chinese_qq_subject",
           "ooo_chinese_gb2312_x_autoreply", "vacation_auto_generated", "autorespond_precedence_auto_reply"}


def _seed(engine, now):
    with engine.begin() as conn:
        for cid, email in (("C1", "alice@example.net"), ("C2", "uma@example.com"), ("C3", "bob@example.net")):
            conn.execute(t.customers.insert().values(customer_id=cid, email=email, email_key=email, row_hash="h",
                                                     updated_at=now))
        conn.execute(t.programmes.insert().values(programme_id="p1", version=1, state="running", created_at=now,
                                                  updated_at=now))
        conn.execute(t.enrolments.insert().values(enrolment_id=101, programme_id="p1", version=1, customer_id="C1",
                                                  cycle=1, holdout=False, state="active", entered_at=now))


def _maildir(tmp_path: Path) -> Path:
    root = tmp_path / "bounces"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    for f in CORPUS.glob("*.eml"):
        shutil.copy(f, root / "new" / f.stem)
    return root


def _snapshot(conn):
    tables = (t.suppressions, t.alerts, t.engagements, t.address_bounces, t.inbound_messages)
    return {tab.name: sorted(map(repr, conn.execute(sa.select(tab)).all())) for tab in tables}


def test_maildir_corpus_effects(engine, now, tmp_path):
    _seed(engine, now)
    root = _maildir(tmp_path)
    counts = process_maildir(engine, root, now=now)
    n = len(list(CORPUS.glob("*.eml")))
    assert counts == {"processed": n - len(QUARANTINED) - len(IGNORED), "quarantined": len(QUARANTINED),
                      "ignored": len(IGNORED)}
    assert not list((root / "new").iterdir()) and len(list((root / "cur").iterdir())) == n
    with engine.connect() as conn:
        sup = {(r.address_key, r.basis) for r in conn.execute(sa.select(t.suppressions))}
        assert sup == {(a, "hard_bounce") for a in HARD} | {(a, "complaint") for a in COMPLAINTS}
        alerts = conn.execute(sa.select(t.alerts)).all()
        assert sorted((a.kind, a.scope) for a in alerts) == [("sender_reputation", "example.com"),
                                                              ("sender_reputation", "example.org")]
        eng = {(e.customer_id, e.kind, e.enrolment_id, e.step) for e in conn.execute(sa.select(t.engagements))}
        assert eng == {("C1", "bounce", 101, "first"), ("C2", "complaint", None, None)}
        detail = conn.execute(sa.select(t.engagements.c.detail).where(t.engagements.c.kind == "bounce")).scalar()
        assert detail["status"] == "5.1.1" and "User unknown" in detail["diagnostic"]
        soft = {r.address_key: r.consecutive_soft for r in conn.execute(sa.select(t.address_bounces))}
        assert {a for a, c in soft.items() if c == 1} == SOFT and {a for a, c in soft.items() if c == 0} == HARD
        rows = {r.source_key: r for r in conn.execute(sa.select(t.inbound_messages))}
        assert {k for k, r in rows.items() if r.status == "quarantined"} == QUARANTINED
        assert {k for k, r in rows.items() if r.status == "ignored"} == IGNORED
        assert all(r.raw is not None for k, r in rows.items() if k in QUARANTINED and k != "malformed_empty")
        assert all(r.raw is None for k, r in rows.items() if k not in QUARANTINED)
        assert rows["malformed_no_status"].reason == "recipient without Status"
        assert rows["postfix_user_unknown"].message_id == "<wb.101.first@shop.example.com>"


def test_processing_twice_changes_nothing(engine, now, tmp_path):
    _seed(engine, now)
    root = _maildir(tmp_path)
    process_maildir(engine, root, now=now)
    with engine.connect() as conn:
        before = _snapshot(conn)
    # the same files again (as if the move to cur/ had been lost after the commit)
    for f in (root / "cur").iterdir():
        f.rename(root / "new" / f.name.split(":")[0])
    counts = process_maildir(engine, root, now=now + timedelta(hours=1))
    assert counts == {"duplicate": len(list(CORPUS.glob("*.eml")))}
    with engine.connect() as conn:
        assert _snapshot(conn) == before


def _soft(conn, i, now):
    raw = (CORPUS / "postfix_mailbox_full_422.eml").read_bytes()
    return process_raw(conn, source="test", source_key=f"soft-{i}", raw=raw, now=now + timedelta(days=i))


def test_eighth_soft_bounce_in_a_row_suppresses(engine, now):
    with engine.begin() as conn:
        for i in range(7):
            assert _soft(conn, i, now) == "processed"
        assert conn.execute(sa.select(sa.func.count()).select_from(t.suppressions)).scalar() == 0
        assert _soft(conn, 7, now) == "processed"
        row = conn.execute(sa.select(t.suppressions)).one()
        assert (row.address_key, row.basis) == ("bob@example.net", "soft_bounce_limit")


def test_delivery_resets_the_soft_run(engine, now):
    with engine.begin() as conn:
        for i in range(7):
            _soft(conn, i, now)
        assert reset_soft_bounces(conn, ["Bob@Example.NET"], now=now) == 1
        _soft(conn, 8, now)
        assert conn.execute(sa.select(t.address_bounces.c.consecutive_soft)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(t.suppressions)).scalar() == 0


def test_redacted_complaint_suppresses_the_customer_of_our_message_id(engine, now):
    _seed(engine, now)
    raw = (CORPUS / "arf_aol_abuse_redacted.eml").read_bytes().replace(b"wb.202.first", b"wb.101.first")
    with engine.begin() as conn:
        assert process_raw(conn, source="test", source_key="r", raw=raw, now=now) == "processed"
        assert {(r.address_key, r.basis) for r in conn.execute(sa.select(t.suppressions))} == {
            ("alice@example.net", "complaint")}
        eng = conn.execute(sa.select(t.engagements)).one()
        assert (eng.customer_id, eng.kind, eng.enrolment_id, eng.step) == ("C1", "complaint", 101, "first")


def test_571_suppresses_nothing_and_raises_one_alert(engine, now):
    raw = (CORPUS / "exchange_o365_blocked_571.eml").read_bytes()
    with engine.begin() as conn:
        process_raw(conn, source="test", source_key="a", raw=raw, now=now)
        process_raw(conn, source="test", source_key="b", raw=raw, now=now)
        assert conn.execute(sa.select(sa.func.count()).select_from(t.suppressions)).scalar() == 0
        alert = conn.execute(sa.select(t.alerts)).one()
        assert (alert.kind, alert.scope, alert.detail["count"], alert.detail["status"]) == (
            "sender_reputation", "example.com", 2, "5.7.1")


# --- provider webhooks -------------------------------------------------------------------------------------------

SECRET = "s3cret-for-tests"


def _signed(body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    return {"X-Winback-Timestamp": str(ts), "X-Winback-Signature": sign_provider_webhook(secret, body, ts)}


def test_webhook_signature_checks(now):
    body = json.dumps([{"id": "e1", "type": "bounce", "email": "a@example.com", "status": "5.1.1"}]).encode()
    ts = int(now.timestamp())
    verify_provider_webhook(SECRET, _signed(body, ts), body, now)
    bad = [
        ({}, "unsigned"),
        ({"X-Winback-Timestamp": str(ts)}, "unsigned"),
        (_signed(body, ts, "other-secret"), "bad signature"),
        (_signed(body + b" ", ts), "bad signature"),
        ({**_signed(body, ts), "X-Winback-Timestamp": str(ts + 1)}, "bad signature"),
        (_signed(body, ts - 3_600), "replay"),
        ({"X-Winback-Timestamp": "soon", "X-Winback-Signature": "v1=00"}, "bad timestamp"),
    ]
    for headers, why in bad:
        with pytest.raises(WebhookRejected, match=why):
            verify_provider_webhook(SECRET, headers, body, now)
    with pytest.raises(WebhookRejected):
        verify_provider_webhook("", _signed(body, ts), body, now)


def test_provider_events(engine, now):
    _seed(engine, now)
    events = [
        {"id": "e1", "type": "bounce", "email": "alice@example.net", "status": "5.1.1",
         "message_id": "<wb.101.first@shop.example.com>", "diagnostic": "550 user unknown"},
        {"id": "e2", "type": "complaint", "email": "uma@example.com"},
        {"id": "e3", "type": "bounce", "email": "bob@example.net", "status": "4.2.2"},
        {"id": "e4", "type": "delivered", "email": "bob@example.net"},
        {"id": "e5", "type": "bounce", "email": "kim@example.org", "status": "5.7.26"},
        {"id": "e6", "type": "bounce", "email": "x@example.org"},
        {"type": "bounce", "email": "noid@example.org", "status": "5.1.1"},
        {"id": "e8", "type": "teleport", "email": "y@example.org"},
        "not an object",
    ]
    counts = process_provider_events(engine, events, now)
    assert counts == {"processed": 5, "quarantined": 4}
    assert process_provider_events(engine, events[:6], now) == {"duplicate": 6}
    with engine.connect() as conn:
        sup = {(r.address_key, r.basis) for r in conn.execute(sa.select(t.suppressions))}
        assert sup == {("alice@example.net", "hard_bounce"), ("uma@example.com", "complaint")}
        assert conn.execute(sa.select(t.address_bounces.c.consecutive_soft)
                            .where(t.address_bounces.c.address_key == "bob@example.net")).scalar() == 0
        assert conn.execute(sa.select(t.alerts.c.scope)).scalar() == "example.org"
        eng = {(e.customer_id, e.kind, e.enrolment_id) for e in conn.execute(sa.select(t.engagements))}
        assert eng == {("C1", "bounce", 101), ("C2", "complaint", None)}


def test_rejected_webhook_has_no_side_effects(engine, now):
    """The front verifies first; a refused request never reaches processing."""
    body = json.dumps([{"id": "e1", "type": "complaint", "email": "uma@example.com"}]).encode()
    ts = int(now.timestamp())
    for headers in ({}, _signed(body, ts, "wrong"), _signed(body, ts - 10_000)):
        try:
            verify_provider_webhook(SECRET, headers, body, now)
            process_provider_events(engine, json.loads(body), now)
        except WebhookRejected:
            pass
    with engine.connect() as conn:
        assert _snapshot(conn) == {k: [] for k in ("suppressions", "alerts", "engagements", "address_bounces",
                                                   "inbound_messages")}


def test_unreadable_file_does_not_stop_the_loop(engine, now, tmp_path):
    root = _maildir(tmp_path)
    (root / "new" / "a-directory").mkdir()
    (root / "new" / "broken-link").symlink_to(tmp_path / "nowhere")  # read_bytes fails: counted, left in new/
    counts = process_maildir(engine, root, now=now)
    assert counts["error"] == 1 and sum(counts.values()) == len(list(CORPUS.glob("*.eml"))) + 1
    assert sorted(p.name for p in (root / "new").iterdir()) == ["a-directory", "broken-link"]
