"""The transport seam: deliver a batch of rendered messages, say what happened to each.

A transport never raises for one recipient's failure: it returns a `Delivery` per message, in order. Statuses:
`sent` (accepted by the next hop), `soft_failed` (temporary; the engine retries with backoff), `failed` (permanent
for this message), `hard_bounced` (the address does not exist; the engine exits and suppresses), `unknown` (handed
over but no answer — the engine retries with the same Message-ID and counts a possible duplicate).

`failed` and `hard_bounced` are about one message or recipient. A failure of the sending side — a refused login, an
unreachable relay, a full disk — is `soft_failed` for every message it touches: those messages were not sent, so
when the error budget has paused the programme and it is resumed, they go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from winback.domain.errors import ConfigError

Status = Literal["sent", "soft_failed", "failed", "hard_bounced", "unknown"]
STATUSES: tuple[Status, ...] = ("sent", "soft_failed", "failed", "hard_bounced", "unknown")


@dataclass(frozen=True)
class Outbound:
    """One rendered message for one recipient; `message_id` is stable per (enrolment, step)."""

    enrolment_id: int
    step: str
    programme_id: str
    customer_id: str
    channel: str
    to: str
    message_id: str
    payload: bytes  # email: the RFC 5322 message; sms / webhook: UTF-8 JSON
    variant: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()  # email: (link_key, URL) of each tracked link, recorded before sending


@dataclass(frozen=True)
class Delivery:
    status: Status
    detail: str = ""
    code: str | None = None  # e.g. an SMTP enhanced status code


class Transport(Protocol):
    name: str

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Hand each message over; one `Delivery` per message, in order."""
        ...

    def close(self) -> None: ...


def open_transport(spec: str) -> Transport:
    """`memory`, `maildir:PATH` or `smtp://user:pass@host:port?tls=starttls|implicit|none&pool=8&per_domain=4`."""
    from winback.messaging.transports.maildir import MaildirTransport
    from winback.messaging.transports.memory import MemoryTransport

    if spec == "memory":
        return MemoryTransport()
    if spec.startswith("smtp://"):
        from winback.messaging.transports.smtp import SmtpTransport

        return SmtpTransport.from_spec(spec)
    if spec.startswith("maildir:"):
        path = spec.removeprefix("maildir:")
        if not path:
            raise ConfigError("WINBACK_TRANSPORT=maildir:PATH needs a directory, e.g. maildir:.winback/outbox")
        return MaildirTransport(path)
    raise ConfigError(f"WINBACK_TRANSPORT={spec!r} is not a transport; use memory, maildir:PATH or smtp://…")
