from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from winback.domain.errors import UserError
from winback.messaging.compose import Draft, Recipient
from winback.messaging.composer import ComposeError, PreflightError, TemplateComposer
from winback.messaging.dkim import DkimKey, DkimSigner, txt_value
from winback.messaging.transports.base import Outbound
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ADDRESS = "Shop Ltd, 1 Main Street, Springfield 12345"
KEY = DkimKey("s1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
LINKS = LinkBuilder(TokenSigner({"k1": b"0123456789abcdef-k1"}, "k1", environment_id("https://t.shop.example")),
                    "https://t.shop.example")


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class FakeLibrary:
    """Stands in for `TemplateLibrary`: a footer like the shipped one, or none (`bare`), or a failure (`broken`)."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def render(self, name: str, *, locale: str | None, subject: str, context: dict[str, Any]) -> Rendered:
        self.contexts.append(context)
        if name == "broken":
            raise UserError("template broken: missing")
        footer = "" if name == "bare" else (
            f'<p>{context["sender_name"]} · {context["postal_address"]}</p>'
            f'<a href="{context["unsubscribe_url"]}">Unsubscribe</a>')
        text_footer = "" if name == "bare" else \
            f"{context['postal_address']}\nUnsubscribe: {context['unsubscribe_url']}"
        return Rendered(subject=subject.replace("{{ name }}", context["name"]),
                        html=f"<p>Hi {context['name']}</p>{footer}", text=f"Hi {context['name']}\n{text_footer}")


class Contexts:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, ids, now):
        self.calls.append(list(ids))
        return {cid: {"customer_id": cid, "name": {"c1": "张伟", "c2": "Ann"}.get(cid, "there"), "locale": "zh-CN"}
                for cid in ids if cid != "ghost"}


def draft(eid: int, cid: str, *, template: str = "winback/reminder", channel: str = "email",
          to: str | None = None) -> Draft:
    return Draft(enrolment_id=eid, programme_id="winback-90", step="s1", channel=channel,
                 to=to or f"{cid}@example.com", template=template,
                 subject={"zh": "{{ name }}，我们想念您", "en": "We miss you, {{ name }}"}, variant="b",
                 recipient=Recipient(cid, None, "zh-CN"), sent_at=NOW)


def composer(*, signed: bool = True, address: str | None = ADDRESS, library: FakeLibrary | None = None,
             contexts: Contexts | None = None) -> TemplateComposer:
    return TemplateComposer(library or FakeLibrary(), LINKS, sender="小店 <news@shop.example>",
                            contexts=contexts or Contexts(), postal_address=address,
                            dkim=DkimSigner("shop.example", [KEY]) if signed else None)


def test_batch_builds_contexts_once_and_signs() -> None:
    contexts = Contexts()
    out = composer(contexts=contexts).compose_batch([draft(1, "c1"), draft(2, "c2"), draft(3, "c1")])
    assert contexts.calls == [["c1", "c2"]]
    assert all(isinstance(o, Outbound) for o in out)
    first = out[0]
    assert isinstance(first, Outbound)
    assert first.message_id == "<wb.1.s1@shop.example>"
    records = {b"s1._domainkey.shop.example.": txt_value(KEY).encode()}
    assert dkim.verify(first.payload, dnsfunc=lambda name, timeout=5: records.get(name))
    msg = BytesParser(policy=policy.strict).parsebytes(first.payload)
    assert msg["Subject"] == "张伟，我们想念您"
    assert msg["From"].addresses[0].display_name == "小店"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Feedback-ID"] == "winback-90:s1:b:winback"
    assert msg["List-Id"] == "<winback.shop.example>"
    url = msg["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert LINKS.signer.verify(url.rsplit("/", 1)[1], "unsubscribe") == {"c": "c1", "e": 1, "s": "s1"}
    assert url in msg.get_body(("html",)).get_content()


def test_context_gets_links_address_and_sender() -> None:
    library = FakeLibrary()
    composer(library=library).compose(draft(1, "c2"))
    ctx = library.contexts[0]
    assert ctx["postal_address"] == ADDRESS and ctx["sender_name"] == "小店" and ctx["coupon"] is None
    assert ctx["preferences_url"].startswith("https://t.shop.example/p/")
    assert ctx["view_in_browser_url"].startswith("https://t.shop.example/v/")


def test_a_blocked_message_is_a_preflight_error_the_others_go() -> None:
    out = composer().compose_batch([draft(1, "c1", template="bare"), draft(2, "c2")])
    assert isinstance(out[0], PreflightError) and isinstance(out[0], ValueError)
    assert "no visible unsubscribe link in the HTML body" in str(out[0])
    assert isinstance(out[1], Outbound)


def test_no_postal_address_blocks_marketing() -> None:
    out = composer(address=None).compose_batch([draft(1, "c1")])
    assert isinstance(out[0], PreflightError)
    assert any("postal address" in p for p in out[0].problems)


def test_failures_per_message_are_values_not_raises() -> None:
    out = composer().compose_batch([draft(1, "c1", template="broken"), draft(2, "ghost"),
                                    draft(3, "c1", to="x@y\r\nBcc: a@b"), draft(4, "c2")])
    assert isinstance(out[0], ComposeError) and "template broken" in str(out[0])
    assert isinstance(out[1], ComposeError) and "no personalisation context" in str(out[1])
    assert isinstance(out[2], ValueError)
    assert isinstance(out[3], Outbound)
    with pytest.raises(ComposeError):
        composer().compose(draft(1, "ghost"))


def test_unsigned_composer_and_other_channels() -> None:
    out = composer(signed=False).compose_batch([draft(1, "c1"), draft(2, "c2", channel="sms", to="+8613800000000")])
    assert isinstance(out[0], Outbound) and b"DKIM-Signature" not in out[0].payload
    assert isinstance(out[1], Outbound) and out[1].channel == "sms"


def test_message_id_is_stable_across_retries() -> None:
    c = composer()
    assert c.compose(draft(7, "c1")).message_id == c.compose(draft(7, "c1")).message_id == "<wb.7.s1@shop.example>"
