from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from winback.messaging.dkim import DkimKey, DkimSigner
from winback.messaging.mime import MessageParts, build_message
from winback.messaging.preflight import organisational_domain, preflight

UNSUB = "https://t.shop.example/u/AQJrMXsi"
ADDRESS = "Shop Ltd, 1 Main Street, Springfield 12345"
SIGNER = DkimSigner("shop.example", [DkimKey("s1", rsa.generate_private_key(public_exponent=65537, key_size=2048))])


def build(**changes) -> bytes:
    base = dict(from_name="Shop", from_addr="news@mail.shop.example", to_name="Ann", to_addr="ann@example.com",
                subject="We miss you", date=datetime(2026, 11, 25, tzinfo=UTC), message_id="<wb.1.s1@shop.example>",
                text=f"Hello\n\nUnsubscribe: {UNSUB}\nShop Ltd, 1 Main Street,\nSpringfield 12345\n",
                html=f'<p>Hello</p><p><a href="{UNSUB}">Unsubscribe</a></p><p>Shop Ltd<br>1 Main Street<br>'
                     "Springfield 12345</p>",
                unsubscribe_url=UNSUB, unsubscribe_mailto="mailto:unsubscribe@shop.example?subject=x")
    base.update(changes)
    return build_message(MessageParts(**base))


def check(raw: bytes, *, sign: bool = True, domain: str = "shop.example", address: str | None = ADDRESS):
    if sign:
        raw = SIGNER.sign(raw)
    return preflight(raw, marketing=True, signing_domain=domain, postal_address=address)


def test_a_complete_message_passes() -> None:
    assert check(build()) == []
    assert preflight(build(), marketing=True, signing_domain=None, postal_address=ADDRESS) == []


@pytest.mark.parametrize(("raw", "kwargs", "problem"), [
    (build(unsubscribe_url=None), {}, "no HTTPS List-Unsubscribe"),
    (build().replace(b"<https://t.shop.example", b"<http://t.shop.example"), {}, "no HTTPS List-Unsubscribe"),
    (build().replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b""), {},
     "no List-Unsubscribe-Post"),
    (build(html="<p>Hello</p><p>Shop Ltd, 1 Main Street, Springfield 12345</p>"), {},
     "no visible unsubscribe link in the HTML body"),
    (build(text=f"Hello\n{ADDRESS}\n"), {}, "no unsubscribe link in the text body"),
    (build(html=None), {}, "no HTML body"),
    (build(), {"address": None}, "postal address is not set"),
    (build(text=f"Hello {UNSUB}"), {}, "postal address is not in the text body"),
    (build(html=f'<a href="{UNSUB}">Unsubscribe</a>'), {}, "postal address is not in the HTML body"),
    (build().replace(b"Message-ID: <wb.1.s1@shop.example>", b"Message-ID: wb.1.s1"), {}, "no valid Message-ID"),
    (build(from_addr="news@other.example"), {}, "not aligned"),
    (build(), {"sign": False}, "not DKIM-signed"),
    (build(), {"domain": "shop.example.net"}, "not DKIM-signed"),
])
def test_each_missing_item_blocks(raw: bytes, kwargs: dict, problem: str) -> None:
    problems = check(raw, **kwargs)
    assert any(problem in p for p in problems), problems


def test_unsubscribe_headers_added_after_signing_are_not_covered() -> None:
    bare = build(unsubscribe_url=None, unsubscribe_mailto=None)
    signed = SIGNER.sign(bare)
    head, _, body = signed.partition(b"\r\n\r\n")
    late = head + f"\r\nList-Unsubscribe: <{UNSUB}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click".encode()
    problems = preflight(late + b"\r\n\r\n" + body, marketing=True, signing_domain="shop.example",
                         postal_address=ADDRESS)
    assert problems == ["DKIM signature (s=s1) does not cover list-unsubscribe, list-unsubscribe-post"]


def test_transactional_mail_needs_only_identity() -> None:
    raw = build(unsubscribe_url=None, html=None, text="Your receipt")
    assert preflight(raw, marketing=False, signing_domain=None) == []
    assert preflight(SIGNER.sign(raw), marketing=False, signing_domain="shop.example") == []


def test_organisational_domain() -> None:
    assert organisational_domain("mail.shop.example") == "shop.example"
    assert organisational_domain("news.shop.com.cn") == "shop.com.cn"
    assert organisational_domain("a.b.shop.co.uk") == "shop.co.uk"


def test_a_standard_library_message_is_read_the_same_way() -> None:
    """The lean parser agrees with the standard library on a message it did not build (quoted-printable, LF ends)."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Shop <news@shop.example>"
    msg["To"] = "ann@example.com"
    msg["Subject"] = "Hi"
    msg["Message-ID"] = "<x.1@shop.example>"
    msg["List-Unsubscribe"] = f"<{UNSUB}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(f"Grüße\n{UNSUB}\n{ADDRESS}\n", cte="quoted-printable")
    msg.add_alternative(f'<p>Grüße</p><a href="{UNSUB}">x</a><p>{ADDRESS}</p>', subtype="html",
                        cte="quoted-printable")
    assert preflight(bytes(msg), marketing=True, signing_domain=None, postal_address=ADDRESS) == []
    assert preflight(bytes(msg).replace(UNSUB.encode(), b"https://elsewhere.example/"), marketing=True,
                     signing_domain=None, postal_address=ADDRESS) == ["no visible unsubscribe link in the HTML body",
                                                                      "no unsubscribe link in the text body"]
