"""SmtpTransport against a real aiosmtpd server in its own process (tests/integration/smtp_peer.py)."""

from __future__ import annotations

import datetime as dt
import email
import gc
import ipaddress
import json
import random
import ssl
import sys
from collections import Counter
from pathlib import Path

import pytest

from winback.messaging.transports.base import Outbound, open_transport
from winback.messaging.transports.smtp import SmtpTransport, parse_smtp_spec

sys.path.insert(0, str(Path(__file__).parent))
from smtp_peer import Peer, start_peer


def outbound(n: int, to: str) -> Outbound:
    mid = f"<{n}.step@winback.test>"
    payload = (f"From: Shop <news@shop.test>\r\nTo: {to}\r\nSubject: we miss you\r\nMessage-ID: {mid}\r\n"
               f"\r\nHello {n}\r\n.a line starting with a dot\r\n").encode()
    return Outbound(enrolment_id=n, step="step", programme_id="p", customer_id=str(n), channel="email", to=to,
                    message_id=mid, payload=payload)


@pytest.fixture(autouse=True)
def _collect():
    """Finalise what each test dropped while the test still runs, so a leak fails the test that leaked it."""
    yield
    gc.collect()


@pytest.fixture
def peer(tmp_path):
    running = start_peer(tmp_path / "received")
    yield running
    running.stop()


def transport(peer: Peer, **options: str) -> SmtpTransport:
    query = "&".join(f"{k}={v}" for k, v in {"tls": "none", "timeout": "5", **options}.items())
    return SmtpTransport(parse_smtp_spec(f"smtp://127.0.0.1:{peer.port}?{query}"), rng=random.Random(7))


def received_ids(peer: Peer) -> Counter[str]:
    return Counter(email.message_from_bytes(raw)["Message-ID"] for raw in peer.messages())


@pytest.mark.parametrize(("to", "status", "code"), [
    ("ok@a.test", "sent", "2.0.0"),
    ("r421@b.test", "soft_failed", "4.3.0"),
    ("r450@c.test", "soft_failed", "4.2.0"),
    ("r451@c.test", "soft_failed", "4.3.0"),
    ("r550@c.test", "hard_bounced", "5.1.1"),
    ("r552@c.test", "soft_failed", "5.2.2"),
    ("r554@c.test", "failed", "5.7.x"),
    ("r553@c.test", "failed", "5.3.4"),
    ("drop@c.test", "unknown", None),
])
def test_each_reply_is_classified(peer, to, status, code):
    with transport(peer) as smtp:
        [delivery] = smtp.deliver([outbound(1, to)])
    assert (delivery.status, delivery.code) == (status, code)
    if status == "failed" and code == "5.7.x":
        assert delivery.detail.startswith("blocked:")


def test_one_refused_recipient_affects_only_itself(peer):
    targets = [f"ok{i}@a.test" for i in range(10)]
    targets[3], targets[7] = "r550@a.test", "r554@a.test"
    with transport(peer, pool="4") as smtp:
        results = smtp.deliver([outbound(i, to) for i, to in enumerate(targets)])
    statuses = [r.status for r in results]
    assert statuses == ["sent"] * 3 + ["hard_bounced"] + ["sent"] * 3 + ["failed"] + ["sent"] * 2
    peer.stop()
    assert received_ids(peer) == Counter({outbound(i, "").message_id: 1 for i in range(10) if i not in (3, 7)})


def test_an_address_with_a_line_break_fails_alone(peer):
    with transport(peer, pool="1") as smtp:
        results = smtp.deliver([outbound(1, "ok@a.test\r\nRCPT TO:<x@evil.test>"), outbound(2, "ok@a.test")])
    assert [(r.status, r.code) for r in results] == [("failed", "invalid_address"), ("sent", "2.0.0")]


def test_concurrency_is_bounded_overall_and_per_domain(peer):
    batch = [outbound(i, f"slow{i}@a.test") for i in range(12)] + [outbound(i, f"slow{i}@d{i}.test")
                                                                   for i in range(12, 24)]
    with transport(peer, pool="5", per_domain="2") as smtp:
        assert {d.status for d in smtp.deliver(batch)} == {"sent"}
    report = peer.stop()
    most = json.loads(report.split("most ", 1)[1].splitlines()[0])
    assert most["a.test"] == 2  # reached, never passed
    assert 2 < most["*"] <= 5


def test_dropped_connection_is_unknown_and_the_pool_recovers(peer):
    with transport(peer, pool="2") as smtp:
        first = smtp.deliver([outbound(1, "drop@a.test"), outbound(2, "ok@a.test")])
        again = smtp.deliver([outbound(3, "ok@a.test"), outbound(4, "ok@b.test")])
    assert [d.status for d in first] == ["unknown", "sent"]
    assert [d.status for d in again] == ["sent", "sent"]


def test_domain_backoff_after_421_fails_fast_then_ends(peer):
    now = [0.0]
    smtp = SmtpTransport(parse_smtp_spec(f"smtp://127.0.0.1:{peer.port}?tls=none&timeout=5&backoff=10"),
                         clock=lambda: now[0], rng=random.Random(1))
    with smtp:
        assert smtp.deliver([outbound(1, "r421@busy.test")])[0].status == "soft_failed"
        during = smtp.deliver([outbound(2, "ok@busy.test"), outbound(3, "ok@other.test")])
        assert [d.status for d in during] == ["soft_failed", "sent"]
        assert "backing off" in during[0].detail
        now[0] += 10.01  # the first pause is at most `backoff` seconds (jitter shortens it)
        assert smtp.deliver([outbound(4, "ok@busy.test")])[0].status == "sent"
        # A second 421 pauses longer: the level grows while the domain keeps refusing.
        smtp.deliver([outbound(5, "r421@busy.test")])
        first_until = smtp._backoff["busy.test"][0] - now[0]
        now[0] += first_until + 0.01
        smtp.deliver([outbound(6, "r421@busy.test")])
        assert smtp._backoff["busy.test"][1] == 2
        assert smtp._backoff["busy.test"][0] - now[0] <= 20
    peer.stop()
    assert set(received_ids(peer)) == {outbound(3, "").message_id, outbound(4, "").message_id}


def test_retries_are_bounded_and_nothing_is_lost(peer):
    """Retry soft and unknown outcomes as the engine does: every message ends accepted once or reported."""
    targets = ["ok@a.test", "r450@a.test", "drop@b.test", "r550@c.test", "ok@d.test", "r552@d.test"] * 3
    messages = [outbound(i, to) for i, to in enumerate(targets)]
    final: dict[int, str] = {}
    attempts: Counter[int] = Counter()
    pending = list(messages)
    with transport(peer, pool="3") as smtp:
        for _ in range(4):  # the engine's attempt limit
            results = smtp.deliver(pending)
            retry = []
            for message, result in zip(pending, results, strict=True):
                n = message.enrolment_id
                attempts[n] += 1
                final[n] = result.status
                if result.status == "soft_failed" or (result.status == "unknown" and attempts[n] < 2):
                    retry.append(message)
            pending = retry
    assert max(attempts.values()) <= 4
    assert all(attempts[m.enrolment_id] <= 2 for m in messages if m.to.startswith("drop"))
    assert len(final) == len(messages)
    peer.stop()
    got = received_ids(peer)
    sent = {m.message_id for m in messages if final[m.enrolment_id] == "sent"}
    assert set(got) == sent and all(count == 1 for count in got.values())
    assert sent == {m.message_id for m in messages if m.to.startswith("ok")}


def test_the_bytes_arrive_unchanged(peer):
    message = outbound(1, "ok@a.test")
    with transport(peer) as smtp:
        smtp.deliver([message])
    peer.stop()
    [raw] = peer.messages()
    assert message.payload.replace(b"\r\n", b"\n").rstrip() in raw.replace(b"\r\n", b"\n")


def _certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_peer(tmp_path):
    cert, key = _certificate(tmp_path)
    running = start_peer(tmp_path / "received", "--tls", str(cert), str(key), "--auth", "winback:s3cret")
    yield running, ssl.create_default_context(cafile=str(cert))
    running.stop()


def test_starttls_and_auth(tls_peer, monkeypatch):
    peer, context = tls_peer
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    settings = parse_smtp_spec(f"smtp://winback@127.0.0.1:{peer.port}?tls=starttls&password_env=TEST_SMTP_PASSWORD")
    with SmtpTransport(settings, tls_context=context) as smtp:
        assert [d.status for d in smtp.deliver([outbound(1, "ok@a.test"), outbound(2, "ok@b.test")])] == ["sent"] * 2
        assert smtp.deliver([outbound(3, "ok@a.test")])[0].status == "sent"
    peer.stop()
    assert len(peer.messages()) == 3


def test_wrong_password_soft_fails_every_message(tls_peer):
    peer, context = tls_peer
    settings = parse_smtp_spec(f"smtp://winback:wrong@127.0.0.1:{peer.port}?tls=starttls")
    with SmtpTransport(settings, tls_context=context) as smtp:
        results = smtp.deliver([outbound(i, f"ok{i}@a.test") for i in range(5)])
    assert [r.status for r in results] == ["soft_failed"] * 5
    assert all("authentication failed" in r.detail for r in results)
    peer.stop()
    assert peer.messages() == []


def test_unreachable_relay_soft_fails_every_message(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open_transport(f"smtp://127.0.0.1:{port}?tls=none&timeout=2") as smtp:
        results = smtp.deliver([outbound(i, "ok@a.test") for i in range(3)])
    assert [r.status for r in results] == ["soft_failed"] * 3


# -- through the engine -------------------------------------------------------------------------------------------

SCRIPTED = {"c0": "ok", "c1": "ok", "c2": "r450", "c3": "r550", "c4": "r554", "c5": "drop", "c6": "ok", "c7": "r552"}
PROGRAMME = """
programme: smtp
audience: "customer_id in ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7']"
holdout: 0
retries: {max_attempts: 3, backoff: 1m}
steps:
  - id: first
    send: {template: winback/reminder, subject: Hello}
"""


def test_through_the_engine_every_message_is_accepted_once_or_reported(engine, store_url, tmp_path, peer):
    """The real engine and store drive the transport: retries stay bounded, nothing is lost or sent twice."""
    import sqlalchemy as sa

    from winback.jobs import programmes as jobs
    from winback.jobs.workspace import Workspace
    from winback.settings import Settings
    from winback.store import tables as t

    start = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": cid, "email": f"{local}@{cid}.test", "email_key": f"{local}@{cid}.test",
             "name": cid, "locale": "en", "time_zone": "UTC", "row_hash": "x", "updated_at": start}
            for cid, local in SCRIPTED.items()])
    ws = Workspace(Settings(home=tmp_path, database_url=store_url, postal_address="1 Example Street, Berlin"),
                   clock=lambda: start)
    try:
        (tmp_path / "p.yaml").write_text(PROGRAMME)
        jobs.start(ws, str(tmp_path / "p.yaml"))
        with transport(peer, pool="4") as smtp:
            jobs.run(ws, until_idle=True, simulate=True, transport=smtp, seed=1)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.ledger.c.customer_id, t.ledger.c.state, t.ledger.c.reason,
                                          t.ledger.c.attempts, t.ledger.c.message_id)
                                .where(t.ledger.c.kind == "send")).all()
            suppressed = set(conn.scalars(sa.select(t.suppressions.c.address_key)))
    finally:
        ws.close()
    outcome = {r.customer_id: (r.state, r.reason, r.attempts) for r in rows}
    assert outcome == {
        "c0": ("sent", None, 1), "c1": ("sent", None, 1), "c6": ("sent", None, 1),
        "c2": ("failed", "retries_exhausted", 3),  # 450 every time
        "c7": ("failed", "retries_exhausted", 3),  # 552 5.2.2 mailbox full: soft, never a suppression
        "c3": ("failed", "hard_bounce", 1),
        "c4": ("failed", "rejected", 1),  # 554 5.7.1 blocked: not suppressed
        "c5": ("failed", "unknown_outcome", 2),  # dropped after the body: one more try with the same Message-ID
    }
    assert suppressed == {"r550@c3.test"}
    peer.stop()
    got = received_ids(peer)
    assert set(got) == {r.message_id for r in rows if r.state == "sent"} and set(got.values()) == {1}
