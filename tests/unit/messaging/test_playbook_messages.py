"""Every email step of every shipped playbook, for a Chinese and an English customer, through the production
composer: the message parses back (strict policy) to the same subject and body, its DKIM signature verifies, both
unsubscribe headers are present and signed, and header injection in a name or subject adds no header."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from test_playbook_templates import context as template_context

from winback.campaigns.files import parse_programme
from winback.campaigns.playbooks import playbook_names, playbook_text
from winback.messaging.compose import Draft, Recipient, localised
from winback.messaging.composer import TemplateComposer
from winback.messaging.dkim import DkimKey, DkimSigner, txt_value
from winback.messaging.templates import TemplateLibrary
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id

NOW = template_context("en")["last_purchase"]["date"].replace(year=2026, month=11, day=25)  # type: ignore[index]
KEY = DkimKey("s2026", rsa.generate_private_key(public_exponent=65537, key_size=2048))
LINKS = LinkBuilder(TokenSigner({"k1": b"0123456789abcdef0123"}, "k1", environment_id("https://t.shop.example")),
                    "https://t.shop.example")
CUSTOMERS = {"zh": ("C-zh", "王芳", "zh-CN", "wang@example.com"), "en": ("C-en", "Ann Lee", "en-GB", "ann@example.com")}


def _contexts(ids, now):
    out = {}
    for lang, (cid, *_rest) in CUSTOMERS.items():
        if cid in ids:
            ctx = dict(template_context(lang))
            for added in ("unsubscribe_url", "preferences_url", "view_in_browser_url", "postal_address", "sender_name"):
                ctx.pop(added)  # the composer adds these itself
            out[cid] = ctx
    return out


@pytest.fixture(scope="module")
def composer() -> TemplateComposer:
    return TemplateComposer(TemplateLibrary(), LINKS, sender="小茶馆 Teahouse <news@shop.example>", contexts=_contexts,
                            postal_address="Teahouse Ltd, 1 Harbour Road, Leith EH6 6LX",
                            dkim=DkimSigner("shop.example", [KEY]))


def _email_steps() -> list[tuple[str, str, str, object]]:
    steps = []
    for name in playbook_names():
        programme = parse_programme(playbook_text(name)).programme
        for step_id, step in zip(programme.step_ids, programme.steps, strict=True):
            send = step.send
            if send is None or send.channel != "email":
                continue
            for variant in send.variants or [None]:
                template = variant.template if variant is not None and variant.template else send.template
                subject = variant.subject if variant is not None and variant.subject is not None else send.subject
                steps.append((name, step_id, template, subject))
    return steps


def _dns(name: bytes, timeout: int = 5) -> bytes:
    assert name == b"s2026._domainkey.shop.example."
    return txt_value(KEY).encode()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("playbook", "step", "template", "subject"), _email_steps(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_playbook_message_round_trips_verifies_and_can_be_stopped(composer, playbook, step, template, subject, lang):
    cid, name, locale, address = CUSTOMERS[lang]
    draft = Draft(enrolment_id=7, programme_id=playbook, step=step, channel="email", to=address, template=template,
                  subject=subject, variant=None, recipient=Recipient(cid, name, locale), sent_at=NOW)
    out = composer.compose(draft)
    message = BytesParser(policy=policy.strict).parsebytes(out.payload)
    assert not message.defects
    expected_subject = localised(subject, locale, template)
    if "{" not in expected_subject:  # subjects without template expressions come back verbatim
        assert message["Subject"] == expected_subject
    assert name in str(message["To"]) and address in str(message["To"])
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert name.split()[0] in text + html and "Leith" in text and "Leith" in html
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://t.shop.example/u/") and "mailto:" in \
        message["List-Unsubscribe"]
    assert message["Message-ID"] == out.message_id
    signature = message["DKIM-Signature"]
    signed = {h.strip().lower() for h in signature.split("h=", 1)[1].split(";", 1)[0].replace("\r\n", "").split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject", "message-id"} <= signed
    assert dkim.verify(out.payload, dnsfunc=_dns)


@pytest.mark.parametrize("attack", ["x\r\nBcc: victim@example.net", "x\nBcc: victim@example.net",
                                    "=?utf-8?q?x=0D=0ABcc:_victim@example.net?="])
def test_header_injection_in_a_name_or_subject_adds_no_header(composer, attack):
    for name, subject in ((attack, "Hello"), ("Ann", attack)):
        draft = Draft(enrolment_id=8, programme_id="four-email-winback", step="reminder", channel="email",
                      to="ann@example.com", template="winback/reminder", subject=subject, variant=None,
                      recipient=Recipient("C-en", name, "en-GB"), sent_at=NOW)
        results = composer.compose_batch([draft])
        if isinstance(results[0], Exception):
            continue  # refused outright: nothing is sent
        message = BytesParser(policy=policy.strict).parsebytes(results[0].payload)
        assert message["Bcc"] is None and [k.lower() for k in message].count("to") == 1
        assert [a.addr_spec for a in message["To"].addresses] == ["ann@example.com"]
