"""Turning the engine's send decision into a deliverable message.

`PlainComposer` writes a standards-correct plain-text email (or an SMS / webhook JSON body) that names the
programme's template, so programmes can run end to end into a sink; the template renderer of the messaging layer
replaces it behind the same `Composer` interface.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, Protocol

from winback.domain.errors import ConfigError
from winback.messaging.transports.base import Outbound


@dataclass(frozen=True)
class Recipient:
    customer_id: str
    name: str | None
    locale: str | None


@dataclass(frozen=True)
class Draft:
    """Everything the engine decided about one message."""

    enrolment_id: int
    programme_id: str
    step: str
    channel: str
    to: str
    template: str
    subject: str | dict[str, str] | None
    variant: str | None
    recipient: Recipient
    sent_at: Any  # datetime of the hand-off (the engine's clock)
    incentive: Any = None  # the step's `Incentive`: the composer issues a coupon for it


class Composer(Protocol):
    def compose(self, draft: Draft) -> Outbound: ...


def message_id(*, enrolment_id: int, step: str, domain: str) -> str:
    """The same for every hand-off of one (enrolment, step), so a retry is recognisable as the same message."""
    return f"<wb.{enrolment_id}.{step}@{domain}>"


def localised(text: str | dict[str, str] | None, locale: str | None, fallback: str) -> str:
    """Pick the text for the customer's language (`zh-CN` → `zh`), else English, else the first given."""
    if text is None:
        return fallback
    if isinstance(text, str):
        return text
    lang = (locale or "en").replace("_", "-").split("-")[0].lower()
    return text.get(locale or "", text.get(lang, text.get("en", next(iter(text.values()), fallback))))


class PlainComposer:
    """A plain-text message per draft; `sender` is the From address (`Name <addr@domain>`)."""

    def __init__(self, sender: str) -> None:
        name, addr = parseaddr(sender)
        if "@" not in addr:
            raise ConfigError(f"sender {sender!r} is not an email address (WINBACK_MAIL_FROM)")
        self.sender = Address(display_name=name, addr_spec=addr)
        self.domain = addr.rsplit("@", 1)[1]

    def compose(self, draft: Draft) -> Outbound:
        mid = message_id(enrolment_id=draft.enrolment_id, step=draft.step, domain=self.domain)
        subject = localised(draft.subject, draft.recipient.locale, draft.template)
        if draft.channel == "email":
            payload = self._email(draft, mid, subject)
        else:
            payload = json.dumps({"to": draft.to, "message_id": mid, "template": draft.template, "text": subject,
                                  "customer_id": draft.recipient.customer_id}, ensure_ascii=False).encode()
        return Outbound(enrolment_id=draft.enrolment_id, step=draft.step, programme_id=draft.programme_id,
                        customer_id=draft.recipient.customer_id, channel=draft.channel, to=draft.to,
                        message_id=mid, payload=payload, variant=draft.variant)

    def _email(self, draft: Draft, mid: str, subject: str) -> bytes:
        # Assembled directly rather than through EmailMessage (≈1.8 ms a message): headers are checked for line
        # breaks and encoded per RFC 2047 when not ASCII; the body is 7bit when ASCII, else base64 UTF-8.
        greeting = f"Hello {draft.recipient.name}," if draft.recipient.name else "Hello,"
        body = f"{greeting}\r\n\r\n{subject}\r\n\r\n(template: {draft.template})\r\n"
        headers = [
            ("From", self._from),
            ("To", _address(draft.recipient.name, draft.to)),
            ("Subject", _text(subject)),
            ("Date", format_datetime(draft.sent_at)),
            ("Message-ID", mid),
            ("MIME-Version", "1.0"),
            ("X-Winback-Programme", _text(draft.programme_id)),
            ("X-Winback-Step", _text(draft.step)),
        ]
        if draft.variant:
            headers.append(("X-Winback-Variant", _text(draft.variant)))
        if body.isascii():
            headers += [("Content-Type", 'text/plain; charset="us-ascii"'), ("Content-Transfer-Encoding", "7bit")]
            encoded = body
        else:
            headers += [("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "base64")]
            raw = base64.encodebytes(body.encode()).decode("ascii")
            encoded = raw.replace("\n", "\r\n")
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        return f"{head}\r\n{encoded}".encode("ascii")

    @property
    def _from(self) -> str:
        return _address(self.sender.display_name, self.sender.addr_spec)


class HeaderInjectionError(ValueError):
    """A header value with a line break: refused, never folded into an extra header."""


def _clean(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjectionError(f"line break in a header value: {value[:60]!r}")
    return value


def _text(value: str) -> str:
    value = _clean(value)
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def _address(name: str | None, addr: str) -> str:
    _clean(addr)
    if not addr.isascii():
        local, _, domain = addr.rpartition("@")
        if not local.isascii():
            raise HeaderInjectionError(f"address {addr!r} needs SMTPUTF8, which this composer does not send")
        addr = f"{local}@{domain.encode('idna').decode('ascii')}"
    if not name:
        return addr
    return formataddr((_clean(name), addr), charset="utf-8")
