"""SMS over HTTP: a generic JSON endpoint (`https://…`) or a Twilio-compatible API (`twilio://SID:TOKEN@host?from=…`).

Numbers are validated and normalised to E.164 with `phonenumbers` first (an invalid one is `failed`
"invalid_number"); requests go through the egress policy. HTTP 2xx is sent; 429, 5xx and timeouts soft_failed;
other 4xx failed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx
import phonenumbers

from winback.domain.errors import ConfigError
from winback.messaging.egress import EgressPolicy, http_delivery
from winback.messaging.transports.base import Delivery, Outbound

__all__ = ["SmsTransport", "normalise_number"]


def normalise_number(number: str, *, region: str | None = None) -> str | None:
    """`number` in E.164 (`+4915123456789`), or None when it is not a valid phone number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class SmsTransport:
    """Sends each SMS with one HTTP request; `spec` is `https://…` (JSON {to, text, reference}) or `twilio://…`."""

    name = "sms"

    def __init__(self, spec: str, *, policy: EgressPolicy | None = None, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        parts = urlsplit(spec)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self._region = query.get("region")
        self._auth: tuple[str, str] | None = None
        self._headers: dict[str, str] = {}
        if parts.scheme == "twilio":
            if not (parts.username and parts.password and parts.hostname and query.get("from")):
                raise ConfigError("WINBACK_SMS_TRANSPORT=twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=+1555… "
                                  "needs the account, the token and a from number")
            sender = normalise_number(query["from"])
            if sender is None:
                raise ConfigError(f"from={query['from']} in WINBACK_SMS_TRANSPORT is not a valid phone number")
            self._form, self._from = True, sender
            scheme = "http" if query.get("tls") == "none" else "https"
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            self.url = f"{scheme}://{host}/2010-04-01/Accounts/{unquote(parts.username)}/Messages.json"
            self._auth = (unquote(parts.username), unquote(parts.password))
        elif parts.scheme in ("http", "https") and parts.hostname:
            self._form, self._from = False, None
            self.url = spec
            if env := query.get("token_env"):
                if env not in os.environ:
                    raise ConfigError(f"token_env={env} in WINBACK_SMS_TRANSPORT, but ${env} is not set")
                self._headers["Authorization"] = f"Bearer {os.environ[env]}"
        else:
            raise ConfigError(f"WINBACK_SMS_TRANSPORT={parts.scheme}://… is not an SMS transport; use memory, "
                              "https://… or twilio://SID:TOKEN@host?from=NUMBER")
        self._policy = policy or EgressPolicy()
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                                              auth=self._auth)

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Send each message in turn; one `Delivery` per message, in order."""
        return [self._one(message) for message in messages]

    def _one(self, message: Outbound) -> Delivery:
        try:
            body = json.loads(message.payload)
            text = str(body["text"])
        except (ValueError, KeyError, TypeError):
            return Delivery("failed", "payload is not JSON with a text", "payload")
        to = normalise_number(str(body.get("to") or message.to), region=self._region)
        if to is None:
            return Delivery("failed", "invalid_number", "invalid_number")
        if self._form:
            content = urlencode({"To": to, "From": self._from, "Body": text}).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            content = json.dumps({"to": to, "text": text, "reference": message.message_id},
                                 ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json", **self._headers}
        return http_delivery(self._client, self._policy, url=self.url, content=content,
                             headers={**headers, "Idempotency-Key": message.message_id})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SmsTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
