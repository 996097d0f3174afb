"""Address hygiene without the network: syntax and IDN, role, disposable, typo, MX through a fake or dead resolver."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import dns.exception
import dns.resolver
import pytest

from winback.messaging.hygiene import check_addresses, disposable_domains, mx_status, suggest_domain


def _one(address: str):
    return check_addresses([address], dns=False)[0]


@pytest.mark.parametrize(("address", "suggestion"), [
    ("ann@gmial.com", "ann@gmail.com"), ("ann@hotmial.com", "ann@hotmail.com"), ("ann@qq.con", "ann@qq.com"),
    ("ann@163.cm", "ann@163.com"), ("ann@yahooo.com", "ann@yahoo.com"), ("ann@gmail.con", "ann@gmail.com"),
])
def test_typo_suggestions(address, suggestion):
    got = _one(address)
    assert got.flags == ("typo",) and got.suggestion == suggestion


@pytest.mark.parametrize("domain", ["gmail.com", "qq.com", "163.com", "126.com", "mail.com", "example.com",
                                    "example.org", "shop.example.net"])
def test_no_suggestion_for_real_domains(domain):
    assert suggest_domain(domain) is None


@pytest.mark.parametrize("local", ["admin", "info", "noreply", "no-reply", "support", "sales", "postmaster", "abuse",
                                   "Info"])
def test_role_addresses(local):
    assert _one(f"{local}@example.com").flags == ("role",)


def test_disposable_domains_ship_with_the_package():
    assert {"mailinator.com", "yopmail.com", "guerrillamail.com"} <= disposable_domains()
    assert _one("x@mailinator.com").flags == ("disposable",)


@pytest.mark.parametrize("address", ["plain", "a@@example.com", "a b@example.com", "a@example", "@example.com",
                                     "a@-example.com", "a..b@example.com", ""])
def test_invalid_syntax(address):
    got = _one(address)
    assert got.flags == ("invalid",) and got.reason and got.normalized is None


def test_idn_and_unicode_local_parts_are_valid():
    got = _one("用户@例子.广告")
    assert got.flags == () and got.normalized == "用户@例子.广告"
    assert _one("josé@bücher.example").flags == ()


def test_offline_skips_dns_and_says_so():
    got = check_addresses(["a@example.com"], dns=False)[0]
    assert got.mx == "skipped" and got.flags == ()


class FakeResolver:
    """Answers from a table: domain -> {rdtype: list of MX hosts | exception class}."""

    def __init__(self, table):
        self.table, self.calls = table, []

    def resolve(self, domain, rdtype):
        self.calls.append((domain, rdtype))
        answer = self.table.get(domain, {}).get(rdtype, dns.resolver.NXDOMAIN)
        if isinstance(answer, type) and issubclass(answer, Exception):
            raise answer()
        return [SimpleNamespace(exchange=h) for h in answer]


def test_mx_outcomes_and_cache_per_domain():
    fake = FakeResolver({
        "ok.example": {"MX": ["mx.ok.example."]},
        "null.example": {"MX": ["."]},
        "amx.example": {"MX": dns.resolver.NoAnswer, "A": ["192.0.2.1"]},
        "none.example": {"MX": dns.resolver.NoAnswer, "A": dns.resolver.NoAnswer},
        "slow.example": {"MX": dns.exception.Timeout},
        "broken.example": {"MX": dns.resolver.NoNameservers},
    })
    got = check_addresses(["a@ok.example", "b@ok.example", "c@null.example", "d@amx.example", "e@none.example",
                           "f@gone.example", "g@slow.example", "h@broken.example"], dns=True, resolver=fake)
    assert [(c.mx, c.flags) for c in got] == [
        ("ok", ()), ("ok", ()), ("null_mx", ("no_mx",)), ("implicit", ()), ("none", ("no_mx",)),
        ("no_domain", ("no_mx",)), ("timeout", ("dns_timeout",)), ("error", ("dns_error",))]
    assert fake.calls.count(("ok.example", "MX")) == 1


def test_dead_resolver_times_out_quickly_and_reports_it():
    """A nameserver that never answers: the timeout is reported, not raised."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = sink.getsockname()[1]
        resolver.timeout = resolver.lifetime = 0.2
        assert mx_status("example.com", resolver) == "timeout"
        got = check_addresses(["a@example.com", "b@example.com"], dns=True, resolver=resolver)
        assert [c.flags for c in got] == [("dns_timeout",), ("dns_timeout",)]
