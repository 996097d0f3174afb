"""Opaque, signed, short tokens for the links in messages (unsubscribe, preferences, click, open).

Layout before URL-safe base64 (no padding), see docs/delivery.md:

    version (1 byte) | kid length (1 byte) | kid | payload (compact JSON) | MAC (16 bytes)

MAC = HMAC-SHA256(key[kid], purpose NUL environment NUL everything before the MAC), truncated to 16 bytes. The
purpose and the environment are not in the token: a token made for another purpose or another deployment simply
does not verify. Every failure is the same `BadToken`, so a caller cannot tell "unknown" from "bad signature".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from winback.domain.errors import ConfigError

__all__ = ["PURPOSES", "BadToken", "LinkBuilder", "TokenSigner", "environment_id", "load_keys"]

VERSION = 1
MAC_BYTES = 16
PURPOSES = ("unsubscribe", "preferences", "click", "open", "view")


class BadToken(Exception):
    """Any token that does not verify: one error for every reason, so nothing leaks about why."""

    def __init__(self) -> None:
        super().__init__("bad token")


def environment_id(public_url: str) -> str:
    """A stable id of the deployment: scheme, host and port of its public URL, lower-cased."""
    parts = urlsplit(public_url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class TokenSigner:
    """Signs with the `current` key; verifies with any key in `keys` (rotation keeps old links working)."""

    def __init__(self, keys: dict[str, bytes], current: str, environment: str) -> None:
        if current not in keys:
            raise ConfigError(f"link key {current!r} is not among the keys")
        for kid, key in keys.items():
            if not kid or len(kid.encode()) > 32 or not kid.isascii():
                raise ConfigError(f"link key id {kid!r} must be 1-32 ASCII characters")
            if len(key) < 16:
                raise ConfigError(f"link key {kid!r} is too short: use at least 16 bytes")
        self.keys = dict(keys)
        self.current = current
        self.environment = environment.encode()

    def _mac(self, key: bytes, purpose: str, body: bytes) -> bytes:
        msg = purpose.encode() + b"\0" + self.environment + b"\0" + body
        return hmac.new(key, msg, hashlib.sha256).digest()[:MAC_BYTES]

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        """An opaque URL-safe token carrying `payload` for `purpose`."""
        kid = self.current.encode()
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        body = bytes((VERSION, len(kid))) + kid + data
        token = body + self._mac(self.keys[self.current], purpose, body)
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")

    def verify(self, token: str, purpose: str) -> dict[str, Any]:
        """The payload of a valid token for `purpose`; `BadToken` for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError, TypeError):
            raise BadToken() from None
        if len(raw) < 2 + MAC_BYTES or raw[0] != VERSION:
            raise BadToken()
        end = 2 + raw[1]
        if len(raw) < end + MAC_BYTES + 2:  # at least "{}"
            raise BadToken()
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        try:
            key = self.keys.get(raw[2:end].decode("ascii"))
        except UnicodeDecodeError:
            key = None
        # Compare against a MAC even for an unknown kid so both failures cost about the same.
        expected = self._mac(key if key is not None else b"\0" * 32, purpose, body)
        if not hmac.compare_digest(expected, mac) or key is None:
            raise BadToken()
        try:
            payload = json.loads(body[end:].decode())
        except (UnicodeDecodeError, ValueError):
            raise BadToken() from None
        if not isinstance(payload, dict):
            raise BadToken()
        return payload


def load_keys(secret_keys: str | None, home: Path) -> tuple[dict[str, bytes], str]:
    """Keys from `kid:secret,kid2:secret2` (the first signs), else one generated once in home/secrets/link-keys."""
    if secret_keys:
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in secret_keys.split(","))):
            kid, sep, secret = part.partition(":")
            if not sep or not kid.strip() or not secret.strip():
                raise ConfigError("WINBACK_SECRET_KEYS: write kid:secret,kid2:secret2 (the first signs)")
            keys[kid.strip()] = secret.strip().encode()
        if not keys:
            raise ConfigError("WINBACK_SECRET_KEYS is empty: write kid:secret,kid2:secret2")
        return keys, next(iter(keys))
    path = home / "secrets" / "link-keys"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        line = f"k{secrets.token_hex(2)}:{secrets.token_urlsafe(32)}\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(line)
    text = ",".join(line.strip() for line in path.read_text().splitlines() if line.strip())
    return load_keys(text, home) if text else _empty(path)


def _empty(path: Path) -> tuple[dict[str, bytes], str]:
    raise ConfigError(f"{path} holds no link key; delete it to generate one, or set WINBACK_SECRET_KEYS")


class LinkBuilder:
    """The URLs of the links in a message, under the public URL of the tracking service."""

    def __init__(self, signer: TokenSigner, public_url: str) -> None:
        self.signer = signer
        self.base = public_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Any) -> LinkBuilder:
        keys, current = load_keys(settings.secret_keys, settings.home)
        return cls(TokenSigner(keys, current, environment_id(settings.public_url)), settings.public_url)

    def unsubscribe_token(self, customer_id: str, enrolment_id: int, step: str) -> str:
        return self.signer.sign("unsubscribe", {"c": customer_id, "e": enrolment_id, "s": step})

    def unsubscribe_url(self, customer_id: str, enrolment_id: int, step: str) -> str:
        return f"{self.base}/u/{self.unsubscribe_token(customer_id, enrolment_id, step)}"

    def preferences_url(self, customer_id: str) -> str:
        return f"{self.base}/p/{self.signer.sign('preferences', {'c': customer_id})}"

    def click_url(self, message_key: str, link_index: int) -> str:
        return f"{self.base}/c/{self.signer.sign('click', {'m': message_key, 'l': link_index})}"

    def open_url(self, message_key: str) -> str:
        return f"{self.base}/o/{self.signer.sign('open', {'m': message_key})}.gif"

    def view_url(self, message_key: str) -> str:
        return f"{self.base}/v/{self.signer.sign('view', {'m': message_key})}"
