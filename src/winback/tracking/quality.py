"""Engagement quality: which opens and clicks were made by machines (privacy proxies, link scanners), not people.

Pure functions of what the request shows (method, user agent, address, time since the send). Every rule returns a
short `reason`; the tracking service stores it with `machine=True` beside the engagement, and machine rows never
count as engagement. The rules and their sources are listed in docs/tracking.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

__all__ = ["MACHINE_CLICK_AGENTS", "MACHINE_OPEN_AGENTS", "PROXY_NETWORKS", "Verdict", "all_links_within",
           "classify_click", "classify_open", "truncate_ip"]

# An open this soon after the send was fetched on delivery (a proxy or a security gateway), not read.
OPEN_PREFETCH_SECONDS = 10.0
# A person has to open a message before they can click in it: a click this soon after the send is a scanner.
CLICK_BEFORE_OPEN_SECONDS = 2.0
# Every link of a message clicked within this many seconds: a scanner following all links.
ALL_LINKS_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a machine made the request, and the rule that said so (None for a person)."""

    machine: bool
    reason: str | None = None


HUMAN = Verdict(False)

# (substring of the User-Agent, reason): image proxies that fetch the pixel on the reader's behalf.
MACHINE_OPEN_AGENTS: tuple[tuple[str, str], ...] = (
    ("GoogleImageProxy", "google_image_proxy"),  # Gmail image proxy (via ggpht.com)
    ("YahooMailProxy", "yahoo_mail_proxy"),  # Yahoo / AOL mail image proxy
    ("Mimecast", "scanner_agent"),
    ("Barracuda", "scanner_agent"),
    ("Proofpoint", "scanner_agent"),
)

# (lower-case substring of the User-Agent, reason): link scanners, previewers and HTTP libraries.
MACHINE_CLICK_AGENTS: tuple[tuple[str, str], ...] = tuple((agent.lower(), "scanner_agent") for agent in (
    "Barracuda", "Mimecast", "Proofpoint", "BingPreview", "Microsoft Office Protocol Discovery", "SafeLinks",
    "Symantec", "Messagelabs", "IronPort", "Cisco", "Trend Micro", "Sophos", "Forcepoint", "FireEye", "Fortinet",
    "Zscaler", "Bitdefender", "Kaspersky", "Google-Safety", "GoogleImageProxy", "YahooMailProxy", "Slackbot",
    "facebookexternalhit", "Twitterbot", "LinkedInBot", "WhatsApp", "TelegramBot", "Discordbot", "SkypeUriPreview",
    "HeadlessChrome", "PhantomJS", "curl/", "Wget/", "python-requests", "python-urllib", "python-httpx", "aiohttp",
    "Go-http-client", "Java/", "okhttp", "libwww-perl", "Apache-HttpClient", "node-fetch", "axios/", "bot/",
    "bot;", "bot-", "crawler", "spider",
))

# Networks whose fetches are proxies: Apple Mail Privacy Protection fetches every image of every message on
# delivery from Apple's network (17.0.0.0/8, registered to Apple Inc.).
PROXY_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (ipaddress.ip_network("17.0.0.0/8"), "apple_mpp"),
)

# Apple Mail Privacy Protection sends exactly this User-Agent, with nothing after it; real mail clients add more.
APPLE_MPP_AGENT = "Mozilla/5.0"


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


@lru_cache(maxsize=65536)  # visitors come back from the same addresses; parsing one costs more than the rest
def _network_reason(ip: str | None) -> str | None:
    address = _address(ip)
    if address is None:
        return None
    return next((reason for net, reason in PROXY_NETWORKS if address.version == net.version and address in net), None)


def _seconds_after(at: datetime, sent_at: datetime | None) -> float | None:
    return None if sent_at is None else (at - sent_at).total_seconds()


def classify_open(*, user_agent: str | None, ip: str | None, at: datetime, sent_at: datetime | None,
                  method: str = "GET", prefetch_seconds: float = OPEN_PREFETCH_SECONDS) -> Verdict:
    """An open pixel fetch: a HEAD request, a proxy by network or agent, or a fetch within `prefetch_seconds` of the
    send."""
    if method.upper() == "HEAD":  # a mail client shows the image, which takes a GET
        return Verdict(True, "head_request")
    agent = (user_agent or "").strip()
    if (reason := _network_reason(ip)) is not None:
        return Verdict(True, reason)
    if agent == APPLE_MPP_AGENT:
        return Verdict(True, "apple_mpp")
    for needle, reason in MACHINE_OPEN_AGENTS:
        if needle in agent:
            return Verdict(True, reason)
    after = _seconds_after(at, sent_at)
    if after is not None and after < prefetch_seconds:
        return Verdict(True, "prefetch_after_send")
    return HUMAN


def classify_click(*, method: str, user_agent: str | None, ip: str | None, at: datetime, sent_at: datetime | None,
                   before_open_seconds: float = CLICK_BEFORE_OPEN_SECONDS) -> Verdict:
    """A click: a HEAD request, a known scanner agent or no agent, or too soon after the send."""
    if method.upper() == "HEAD":
        return Verdict(True, "head_request")
    agent = (user_agent or "").strip().lower()
    if not agent:
        return Verdict(True, "no_user_agent")
    for needle, reason in MACHINE_CLICK_AGENTS:
        if needle in agent:
            return Verdict(True, reason)
    # No network rule: privacy proxies fetch images, not links, and people behind Apple's relays do click.
    after = _seconds_after(at, sent_at)
    if after is not None and after < before_open_seconds:
        return Verdict(True, "click_before_open")
    return HUMAN


def all_links_within(clicks: Sequence[tuple[datetime, str]], *, link_count: int,
                     seconds: float = ALL_LINKS_SECONDS) -> bool:
    """True when the clicks (time, link key) of one message cover all its `link_count` links (two or more) within
    `seconds` of each other: people click one or two links, scanners follow them all at once."""
    if link_count < 2 or len(clicks) < link_count:
        return False
    ordered = sorted(clicks)
    window = timedelta(seconds=seconds)
    start = 0
    for end in range(len(ordered)):
        while ordered[end][0] - ordered[start][0] > window:
            start += 1
        if len({key for _, key in ordered[start:end + 1]}) >= link_count:
            return True
    return False


@lru_cache(maxsize=65536)
def truncate_ip(ip: str | None) -> str | None:
    """The address with its host part cut off for privacy: IPv4 to /24, IPv6 to /48 (None if not an address)."""
    address = _address(ip)
    if address is None:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
