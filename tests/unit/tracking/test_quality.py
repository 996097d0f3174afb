"""Engagement quality rules: each machine pattern gets its reason; a person's open or click gets none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from winback.tracking.quality import HUMAN, Verdict, all_links_within, classify_click, classify_open, truncate_ip

SENT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
LATER = SENT + timedelta(hours=3)
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0"
HOME_IP = "203.0.113.7"


@pytest.mark.parametrize(("agent", "ip", "at", "reason"), [
    (BROWSER, "17.58.63.12", LATER, "apple_mpp"),
    ("Mozilla/5.0", "198.51.100.3", LATER, "apple_mpp"),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", HOME_IP, LATER,
     "google_image_proxy"),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", HOME_IP, LATER, "yahoo_mail_proxy"),
    (BROWSER, "::ffff:17.1.2.3", LATER, "apple_mpp"),
    (BROWSER, HOME_IP, SENT + timedelta(seconds=3), "prefetch_after_send"),
])
def test_machine_opens(agent: str, ip: str, at: datetime, reason: str) -> None:
    assert classify_open(user_agent=agent, ip=ip, at=at, sent_at=SENT) == Verdict(True, reason)


def test_head_open_is_a_machine() -> None:
    assert classify_open(method="HEAD", user_agent=BROWSER, ip=HOME_IP, at=LATER, sent_at=SENT) == Verdict(
        True, "head_request")


def test_person_opens() -> None:
    assert classify_open(user_agent=BROWSER, ip=HOME_IP, at=LATER, sent_at=SENT) == HUMAN
    assert classify_open(user_agent=BROWSER, ip=HOME_IP, at=SENT + timedelta(seconds=10), sent_at=SENT) == HUMAN
    assert classify_open(user_agent=BROWSER, ip="not-an-ip", at=LATER, sent_at=None) == HUMAN
    # the threshold is a parameter
    assert classify_open(user_agent=BROWSER, ip=HOME_IP, at=SENT + timedelta(seconds=20), sent_at=SENT,
                         prefetch_seconds=30).reason == "prefetch_after_send"


@pytest.mark.parametrize(("method", "agent", "ip", "at", "reason"), [
    ("HEAD", BROWSER, HOME_IP, LATER, "head_request"),
    ("GET", "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b", HOME_IP,
     LATER, "scanner_agent"),
    ("GET", "Barracuda Sentinel (EE)", HOME_IP, LATER, "scanner_agent"),
    ("GET", "Mimecast-URL-Protect", HOME_IP, LATER, "scanner_agent"),
    ("GET", "curl/8.5.0", HOME_IP, LATER, "scanner_agent"),
    ("GET", "python-requests/2.32", HOME_IP, LATER, "scanner_agent"),
    ("GET", "", HOME_IP, LATER, "no_user_agent"),
    ("GET", BROWSER, HOME_IP, SENT + timedelta(seconds=1), "click_before_open"),
])
def test_machine_clicks(method: str, agent: str, ip: str, at: datetime, reason: str) -> None:
    assert classify_click(method=method, user_agent=agent, ip=ip, at=at, sent_at=SENT) == Verdict(True, reason)


def test_person_clicks() -> None:
    assert classify_click(method="GET", user_agent=BROWSER, ip=HOME_IP, at=LATER, sent_at=SENT) == HUMAN
    assert classify_click(method="get", user_agent=BROWSER, ip="2001:db8::1", at=SENT + timedelta(seconds=2),
                          sent_at=SENT) == HUMAN
    # a person behind Apple's relay network clicks; only the pixel fetches from there are the proxy's
    assert classify_click(method="GET", user_agent=BROWSER, ip="17.0.0.1", at=LATER, sent_at=SENT) == HUMAN
    # a phone model that happens to contain "bot" is not a bot
    assert not classify_click(method="GET", user_agent="Mozilla/5.0 (Linux; Android 9; Cubot X19)", ip=HOME_IP,
                              at=LATER, sent_at=None).machine


def test_all_links_within_seconds() -> None:
    t = LATER
    burst = [(t, "a"), (t + timedelta(seconds=1), "b"), (t + timedelta(seconds=2), "c")]
    assert all_links_within(burst, link_count=3)
    assert not all_links_within(burst[:2], link_count=3)
    assert not all_links_within(burst, link_count=4)
    slow = [(t, "a"), (t + timedelta(seconds=30), "b"), (t + timedelta(seconds=60), "c")]
    assert not all_links_within(slow, link_count=3)
    assert not all_links_within([(t, "a"), (t, "a"), (t, "a")], link_count=3)  # one link three times
    assert not all_links_within([(t, "a")], link_count=1)  # a one-link message says nothing
    # the window slides: a late burst after an early click still counts
    assert all_links_within([(t, "a"), *((t + timedelta(minutes=5, seconds=i), k) for i, k in enumerate("abc"))],
                            link_count=3)


@pytest.mark.parametrize(("ip", "truncated"), [
    ("203.0.113.77", "203.0.113.0/24"),
    ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
    ("::ffff:198.51.100.9", "198.51.100.0/24"),
    ("testclient", None),
    (None, None),
])
def test_addresses_are_truncated(ip: str | None, truncated: str | None) -> None:
    assert truncate_ip(ip) == truncated
