"""Opaque, authenticated, short tokens for the links in messages (unsubscribe, preferences, click, open, view, survey).

Layout before URL-safe base64 (no padding), see docs/tracking.md:

    version (1 byte, = 2) | kid length (1 byte) | kid | AES-SIV(payload, packed)

The payload is packed as entries of key length (1 byte), key, type and value: integers as zigzag varints,
lower-case hex strings (link keys) as their bytes, other strings as UTF-8, anything else as JSON. That keeps a click
token about a third shorter than JSON would.

The payload is encrypted and authenticated with AES-SIV (RFC 5297) under a key derived by HKDF-SHA256 from the
kid's secret; the purpose, the environment and the clear header are associated data. So a token reveals nothing of
its customer, enrolment or link, cannot be edited into another one, and a token made for another purpose or
another deployment does not decrypt. AES-SIV is deterministic: the same link rendered twice gets the same token,
which is what a retried send wants. The key id stays in clear so that rotation works. Every failure is the same
`BadToken`, so a caller cannot tell "unknown" from "forged".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from winback.domain.errors import ConfigError

__all__ = ["PURPOSES", "BadToken", "LinkBuilder", "TokenSigner", "environment_id", "link_key", "load_keys"]

VERSION = 2
SIV_BYTES = 16
PURPOSES = ("unsubscribe", "preferences", "click", "open", "view", "survey")
_HKDF_INFO = b"winback link tokens v2"
_DUMMY = AESSIV(b"\0" * 64)
# Version 1 (until 2026-11): readable JSON and a 16-byte HMAC; still accepted for these purposes only.
LEGACY_VERSION = 1
LEGACY_MAC_BYTES = 16
LEGACY_PURPOSES = ("unsubscribe", "preferences")


class BadToken(Exception):
    """Any token that does not verify: one error for every reason, so nothing leaks about why."""

    def __init__(self) -> None:
        super().__init__("bad token")


def environment_id(public_url: str) -> str:
    """A stable id of the deployment: scheme, host and port of its public URL, lower-cased."""
    parts = urlsplit(public_url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def link_key(url: str) -> str:
    """The key of a link target in `message_links`: 16 hex characters of the SHA-256 of the URL."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _derive(secret: bytes) -> AESSIV:
    # 64 bytes = AES-256-SIV (one half for S2V's CMAC, one for CTR). HKDF makes any secret of ≥ 16 bytes a key.
    return AESSIV(HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_HKDF_INFO).derive(secret))


class TokenSigner:
    """Seals with the `current` key; opens with any key in `keys` (rotation keeps old links working)."""

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
        self._aead = {kid.encode("ascii"): _derive(key) for kid, key in keys.items()}

    def _associated(self, purpose: str, header: bytes) -> list[bytes]:
        return [purpose.encode(), self.environment, header]

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        """An opaque URL-safe token carrying `payload` for `purpose`."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        kid = self.current.encode("ascii")
        header = bytes((VERSION, len(kid))) + kid
        data = _pack(payload)
        sealed = self._aead[kid].encrypt(data, self._associated(purpose, header))
        return base64.urlsafe_b64encode(header + sealed).rstrip(b"=").decode("ascii")

    def verify(self, token: str, purpose: str) -> dict[str, Any]:
        """The payload of a valid token for `purpose`; `BadToken` for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError, TypeError):
            raise BadToken() from None
        if len(raw) >= 2 and raw[0] == LEGACY_VERSION and purpose in LEGACY_PURPOSES:
            return self._verify_legacy(raw, purpose)
        if len(raw) < 2 or raw[0] != VERSION:
            raise BadToken()
        end = 2 + raw[1]
        if len(raw) < end + SIV_BYTES:
            raise BadToken()
        header = raw[:end]
        aead = self._aead.get(header[2:])
        try:
            # Decrypt under a dummy key for an unknown kid so both failures cost about the same.
            data = (aead or _DUMMY).decrypt(raw[end:], self._associated(purpose, header))
        except InvalidTag:
            raise BadToken() from None
        if aead is None:
            raise BadToken()
        try:
            return _unpack(data)
        except (IndexError, UnicodeDecodeError, ValueError):
            raise BadToken() from None


    def _verify_legacy(self, raw: bytes, purpose: str) -> dict[str, Any]:
        """A version-1 token (readable JSON under an HMAC-SHA256 tag), still in mail sent before version 2: only its
        unsubscribe and preference links are honoured, so nobody loses the way out of a list."""
        end = 2 + raw[1]
        if len(raw) < end + LEGACY_MAC_BYTES + 2:
            raise BadToken()
        body, mac = raw[:-LEGACY_MAC_BYTES], raw[-LEGACY_MAC_BYTES:]
        try:
            secret = self.keys.get(raw[2:end].decode("ascii"))
        except UnicodeDecodeError:
            secret = None
        message = purpose.encode() + b"\0" + self.environment + b"\0" + body
        expected = hmac.new(secret or b"\0" * 32, message, hashlib.sha256).digest()[:LEGACY_MAC_BYTES]
        if not hmac.compare_digest(expected, mac) or secret is None:
            raise BadToken()
        try:
            payload = json.loads(body[end:].decode())
        except (UnicodeDecodeError, ValueError):
            raise BadToken() from None
        if not isinstance(payload, dict):
            raise BadToken()
        return payload


_HEX = frozenset("0123456789abcdef")
_BYTES = tuple(bytes((i,)) for i in range(256))


def _varint(n: int) -> bytes:
    if n < 0x80:  # most values: one byte
        return _BYTES[n]
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[i]
        i += 1
        n |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return n, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _pack_value(value: Any) -> bytes:
    if isinstance(value, int) and not isinstance(value, bool):
        return b"i" + _varint(value << 1 if value >= 0 else (-value << 1) - 1)
    if isinstance(value, str):
        if value and len(value) % 2 == 0 and _HEX.issuperset(value):
            return b"h" + _varint(len(value) // 2) + bytes.fromhex(value)
        encoded = value.encode()
        return b"s" + _varint(len(encoded)) + encoded
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return b"j" + _varint(len(encoded)) + encoded


def _pack(payload: dict[str, Any]) -> bytes:
    """Payload → bytes: per entry, key length, key, then a type byte and the value (see the module docstring)."""
    return b"".join(_key(key) + _pack_value(value) for key, value in payload.items())


@lru_cache(maxsize=256)
def _key(key: str) -> bytes:
    name = key.encode()
    if not 0 < len(name) < 256:
        raise ValueError(f"token payload key {key!r} must be 1-255 bytes")
    return _BYTES[len(name)] + name


def _unpack(data: bytes) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    i = 0
    while i < len(data):
        end = i + 1 + data[i]
        key = data[i + 1:end].decode()
        kind, i = data[end:end + 1], end + 1
        n, i = _read_varint(data, i)
        if kind == b"i":
            payload[key] = n >> 1 if not n & 1 else -((n + 1) >> 1)
            continue
        if i + n > len(data):
            raise ValueError("truncated value")
        chunk, i = data[i:i + n], i + n
        if kind == b"h":
            payload[key] = chunk.hex()
        elif kind == b"s":
            payload[key] = chunk.decode()
        elif kind == b"j":
            payload[key] = json.loads(chunk.decode())
        else:
            raise ValueError("unknown value type")
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


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


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
        """The token of the unsubscribe link (also carried in the List-Unsubscribe mailto)."""
        return self.signer.sign("unsubscribe", {"c": customer_id, "e": enrolment_id, "s": step})

    def unsubscribe_url(self, customer_id: str, enrolment_id: int, step: str) -> str:
        """`{base}/u/{token}`: one-click unsubscribe (POST) and its confirm page (GET)."""
        return f"{self.base}/u/{self.unsubscribe_token(customer_id, enrolment_id, step)}"

    def preferences_url(self, customer_id: str) -> str:
        """`{base}/p/{token}`: the preference centre."""
        return f"{self.base}/p/{self.signer.sign('preferences', {'c': customer_id})}"

    def click_url(self, *, customer_id: str, enrolment_id: int, step: str, link_key: str, sent_at: datetime) -> str:
        """`{base}/c/{token}`: redirects to the URL recorded in `message_links` under (enrolment, step, link_key)."""
        payload = {"c": customer_id, "e": enrolment_id, "s": step, "k": link_key, "t": _epoch(sent_at)}
        return f"{self.base}/c/{self.signer.sign('click', payload)}"

    def open_url(self, *, customer_id: str, enrolment_id: int, step: str, sent_at: datetime) -> str:
        """`{base}/o/{token}.gif`: the open pixel."""
        payload = {"c": customer_id, "e": enrolment_id, "s": step, "t": _epoch(sent_at)}
        return f"{self.base}/o/{self.signer.sign('open', payload)}.gif"

    def view_url(self, *, customer_id: str, enrolment_id: int, step: str) -> str:
        """`{base}/v/{token}`: the message in a browser."""
        return f"{self.base}/v/{self.signer.sign('view', {'c': customer_id, 'e': enrolment_id, 's': step})}"

    def survey_url(self, *, customer_id: str, enrolment_id: int | None = None) -> str:
        """`{base}/s/{token}`: the exit survey."""
        payload: dict[str, Any] = {"c": customer_id} if enrolment_id is None else {"c": customer_id, "e": enrolment_id}
        return f"{self.base}/s/{self.signer.sign('survey', payload)}"
