"""SMS over HTTP, signed webhooks and the channel router against a real HTTP server (pytest-httpserver)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import httpx
import pytest
from werkzeug import Response

from winback.messaging.egress import EgressPolicy, EgressRefusedError, send
from winback.messaging.transports.base import Delivery, Outbound
from winback.messaging.transports.memory import MemoryTransport
from winback.messaging.transports.router import ChannelRouter, open_transports
from winback.messaging.transports.sms import SmsTransport, normalise_number
from winback.messaging.transports.webhook import WebhookTransport, sign_webhook, verify_webhook
from winback.settings import Settings

LOOPBACK = EgressPolicy("127.0.0.1")


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


def message(n: int, *, channel: str = "webhook", to: str = "+14155550123", text: str = "we miss you") -> Outbound:
    payload = json.dumps({"to": to, "text": text, "message_id": f"<{n}@w.test>"}).encode()
    return Outbound(enrolment_id=n, step="s", programme_id="p", customer_id=str(n), channel=channel, to=to,
                    message_id=f"<{n}@w.test>", payload=payload)


# -- webhooks -----------------------------------------------------------------------------------------------------

def test_webhook_is_signed_and_verifies(httpserver):
    seen = []

    def handler(request):
        seen.append((dict(request.headers), request.get_data()))
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    with WebhookTransport(httpserver.url_for("/hook"), "topsecret", policy=LOOPBACK, clock=lambda: 1_700_000_000) as t:
        assert [d.status for d in t.deliver([message(1), message(2)])] == ["sent", "sent"]
    headers, body = seen[0]
    assert headers["X-Winback-Timestamp"] == "1700000000"
    assert headers["X-Winback-Message-Id"] == "<1@w.test>"
    assert body == message(1).payload
    assert verify_webhook("topsecret", headers["X-Winback-Timestamp"], headers["X-Winback-Signature"], body,
                          now=1_700_000_100)


def test_verify_webhook_refuses_tampering_replays_and_wrong_keys():
    body, ts = b'{"a":1}', 1_700_000_000
    good = sign_webhook("k", ts, body)
    assert good.startswith("v1=") and len(good) == 3 + 64
    assert verify_webhook("k", str(ts), good, body, now=ts)
    assert verify_webhook("k", str(ts), f"v1=00, {good}", body, now=ts)  # rotation: any listed signature
    assert not verify_webhook("k", str(ts), good, b'{"a":2}', now=ts)
    assert not verify_webhook("other", str(ts), good, body, now=ts)
    assert not verify_webhook("k", str(ts + 1), good, body, now=ts)
    assert not verify_webhook("k", str(ts), good, body, now=ts + 301)  # replayed later
    assert not verify_webhook("k", str(ts), good, body, now=ts - 301)  # from the future
    assert not verify_webhook("k", "-5", good, body, now=ts)
    assert not verify_webhook("k", str(ts), good[:-2], body, now=ts)


@pytest.mark.parametrize(("status", "expected"), [(200, "sent"), (204, "sent"), (429, "soft_failed"),
                                                  (503, "soft_failed"), (400, "failed"), (404, "failed")])
def test_webhook_outcomes(httpserver, status, expected):
    httpserver.expect_request("/hook").respond_with_data("x", status=status)
    with WebhookTransport(httpserver.url_for("/hook"), "k", policy=LOOPBACK) as t:
        assert t.deliver([message(1)])[0].status == expected


def test_webhook_timeout_is_soft(httpserver):
    httpserver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(1.5) or Response("late"))
    with WebhookTransport(httpserver.url_for("/slow"), "k", policy=LOOPBACK, timeout=0.5) as t:
        assert t.deliver([message(1)])[0].status == "soft_failed"
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:  # let the late answer finish before the next test
        time.sleep(0.05)


# -- egress, for real ---------------------------------------------------------------------------------------------

def test_loopback_is_refused_unless_allowed(httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    with WebhookTransport(httpserver.url_for("/hook"), "k", policy=EgressPolicy()) as t:
        [delivery] = t.deliver([message(1)])
    assert delivery.status == "soft_failed" and delivery.detail.startswith("egress refused")
    assert httpserver.log == []


@pytest.mark.parametrize("url", ["http://localhost:{port}/hook", "http://[::1]:{port}/hook",
                                 "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd",
                                 "gopher://127.0.0.1:{port}/"])
def test_refused_targets_are_never_contacted(httpserver, url):
    with httpx.Client() as client, pytest.raises(EgressRefusedError):
        send(client, EgressPolicy(), method="POST", url=url.format(port=httpserver.port), content=b"{}")
    assert httpserver.log == []


@pytest.mark.parametrize("target", ["http://10.0.0.1/", "http://169.254.169.254/", "http://[fe80::1]/",
                                    "http://192.168.0.10:8080/x", "file:///etc/passwd"])
def test_a_redirect_to_a_private_address_is_refused(httpserver, target):
    httpserver.expect_request("/hook").respond_with_response(Response(status=302, headers={"Location": target}))
    with httpx.Client() as client, pytest.raises(EgressRefusedError):
        send(client, LOOPBACK, method="POST", url=httpserver.url_for("/hook"), content=b"{}")
    assert len(httpserver.log) == 1


def test_redirects_are_followed_re_checked_and_bounded(httpserver):
    httpserver.expect_request("/a").respond_with_response(Response(status=307, headers={"Location": "/b"}))
    httpserver.expect_request("/b", method="POST", data=b"{}").respond_with_data("done")
    for hop in range(5):
        httpserver.expect_request(f"/loop{hop}").respond_with_response(
            Response(status=302, headers={"Location": f"/loop{hop + 1}"}))
    with httpx.Client() as client:
        assert send(client, LOOPBACK, method="POST", url=httpserver.url_for("/a"), content=b"{}").text == "done"
        with pytest.raises(EgressRefusedError, match="redirects"):
            send(client, LOOPBACK, method="POST", url=httpserver.url_for("/loop0"), content=b"{}")


def test_the_request_is_pinned_to_the_checked_address(httpserver):
    """`hooks.invalid` exists only in our resolver: the connection goes to the address that was checked."""
    calls = []

    def resolve(host):
        calls.append(host)
        return ["127.0.0.1"]

    httpserver.expect_request("/hook").respond_with_data("ok")
    policy = EgressPolicy("127.0.0.1", resolve=resolve)
    with httpx.Client() as client:
        url = f"http://hooks.invalid:{httpserver.port}/hook"
        assert send(client, policy, method="POST", url=url, content=b"{}").status_code == 200
    assert calls == ["hooks.invalid"]
    request, _response = httpserver.log[0]
    assert request.headers["Host"] == f"hooks.invalid:{httpserver.port}"


# -- SMS ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "e164"), [("+1 415 555 0123", "+14155550123"), ("+49 151 23456789", "+4915123456789"),
                                           ("not a number", None), ("+1 555", None), ("", None)])
def test_normalise_number(raw, e164):
    assert normalise_number(raw) == e164


def test_generic_sms_posts_json(httpserver):
    httpserver.expect_request("/sms", method="POST").respond_with_data("{}", status=202)
    with SmsTransport(httpserver.url_for("/sms"), policy=LOOPBACK) as sms:
        results = sms.deliver([message(1, channel="sms", to="+1 (415) 555-0123"),
                               message(2, channel="sms", to="12345")])
    assert [r.status for r in results] == ["sent", "failed"]
    assert results[1].detail == "invalid_number"
    [(request, _)] = httpserver.log
    assert request.get_json() == {"to": "+14155550123", "text": "we miss you", "reference": "<1@w.test>"}


@pytest.mark.parametrize(("status", "expected"), [(429, "soft_failed"), (500, "soft_failed"), (502, "soft_failed"),
                                                  (400, "failed"), (401, "failed")])
def test_sms_outcomes(httpserver, status, expected):
    httpserver.expect_request("/sms").respond_with_data("no", status=status)
    with SmsTransport(httpserver.url_for("/sms"), policy=LOOPBACK) as sms:
        assert sms.deliver([message(1, channel="sms")])[0].status == expected


def test_twilio_form(httpserver):
    httpserver.expect_request("/2010-04-01/Accounts/AC123/Messages.json", method="POST").respond_with_json(
        {"sid": "SM1"}, status=201)
    spec = f"twilio://AC123:tok@127.0.0.1:{httpserver.port}?from=%2B14155550100&tls=none"
    with SmsTransport(spec, policy=LOOPBACK) as sms:
        assert sms.deliver([message(1, channel="sms")])[0].status == "sent"
    [(request, _)] = httpserver.log
    assert request.authorization.username == "AC123" and request.authorization.password == "tok"
    form = parse_qs(request.get_data(as_text=True))
    assert form == {"To": ["+14155550123"], "From": ["+14155550100"], "Body": ["we miss you"]}


# -- router -------------------------------------------------------------------------------------------------------

def test_router_groups_by_channel_and_keeps_order():
    email = MemoryTransport(lambda m: Delivery("sent", "email"))
    sms = MemoryTransport(lambda m: Delivery("soft_failed", "sms"))
    router = ChannelRouter({"email": email, "sms": sms})
    batch = [message(1, channel="sms"), message(2, channel="email"), message(3, channel="push"),
             message(4, channel="sms"), message(5, channel="email")]
    results = router.deliver(batch)
    assert [r.detail for r in results] == ["sms", "email", "no transport for channel push", "sms", "email"]
    assert results[2].status == "failed"
    assert [m.enrolment_id for m in sms.outbox] == [] and [m.enrolment_id for m in email.outbox] == [2, 5]


def test_open_transports_from_settings(tmp_path):
    settings = Settings(home=tmp_path, transport="memory", sms_transport="memory",
                        webhook_url="https://hooks.example.com/winback", webhook_secret="k")
    router = open_transports(settings)
    try:
        assert sorted(router.transports) == ["email", "sms", "webhook"]
        assert isinstance(router.transports["webhook"], WebhookTransport)
    finally:
        router.close()


def test_https_is_pinned_with_the_name_kept_for_sni_and_the_certificate(tmp_path):
    """The connection goes to the checked IP, while TLS still verifies the certificate against the host name."""
    import datetime as dt
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pytest_httpserver import HTTPServer

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context)
    server.expect_request("/hook").respond_with_data("ok")
    server.start()
    try:
        policy = EgressPolicy("127.0.0.1", resolve=lambda host: ["127.0.0.1"])
        client_context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        with httpx.Client(verify=client_context) as client:
            url = f"https://hooks.test:{server.port}/hook"
            assert send(client, policy, method="POST", url=url, content=b"{}").text == "ok"
            # A name the certificate does not carry fails verification, although the address is the same.
            with pytest.raises(httpx.ConnectError):
                send(client, policy, method="POST", url=f"https://other.test:{server.port}/hook", content=b"{}")
    finally:
        server.clear()
        server.stop()
