"""The SMTP reply classifier, table-driven (RELIABILITY.md items 3, 9, 10, 12, 21, 22)."""

from __future__ import annotations

import pytest

from winback.domain.errors import ConfigError
from winback.messaging.transports.smtp import classify, parse_smtp_spec


@pytest.mark.parametrize(("code", "message", "status", "enhanced"), [
    (250, "2.0.0 Ok: queued as 4F1", "sent", "2.0.0"),
    (250, "Ok", "sent", None),
    (421, "4.7.0 Try again later, closing connection", "soft_failed", "4.7.0"),
    (450, "4.2.1 The user you are trying to contact is receiving mail too quickly", "soft_failed", "4.2.1"),
    (451, "4.3.0 Temporary lookup failure", "soft_failed", "4.3.0"),
    (452, "Insufficient system storage", "soft_failed", "4.0.0"),
    (550, "5.1.1 The email account that you tried to reach does not exist", "hard_bounced", "5.1.1"),
    (553, "5.1.3 Bad recipient address syntax", "hard_bounced", "5.1.3"),
    (552, "5.2.2 Mailbox full", "soft_failed", "5.2.2"),
    (552, "Requested mail action aborted: exceeded storage allocation", "soft_failed", "5.2.2"),
    (554, "5.7.1 Message rejected due to policy", "failed", "5.7.x"),
    (550, "5.7.26 Unauthenticated email from example.com is not accepted", "failed", "5.7.x"),
    (550, "Mailbox unavailable", "failed", "5.0.0"),
    (552, "5.3.4 Message size exceeds fixed limit", "failed", "5.3.4"),
    (554, "5.6.0 Message content rejected", "failed", "5.6.0"),
    (535, "5.7.8 Username and Password not accepted", "soft_failed", "5.7.8"),
    (535, "Authentication failed", "soft_failed", "5.7.8"),
])
def test_classify(code, message, status, enhanced):
    delivery = classify(code, message)
    assert (delivery.status, delivery.code) == (status, enhanced)
    assert str(code) in delivery.detail


def test_blocked_is_a_failure_not_a_bounce():
    delivery = classify(554, "5.7.1 Service unavailable; client host blocked using zen.spamhaus.org")
    assert delivery.status == "failed" and delivery.detail.startswith("blocked:")


def test_folded_reply_text_is_one_line():
    assert "\n" not in classify(550, "5.1.1 first line\n5.1.1 second line").detail


@pytest.mark.parametrize(("spec", "expected"), [
    ("smtp://relay.test", {"host": "relay.test", "port": 587, "tls": "starttls", "pool": 8, "per_domain": 4}),
    ("smtp://u:p%40ss@relay.test:465?tls=implicit&pool=16", {"port": 465, "tls": "implicit", "pool": 16,
                                                              "username": "u", "password": "p@ss"}),
    ("smtp://relay.test:2525?tls=none&per_domain=2&timeout=5", {"port": 2525, "per_domain": 2, "timeout": 5.0}),
])
def test_spec(spec, expected):
    settings = parse_smtp_spec(spec)
    assert {key: getattr(settings, key) for key in expected} == expected


def test_password_from_environment(monkeypatch):
    monkeypatch.setenv("RELAY_PASSWORD", "from-env")
    assert parse_smtp_spec("smtp://u@relay.test?password_env=RELAY_PASSWORD").password == "from-env"


@pytest.mark.parametrize("spec", ["smtp://relay.test?tls=ssl", "smtp://relay.test?pool=0", "smtp://relay.test?x=1",
                                  "smtp://u@relay.test?password_env=NOT_SET_ANYWHERE_42", "smtp://"])
def test_bad_spec_is_a_config_error(spec):
    with pytest.raises(ConfigError):
        parse_smtp_spec(spec)


def test_the_password_is_not_echoed():
    with pytest.raises(ConfigError) as error:
        parse_smtp_spec("smtp://u:hunter2@relay.test?tls=ssl")
    assert "hunter2" not in str(error.value)
