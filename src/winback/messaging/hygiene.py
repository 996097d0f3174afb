"""List hygiene: is an address worth sending to? Syntax (and IDN), MX, role mailboxes, disposable domains, typos.

`check_addresses` is pure apart from the optional DNS lookups, which are cached per domain, use short timeouts and
report a timeout or an error as a flag instead of raising. Offline (`dns=False`), no lookup is made and every
result says `mx: skipped`.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import dns.exception
import dns.resolver
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from winback.store import tables as t

ROLE_LOCAL_PARTS = frozenset({
    "abuse", "admin", "administrator", "billing", "contact", "customerservice", "enquiries", "help", "hostmaster",
    "info", "mail", "marketing", "no-reply", "noc", "noreply", "do-not-reply", "donotreply", "office", "postmaster",
    "root", "sales", "security", "service", "support", "team", "webmaster", "hr", "jobs", "kefu", "list",
})
POPULAR_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "yahoo.fr", "hotmail.com",
    "hotmail.co.uk", "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "mail.com",
    "gmx.com", "gmx.de", "web.de", "proton.me", "protonmail.com", "yandex.ru", "mail.ru", "comcast.net",
    "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "139.com",
    "189.cn", "aliyun.com", "hotmail.com.tw", "yahoo.com.tw", "naver.com", "daum.net",
)
FLAGS = ("invalid", "role", "disposable", "typo", "no_mx", "dns_timeout", "dns_error")


@dataclass(frozen=True)
class AddressCheck:
    """What hygiene found for one address; `flags` lists the problems (empty when it looks fine)."""

    address: str
    normalized: str | None = None
    flags: tuple[str, ...] = ()
    reason: str | None = None  # why it is invalid
    suggestion: str | None = None  # the address with a likely domain typo corrected
    mx: str = "skipped"  # ok | implicit | none | null_mx | no_domain | timeout | error | skipped

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["flags"] = list(self.flags)
        return out


@cache
def disposable_domains() -> frozenset[str]:
    text = files("winback.messaging").joinpath("data/disposable_domains.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def suggest_domain(domain: str) -> str | None:
    """A popular domain the given one is probably a typo of (gmial.com → gmail.com), or None."""
    domain = domain.lower()
    if domain in POPULAR_DOMAINS:
        return None
    match = difflib.get_close_matches(domain, POPULAR_DOMAINS, n=1, cutoff=0.8)
    return match[0] if match else None


def make_resolver(*, timeout: float = 2.0) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver()
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def mx_status(domain: str, resolver: dns.resolver.Resolver) -> str:
    """ok, implicit (no MX but an address record), none, null_mx, no_domain, timeout or error; never raises."""
    try:
        answer = resolver.resolve(domain, "MX")
        hosts = [str(r.exchange).rstrip(".") for r in answer]
        return "null_mx" if hosts == [""] else "ok"
    except dns.resolver.NXDOMAIN:
        return "no_domain"
    except dns.resolver.NoAnswer:
        pass
    except dns.exception.Timeout:
        return "timeout"
    except (dns.exception.DNSException, OSError):
        return "error"
    try:
        resolver.resolve(domain, "A")
        return "implicit"
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return "none"
    except dns.exception.Timeout:
        return "timeout"
    except (dns.exception.DNSException, OSError):
        return "error"


_MX_FLAGS = {"none": "no_mx", "null_mx": "no_mx", "no_domain": "no_mx", "timeout": "dns_timeout",
             "error": "dns_error"}


def check_addresses(addresses: Iterable[str], *, dns: bool,
                    resolver: dns.resolver.Resolver | None = None) -> list[AddressCheck]:
    """Check each address; DNS lookups only when `dns` is true, one per domain."""
    mx_cache: dict[str, str] = {}
    if dns and resolver is None:
        resolver = make_resolver()
    out = []
    for address in addresses:
        try:
            result = validate_email(address.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            out.append(AddressCheck(address=address, flags=("invalid",), reason=str(exc)))
            continue
        local, domain = result.local_part, result.ascii_domain.lower()
        flags = []
        if local.lower() in ROLE_LOCAL_PARTS:
            flags.append("role")
        if domain in disposable_domains():
            flags.append("disposable")
        better = suggest_domain(domain)
        if better:
            flags.append("typo")
        mx = "skipped"
        if dns and resolver is not None:
            if domain not in mx_cache:
                mx_cache[domain] = mx_status(domain, resolver)
            mx = mx_cache[domain]
            if mx in _MX_FLAGS:
                flags.append(_MX_FLAGS[mx])
        out.append(AddressCheck(address=address, normalized=result.normalized, flags=tuple(flags),
                                suggestion=f"{local}@{better}" if better else None, mx=mx))
    return out


def hygiene_report(conn: sa.Connection, *, dns: bool, now: datetime,
                   resolver: dns.resolver.Resolver | None = None) -> dict[str, Any]:
    """Counts by flag over the store's customers' email addresses, the flagged ones, and those already suppressed."""
    c = t.customers.c
    rows = conn.execute(sa.select(c.customer_id, c.email, c.email_key).where(c.email.is_not(None))
                        .order_by(c.customer_id)).all()
    checks = check_addresses([r.email for r in rows], dns=dns, resolver=resolver)
    counts: Counter[str] = Counter({f: 0 for f in FLAGS})
    flagged = []
    for row, check in zip(rows, checks, strict=True):
        counts.update(check.flags)
        if check.flags:
            flagged.append({"customer_id": row.customer_id, **check.as_dict()})
    s = t.suppressions.c
    suppressed = dict(conn.execute(sa.select(s.basis, sa.func.count()).where(s.channel == "email")
                                   .group_by(s.basis)).all())
    return {
        "as_of": now, "dns": "online" if dns else "offline (MX lookups skipped)", "checked": len(rows),
        "clean": sum(1 for ch in checks if not ch.flags), "flags": dict(counts),
        "suppressed": {"total": sum(suppressed.values()), "by_basis": suppressed}, "flagged": flagged,
    }
