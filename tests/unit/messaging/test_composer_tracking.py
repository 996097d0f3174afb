"""Tracked links and the open pixel in composed messages: what the tracking service will accept comes from here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

from test_playbook_templates import context as template_context

from winback.messaging.compose import Draft, Recipient
from winback.messaging.composer import TemplateComposer
from winback.messaging.templates import TemplateLibrary
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id, link_key

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BASE = "https://t.shop.example"
LINKS = LinkBuilder(TokenSigner({"k1": b"0123456789abcdef0123"}, "k1", environment_id(BASE)), BASE)
ADDED = ("unsubscribe_url", "preferences_url", "view_in_browser_url", "postal_address", "sender_name")


def _contexts(ids, now):
    ctx = {k: v for k, v in template_context("en").items() if k not in ADDED and k != "shop_url"}
    return {cid: dict(ctx, customer_id=cid) for cid in ids}


def _composer(**options) -> TemplateComposer:
    return TemplateComposer(TemplateLibrary(), LINKS, sender="Tea <news@shop.example>", contexts=_contexts,
                            postal_address="Tea Ltd, 1 Harbour Road, Leith", **options)


def _draft() -> Draft:
    return Draft(enrolment_id=7, programme_id="p", step="s1", channel="email", to="ann@example.com",
                 template="winback/whats-new", subject="What's new", variant=None,
                 recipient=Recipient("C-1", "Ann", "en-GB"), sent_at=NOW)


def _bodies(raw: bytes) -> tuple[str, str]:
    msg = BytesParser(policy=policy.strict).parsebytes(raw)
    return msg.get_body(("html",)).get_content(), msg.get_body(("plain",)).get_content()


def test_links_are_tracked_recorded_and_verify_for_this_message() -> None:
    out = _composer(shop_url="https://shop.example/", product_url="https://shop.example/p/{sku}").compose(_draft())
    html, text = _bodies(out.payload)
    recorded = dict(out.links)
    assert "https://shop.example/" in recorded.values()
    assert any(url.startswith("https://shop.example/p/") for url in recorded.values())
    assert all(link_key(url) == key for key, url in recorded.items())
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert not [h for h in hrefs if h.startswith("https://shop.example")]  # every shop link goes through /c/
    clicks = [h for h in hrefs if h.startswith(f"{BASE}/c/")]
    assert clicks
    for href in clicks:
        payload = LINKS.signer.verify(href.rsplit("/", 1)[1], "click")
        assert (payload["c"], payload["e"], payload["s"]) == ("C-1", 7, "s1") and payload["k"] in recorded
    assert any(h.startswith(f"{BASE}/u/") for h in hrefs)  # the unsubscribe link itself, not wrapped
    pixel = re.search(rf'<img src="{re.escape(BASE)}/o/([^".]+)\.gif"', html)
    assert pixel is not None
    assert LINKS.signer.verify(pixel.group(1), "open")["e"] == 7
    assert "https://shop.example" not in text


def test_tracking_can_be_turned_off() -> None:
    out = _composer(shop_url="https://shop.example/", track_opens=False, track_clicks=False).compose(_draft())
    html, _ = _bodies(out.payload)
    assert out.links == ()
    assert 'href="https://shop.example/"' in html and f"{BASE}/o/" not in html and f"{BASE}/c/" not in html


def test_without_a_shop_or_product_url_there_is_nothing_to_track_but_the_pixel() -> None:
    out = _composer().compose(_draft())
    html, _ = _bodies(out.payload)
    assert out.links == () and f"{BASE}/o/" in html
