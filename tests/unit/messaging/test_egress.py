"""The egress policy: schemes and addresses refused after resolution, unless allowed (RELIABILITY.md item 34)."""

from __future__ import annotations

import pytest

from winback.messaging.egress import EgressPolicy, EgressRefusedError

NAMES = {"public.test": ["93.184.216.34"], "inside.test": ["10.1.2.3"], "mixed.test": ["93.184.216.34", "127.0.0.1"],
         "metadata.test": ["169.254.169.254"], "v6.test": ["2606:2800:220:1:248:1893:25c8:1946"],
         "mapped.test": ["::ffff:127.0.0.1"], "ula.test": ["fd00::1"]}


def resolve(host: str) -> list[str]:
    if host not in NAMES:
        raise EgressRefusedError(f"cannot resolve {host}")
    return NAMES[host]


def policy(allow: str | None = None) -> EgressPolicy:
    return EgressPolicy(allow, resolve=resolve)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "gopher://public.test/", "ftp://public.test/", "http://127.0.0.1/", "http://127.1.2.3:8080/",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[fe80::1]/", "http://10.0.0.1/",
    "http://172.16.0.1/", "http://192.168.1.1/", "http://0.0.0.0/", "http://224.0.0.1/", "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/", "https://inside.test/hook", "https://mixed.test/", "https://metadata.test/",
    "https://mapped.test/", "https://ula.test/", "http://100.64.0.1/", "https://nowhere.test/",
])
def test_refused(url):
    with pytest.raises(EgressRefusedError):
        policy().check(url)


@pytest.mark.parametrize("url", ["https://public.test/hook", "http://93.184.216.34:8080/x", "https://v6.test/"])
def test_public_addresses_pass_and_are_pinned(url):
    pinned = policy().check(url)
    assert pinned.address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert pinned.url.host == pinned.address


@pytest.mark.parametrize(("allow", "url"), [
    ("127.0.0.1", "http://127.0.0.1:9000/"),
    ("10.0.0.0/8", "https://inside.test/hook"),
    ("inside.test", "https://inside.test/hook"),
    ("::1", "http://[::1]:9000/"),
    ("192.168.0.0/16, 10.0.0.0/8", "http://10.9.9.9/"),
])
def test_allowed_explicitly(allow, url):
    assert policy(allow).check(url).url.scheme in ("http", "https")


def test_an_allowed_network_does_not_open_others():
    with pytest.raises(EgressRefusedError):
        policy("10.0.0.0/8").check("http://169.254.169.254/")
    with pytest.raises(EgressRefusedError):
        policy("127.0.0.1").check("http://127.0.0.2/")


def test_the_pinned_host_keeps_the_name_for_host_header_and_sni():
    pinned = policy().check("https://public.test:8443/a?b=1")
    assert (pinned.host, pinned.url.port, pinned.url.path, pinned.url.query) == ("public.test", 8443, "/a", b"b=1")
