"""Signed webhooks: POST each payload to one URL with an HMAC-SHA256 signature over "timestamp.body".

Headers: `X-Winback-Timestamp` (Unix seconds), `X-Winback-Signature: v1=<hex>` and `X-Winback-Message-Id` (receivers
deduplicate on it: a retried `unknown` reuses it). The receiving side checks with `verify_webhook`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence

import httpx

from winback.messaging.egress import EgressPolicy, http_delivery
from winback.messaging.transports.base import Delivery, Outbound

__all__ = ["WebhookTransport", "sign_webhook", "verify_webhook"]


def sign_webhook(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The `X-Winback-Signature` value: `v1=` and the hex HMAC-SHA256 of `b"<timestamp>." + body`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "v1=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_webhook(secret: str | bytes, timestamp: str, signature: str, body: bytes, *, now: float,
                   tolerance: int = 300) -> bool:
    """True when `signature` (one or more comma-separated `v1=…`) signs `body` at `timestamp` within `tolerance` s.

    Old or future timestamps are refused, so a captured request cannot be replayed later; within the window,
    deduplicate on `X-Winback-Message-Id`. Comparison is constant-time.
    """
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = sign_webhook(secret, int(timestamp), body).encode()
    ok = False
    for candidate in signature.split(","):
        ok |= hmac.compare_digest(candidate.strip().encode(), expected)
    return ok


class WebhookTransport:
    """POSTs each message's payload (UTF-8 JSON) to `url`, signed with `secret`, through the egress policy."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, policy: EgressPolicy | None = None, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time, client: httpx.Client | None = None) -> None:
        self.url = url
        self._secret = secret
        self._policy = policy or EgressPolicy()
        self._clock = clock
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """POST each message in turn; one `Delivery` per message, in order."""
        results = []
        for message in messages:
            timestamp = int(self._clock())
            headers = {"Content-Type": "application/json", "X-Winback-Timestamp": str(timestamp),
                       "X-Winback-Signature": sign_webhook(self._secret, timestamp, message.payload),
                       "X-Winback-Message-Id": message.message_id}
            results.append(http_delivery(self._client, self._policy, url=self.url, content=message.payload,
                                         headers=headers))
        return results

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
