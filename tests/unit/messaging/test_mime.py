from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winback.messaging.compose import message_id
from winback.messaging.mime import HeaderInjectionError, MessageParts, build_message

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
UNSUB = "https://t.shop.example/u/AQJrMXsiYyI6IkMtMSJ9abc"


def parts(**changes) -> MessageParts:
    base = dict(from_name="Shop", from_addr="news@shop.example", to_name="Ann Lee", to_addr="ann@example.com",
                subject="We miss you", date=WHEN, message_id="<wb.1.s1@shop.example>",
                text=f"Hello Ann\nUnsubscribe: {UNSUB}\n", html=f'<p>Hello Ann</p><a href="{UNSUB}">Unsubscribe</a>',
                unsubscribe_url=UNSUB, unsubscribe_mailto="mailto:unsubscribe@shop.example?subject=unsubscribe-x",
                list_id="winback.shop.example", feedback_id="p1:s1:a:winback")
    base.update(changes)
    return MessageParts(**base)


def body(msg, kind: str) -> str:
    """A part's text with line ends normalised (the CRLF before a boundary belongs to the boundary)."""
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n").rstrip("\n")


def strict(raw: bytes):
    msg = BytesParser(policy=policy.strict).parsebytes(raw)
    assert not msg.defects
    for part in msg.walk():
        assert not part.defects
    return msg


def test_strict_reparse_round_trip() -> None:
    raw = build_message(parts())
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = strict(raw)
    assert msg["Subject"] == "We miss you"
    assert msg["From"].addresses[0].addr_spec == "news@shop.example"
    assert msg["To"].addresses[0].display_name == "Ann Lee"
    assert msg.get_content_type() == "multipart/alternative"
    assert body(msg, "plain") == f"Hello Ann\nUnsubscribe: {UNSUB}"
    assert body(msg, "html") == f'<p>Hello Ann</p><a href="{UNSUB}">Unsubscribe</a>'
    assert UNSUB in msg.get_body(("html",)).get_content()
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>, <mailto:unsubscribe@shop.example?subject=unsubscribe-x>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] == "<winback.shop.example>"
    assert msg["Feedback-ID"] == "p1:s1:a:winback"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime == WHEN


def test_chinese_subject_name_and_bodies_round_trip() -> None:
    subject = "张伟，我们想念您！这是一个很长的主题，需要用多个编码字来表示，以确保每一行都不会太长" * 2
    raw = build_message(parts(subject=subject, to_name="张伟", from_name="小店 · Shop \"Best\"",
                              text="您好，张伟\n退订：" + UNSUB, html="<p>您好，张伟</p>"))
    assert max(len(line) for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")) <= 78
    msg = strict(raw)
    assert msg["Subject"] == subject
    assert msg["To"].addresses[0].display_name == "张伟"
    assert msg["From"].addresses[0].display_name == "小店 · Shop \"Best\""
    assert body(msg, "plain") == "您好，张伟\n退订：" + UNSUB
    assert body(msg, "html") == "<p>您好，张伟</p>"


def test_ascii_specials_in_names_are_quoted() -> None:
    msg = strict(build_message(parts(to_name='Lee, Ann "A" <x@y>', subject="a " * 60)))
    assert msg["To"].addresses[0].display_name == 'Lee, Ann "A" <x@y>'
    assert msg["To"].addresses[0].addr_spec == "ann@example.com"
    assert msg["Subject"] == "a " * 60


@pytest.mark.parametrize("field", ["subject", "to_name", "from_name"])
@pytest.mark.parametrize("evil", ["x\r\nBcc: a@b", "x\nBcc: a@b", "x\rBcc: a@b", "=?utf-8?q?x=0D=0ABcc:_a@b?=",
                                  "=?utf-8?b?eA0KQmNjOiBhQGI=?=", "x\x00y"])
def test_header_injection_is_refused(field: str, evil: str) -> None:
    with pytest.raises(HeaderInjectionError):
        build_message(parts(**{field: evil}))


@pytest.mark.parametrize("addr", ["ann@example.com\r\nBcc: a@b", "ann@example.com>, b@evil", "not-an-address",
                                  "张@example.com", "a b@example.com"])
def test_bad_addresses_are_refused(addr: str) -> None:
    with pytest.raises(HeaderInjectionError):
        build_message(parts(to_addr=addr))


def test_idn_domain_is_punycoded() -> None:
    msg = strict(build_message(parts(to_addr="ann@例子.中国")))
    assert msg["To"].addresses[0].domain == "xn--fsqu00a.xn--fiqs8s"


def test_literal_encoded_word_lookalike_is_kept_literal() -> None:
    msg = strict(build_message(parts(subject="price =?x?= today")))
    assert msg["Subject"] == "price =?x?= today"


@settings(max_examples=150, deadline=None)
@given(subject=st.text(max_size=200), name=st.text(max_size=60))
def test_fuzz_no_extra_header_is_ever_emitted(subject: str, name: str) -> None:
    try:
        raw = build_message(parts(subject=subject, to_name=name))
    except HeaderInjectionError:
        return
    msg = BytesParser(policy=policy.strict).parsebytes(raw)
    assert msg.keys() == ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Unsubscribe",
                          "List-Unsubscribe-Post", "List-Id", "Feedback-ID", "Content-Type"]
    assert msg["Subject"] == subject
    if name.strip():
        assert msg["To"].addresses[0].addr_spec == "ann@example.com"


def test_message_id_is_stable_per_enrolment_step() -> None:
    mid = message_id(enrolment_id=7, step="s1", domain="shop.example")
    a = strict(build_message(parts(message_id=mid)))
    b = strict(build_message(parts(message_id=mid, date=datetime(2026, 12, 1, tzinfo=UTC))))
    assert a["Message-ID"] == b["Message-ID"] == "<wb.7.s1@shop.example>"
    with pytest.raises(HeaderInjectionError):
        build_message(parts(message_id="wb.7.s1"))


def test_text_only_and_long_ascii_lines() -> None:
    msg = strict(build_message(parts(html=None, text="x" * 2000)))
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "x" * 2000


def test_unsubscribe_url_must_be_https() -> None:
    with pytest.raises(HeaderInjectionError):
        build_message(parts(unsubscribe_url="http://t.shop.example/u/x"))
    with pytest.raises(HeaderInjectionError):
        build_message(parts(unsubscribe_url="https://t.shop.example/u/x>, <https://evil"))


@given(st.binary(max_size=3_000))
def test_base64_lines_are_what_the_standard_library_writes(data: bytes) -> None:
    import base64

    from winback.messaging.mime import _base64_lines

    assert _base64_lines(data) == base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")
