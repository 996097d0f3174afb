"""SMTP delivery with pooled connections: `smtp://user:pass@host:port?tls=starttls&pool=8&per_domain=4&timeout=30`.

The transport keeps one asyncio event loop in a background thread for its whole life and submits each batch to it, so
connections (and their TLS sessions and logins) are reused across batches. Concurrency is bounded overall (`pool`,
which is also the number of connections) and per recipient domain (`per_domain`). Each message is sent as its
pre-serialised bytes; nothing is re-encoded here.

Outcomes follow RELIABILITY.md: 2xx sent; 4xx, timeouts and lost connections before the message body soft_failed;
421/451 also start a per-domain backoff during which that domain's messages fail fast; 5.1.x hard_bounced; 5.2.2
soft_failed (mailbox full); 5.7.x failed "blocked: …" (a reputation problem, not a reason to suppress); other 5xx
failed; a connection lost during DATA (the body may have arrived) unknown; a refused login soft_failed for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from winback.domain.errors import ConfigError
from winback.messaging.transports.base import Delivery, Outbound

__all__ = ["SmtpSettings", "SmtpTransport", "classify", "parse_smtp_spec"]

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_DOMAIN_WIDE = (421, 451)
_UNSAFE = re.compile(r"[\x00-\x20\x7f<>]")  # control characters, spaces and brackets have no place in an envelope


def classify(code: int, message: str) -> Delivery:
    """The `Delivery` for one SMTP reply: `code` is the basic reply code, `message` its text (may hold `X.Y.Z`)."""
    text = " ".join(message.split())
    match = _ENHANCED.match(text)
    enhanced = ".".join(match.groups()) if match else None
    detail = f"{code} {text}".strip()
    if 200 <= code < 300:
        return Delivery("sent", detail, enhanced)
    if code == 535 or (enhanced or "").startswith("5.7.8"):
        # Our credentials were refused: a sending-side failure, retried once the operator fixes it.
        return Delivery("soft_failed", f"authentication failed: {detail}", enhanced or "5.7.8")
    if 400 <= code < 500:
        return Delivery("soft_failed", detail, enhanced or "4.0.0")
    if 500 <= code < 600:
        if enhanced is None:
            if code == 552:  # RFC 5321: exceeded storage allocation, the legacy "mailbox full"
                return Delivery("soft_failed", detail, "5.2.2")
            return Delivery("failed", detail, "5.0.0")
        _cls, subject, _detail = enhanced.split(".")
        if subject == "1":
            return Delivery("hard_bounced", detail, enhanced)
        if enhanced == "5.2.2":
            return Delivery("soft_failed", detail, enhanced)
        if subject == "7":
            return Delivery("failed", f"blocked: {detail}", "5.7.x")
        return Delivery("failed", detail, enhanced)
    return Delivery("failed", f"unexpected reply {detail}", None)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    pool: int = 8
    per_domain: int = 4
    timeout: float = 30.0
    mail_from: str | None = None  # envelope sender; default: the From of each message
    verify: bool = True  # check the server certificate
    backoff: float = 60.0  # first per-domain backoff after 421/451, in seconds
    backoff_max: float = 3600.0


def parse_smtp_spec(spec: str) -> SmtpSettings:
    """`smtp://user:pass@host:port?tls=starttls|implicit|none&pool=8&per_domain=4&timeout=30&password_env=NAME`."""
    parts = urlsplit(spec)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ConfigError(f"{_redact(spec)} is not an SMTP spec; use smtp://user:pass@host:port?tls=starttls")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    known = {"tls", "pool", "per_domain", "timeout", "password_env", "from", "verify", "backoff", "backoff_max"}
    if unknown := sorted(set(query) - known):
        raise ConfigError(f"unknown SMTP option {unknown[0]!r} in {_redact(spec)}; known: {', '.join(sorted(known))}")
    tls = query.get("tls", "starttls")
    if tls not in ("starttls", "implicit", "none"):
        raise ConfigError(f"tls={tls!r} in {_redact(spec)}; use starttls, implicit or none")
    password = unquote(parts.password) if parts.password else None
    if env := query.get("password_env"):
        if env not in os.environ:
            raise ConfigError(f"password_env={env} in the SMTP spec, but ${env} is not set")
        password = os.environ[env]
    try:
        port = parts.port or (465 if tls == "implicit" else 587 if tls == "starttls" else 25)
        settings = SmtpSettings(
            host=parts.hostname, port=port, username=unquote(parts.username) if parts.username else None,
            password=password, tls=tls, pool=int(query.get("pool", 8)), per_domain=int(query.get("per_domain", 4)),
            timeout=float(query.get("timeout", 30)), mail_from=query.get("from"),
            verify=query.get("verify", "true").lower() not in ("0", "false", "no"),
            backoff=float(query.get("backoff", 60)), backoff_max=float(query.get("backoff_max", 3600)))
    except ValueError as exc:
        raise ConfigError(f"bad number in {_redact(spec)}: {exc}") from None
    if settings.pool < 1 or settings.per_domain < 1 or settings.timeout <= 0:
        raise ConfigError(f"pool, per_domain and timeout must be positive in {_redact(spec)}")
    return settings


def _redact(spec: str) -> str:
    parts = urlsplit(spec)
    if parts.password:
        return spec.replace(f":{parts.password}@", ":***@", 1)
    return repr(spec)


class _SendingFailure(Exception):
    """The sending side failed (connect, TLS, login): every message it touches is soft_failed."""

    def __init__(self, delivery: Delivery) -> None:
        super().__init__(delivery.detail)
        self.delivery = delivery


class SmtpTransport:
    """Delivers through one SMTP relay with a pool of reused connections; see the module docstring."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings, *, tls_context: ssl.SSLContext | None = None,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._tls_context = tls_context
        self._clock = clock
        self._rng = rng or random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._idle: list[aiosmtplib.SMTP] = []
        self._backoff: dict[str, tuple[float, int]] = {}  # domain -> (until, level)
        self._domain_slots: dict[str, asyncio.Semaphore] = {}
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        # Every connection's transport, so close() can abort any whose TLS shutdown is still under way.
        self._transports: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()

    @classmethod
    def from_spec(cls, spec: str) -> SmtpTransport:
        return cls(parse_smtp_spec(spec))

    # -- the seam ---------------------------------------------------------------------------------------------------

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Send each message; one `Delivery` per message, in order."""
        if not messages:
            return []
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(self._deliver(list(messages)), loop).result()

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=self.settings.timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop ---------------------------------------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="winback-smtp", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _close_all(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                await client.quit(timeout=min(self.settings.timeout, 5))
            client.close()
        for transport in list(self._transports):
            transport.abort()  # a TLS close waits for the peer; the loop is about to stop
        for _ in range(3):
            await asyncio.sleep(0)

    # -- sending ----------------------------------------------------------------------------------------------------

    async def _deliver(self, messages: list[Outbound]) -> list[Delivery]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.pool)
        failure: list[Delivery] = []  # the first sending-side failure of this batch, shared by the rest
        results: list[Delivery] = [Delivery("unknown", "not attempted")] * len(messages)
        queue = iter(range(len(messages)))

        async def worker() -> None:
            # `pool` workers pull from the batch (rather than a task per message): fewer wake-ups per message.
            for index in queue:
                results[index] = await self._one(messages[index], failure)

        await asyncio.gather(*(worker() for _ in range(min(self.settings.pool, len(messages)))))
        return results

    async def _one(self, message: Outbound, failure: list[Delivery]) -> Delivery:
        local, _, domain = message.to.rpartition("@")
        domain = domain.lower()
        if not local or not domain or _UNSAFE.search(message.to):
            # Refused here: aiosmtplib would quietly send a mangled address instead.
            return Delivery("failed", f"invalid address {message.to!r}", "invalid_address")
        if waiting := self._backing_off(domain):
            return Delivery("soft_failed", f"domain {domain} backing off for {waiting:.1f}s after 421/451", "4.0.0")
        slots = self._domain_slots.setdefault(domain, asyncio.Semaphore(self.settings.per_domain))
        assert self._slots is not None
        async with slots, self._slots:
            if failure:
                return failure[0]
            if waiting := self._backing_off(domain):
                return Delivery("soft_failed", f"domain {domain} backing off for {waiting:.1f}s after 421/451",
                                "4.0.0")
            try:
                client = await self._acquire()
            except _SendingFailure as exc:
                failure.append(exc.delivery)
                return exc.delivery
            delivery, reusable = await self._transaction(client, message)
            if reusable and client.is_connected:
                self._idle.append(client)
            else:
                client.close()
            self._note(domain, delivery)
            return delivery

    async def _acquire(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
            client.close()
        s = self.settings
        context = self._tls_context
        if context is None and s.tls != "none":
            context = ssl.create_default_context()
            if not s.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        client = aiosmtplib.SMTP(hostname=s.host, port=s.port, timeout=s.timeout, use_tls=s.tls == "implicit",
                                 start_tls=s.tls == "starttls", tls_context=context)
        try:
            await client.connect()
            self._track(client)
            if s.username is not None:
                await _login(client, s.username, s.password or "")
        except aiosmtplib.SMTPResponseException as exc:
            self._track(client)
            client.close()
            delivery = classify(exc.code, exc.message)
            raise _SendingFailure(Delivery("soft_failed", f"relay {s.host}:{s.port}: {delivery.detail}",
                                           delivery.code)) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            self._track(client)
            client.close()
            raise _SendingFailure(Delivery("soft_failed", f"relay {s.host}:{s.port} unreachable: "
                                           f"{type(exc).__name__}: {exc}", "4.4.1")) from None
        return client

    def _track(self, client: aiosmtplib.SMTP) -> None:
        if client.transport is not None:
            self._transports.add(client.transport)

    async def _transaction(self, client: aiosmtplib.SMTP, message: Outbound) -> tuple[Delivery, bool]:
        """One MAIL/RCPT/DATA exchange; returns the outcome and whether the connection can be reused."""
        sender = self.settings.mail_from or _envelope_sender(message.payload)
        stage = "MAIL"
        try:
            reply = await client.mail(sender)
            stage = "RCPT"
            reply = await client.rcpt(message.to)
            stage = "DATA"
            reply = await client.data(message.payload)
            return classify(reply.code, reply.message), True
        except aiosmtplib.SMTPResponseException as exc:
            delivery = classify(exc.code, exc.message)
            if delivery.status == "sent":  # a 2xx where a 354 was wanted, or the like
                delivery = Delivery("failed", f"unexpected reply at {stage}: {delivery.detail}", delivery.code)
            return delivery, await _reset(client) and exc.code != 421
        except ValueError as exc:  # aiosmtplib refuses an address with control characters before sending it
            return Delivery("failed", f"invalid address at {stage}: {exc}", "invalid_address"), await _reset(client)
        except (TimeoutError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if stage == "DATA":
                # The body may have arrived and only the reply been lost (RFC 1047): the engine retries once with
                # the same Message-ID and counts a possible duplicate.
                return Delivery("unknown", f"connection lost during DATA: {reason}", None), False
            return Delivery("soft_failed", f"connection lost at {stage}: {reason}", "4.4.2"), False

    # -- per-domain backoff -----------------------------------------------------------------------------------------

    def _backing_off(self, domain: str) -> float:
        until, _level = self._backoff.get(domain, (0.0, 0))
        return max(0.0, until - self._clock())

    def _note(self, domain: str, delivery: Delivery) -> None:
        code = int(delivery.detail[:3]) if delivery.detail[:3].isdigit() else 0
        if delivery.status == "soft_failed" and code in _DOMAIN_WIDE:
            _until, level = self._backoff.get(domain, (0.0, 0))
            delay = min(self.settings.backoff_max, self.settings.backoff * 2**level)
            delay *= 0.5 + self._rng.random() / 2  # jitter, so domains that failed together do not return together
            self._backoff[domain] = (self._clock() + delay, min(level + 1, 30))
        elif delivery.status == "sent" and not self._backing_off(domain):
            # A message in flight when the 421 came may still be accepted: only a success after the pause ends it.
            self._backoff.pop(domain, None)


async def _login(client: aiosmtplib.SMTP, username: str, password: str) -> None:
    # One mechanism, PLAIN when offered: falling through to the next after a 535 (as `login()` does) can leave
    # some servers waiting mid-exchange, turning a clear "wrong password" into a timeout.
    if "plain" in client.server_auth_methods:
        await client.auth_plain(username, password)
    else:
        await client.login(username, password)


async def _reset(client: aiosmtplib.SMTP) -> bool:
    if not client.is_connected:
        return False
    try:
        await client.rset()
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()
        return False
    return True


def _envelope_sender(payload: bytes) -> str:
    """The address of the message's From header (the head is scanned, the body never decoded)."""
    head = payload.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    for line in re.split(r"\r?\n(?![ \t])", head):
        name, _, value = line.partition(":")
        if name.strip().lower() == "from":
            return parseaddr(" ".join(value.split()))[1]
    return ""
