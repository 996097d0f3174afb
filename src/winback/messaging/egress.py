"""Where webhooks and SMS requests may go: public http(s) addresses, unless an operator allows more.

A URL is checked after DNS resolution, and the request is then pinned to the address that was checked (it connects
to the IP, with the Host header and TLS SNI/certificate check set to the name), so a name that re-resolves to
loopback between the check and the connection cannot slip through. Redirects are not followed automatically:
`send()` follows at most three, checking each target the same way (RELIABILITY.md item 34).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from winback.domain.errors import WinbackError
from winback.messaging.transports.base import Delivery

__all__ = ["EgressPolicy", "EgressRefusedError", "http_delivery", "send"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
REDIRECTS = (301, 302, 303, 307, 308)


class EgressRefusedError(WinbackError):
    """A URL the egress policy does not allow (scheme, address or too many redirects)."""


def _system_resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EgressRefusedError(f"cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Pinned:
    """A checked URL: `url` names the IP to connect to; `host` is the name for the Host header and SNI."""

    url: httpx.URL
    host: str
    address: str


class EgressPolicy:
    """Refuses non-http(s) schemes and non-public addresses unless `allow` lists them (hosts, IPs or CIDRs)."""

    def __init__(self, allow: str | None = None, *, resolve: Callable[[str], list[str]] = _system_resolve) -> None:
        self._hosts: set[str] = set()
        self._networks: list[Network] = []
        for entry in filter(None, (part.strip() for part in (allow or "").split(","))):
            try:
                self._networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self._hosts.add(entry.lower().rstrip("."))
        self._resolve = resolve

    def check(self, url: str | httpx.URL) -> Pinned:
        """The pinned form of `url`, or `EgressRefusedError` saying why not."""
        try:
            parsed = httpx.URL(str(url))
        except httpx.InvalidURL as exc:
            raise EgressRefusedError(f"not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise EgressRefusedError(f"scheme {parsed.scheme or '(none)'}:// is not allowed; use http(s)")
        host = parsed.host.lower().rstrip(".")
        if not host:
            raise EgressRefusedError(f"{url} has no host")
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in self._resolve(host)]
        if not addresses:
            raise EgressRefusedError(f"{host} resolves to no address")
        if host not in self._hosts:
            for address in addresses:
                if reason := self._refusal(address):
                    raise EgressRefusedError(f"{host} resolves to {address}, {reason}; allow it with "
                                             "WINBACK_EGRESS_ALLOW if intended")
        address = str(addresses[0])
        return Pinned(url=parsed.copy_with(host=address), host=parsed.host, address=address)

    def _refusal(self, address: IPAddress) -> str | None:
        if any(address in network for network in self._networks if network.version == address.version):
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            return self._refusal(address.ipv4_mapped)
        for kind in ("loopback", "link_local", "private", "unspecified", "multicast", "reserved"):
            if getattr(address, f"is_{kind}"):
                return f"a {kind.replace('_', '-')} address"
        if not address.is_global:
            return "not a public address"
        return None


def send(client: httpx.Client, policy: EgressPolicy, *, method: str, url: str, content: bytes | None = None,
         headers: Mapping[str, str] | None = None, max_redirects: int = 3) -> httpx.Response:
    """Send one request through `policy`, following up to `max_redirects` redirects, each re-checked."""
    for _hop in range(max_redirects + 1):
        pinned = policy.check(url)
        host_header = pinned.host if pinned.url.port is None else f"{_bracketed(pinned.host)}:{pinned.url.port}"
        named = pinned.host != pinned.address
        extensions = {"sni_hostname": pinned.host} if pinned.url.scheme == "https" and named else {}
        request = client.build_request(method, pinned.url, content=content,
                                       headers={**(headers or {}), "Host": host_header}, extensions=extensions)
        response = client.send(request, follow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in REDIRECTS or not location:
            return response
        response.close()
        url = urljoin(url, location)
        if response.status_code in (301, 302, 303) and method != "GET":
            method, content = "GET", None
    raise EgressRefusedError(f"more than {max_redirects} redirects")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def http_delivery(client: httpx.Client, policy: EgressPolicy, *, url: str, content: bytes,
                  headers: Mapping[str, str]) -> Delivery:
    """POST through `policy` and classify: 2xx sent; 429, 5xx and network errors soft_failed; other 4xx failed."""
    try:
        response = send(client, policy, method="POST", url=url, content=content, headers=headers)
    except EgressRefusedError as exc:
        # The configured target is not allowed: the sending side's problem, so the message waits for a fix.
        return Delivery("soft_failed", f"egress refused: {exc}", "egress")
    except httpx.TimeoutException as exc:
        # Retried as temporary; the request carries an idempotency key (the Message-ID) for receivers that dedupe.
        return Delivery("soft_failed", f"timeout: {type(exc).__name__}", "timeout")
    except httpx.HTTPError as exc:
        return Delivery("soft_failed", f"{type(exc).__name__}: {exc}", None)
    code = response.status_code
    detail = f"HTTP {code} {response.text[:200]}".strip()
    if 200 <= code < 300:
        return Delivery("sent", detail, str(code))
    if code == 429 or code >= 500 or code == 408:
        return Delivery("soft_failed", detail, str(code))
    return Delivery("failed", detail, str(code))
