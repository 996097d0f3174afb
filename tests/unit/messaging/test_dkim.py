import base64
import os
import re
import stat
import types
from datetime import UTC, datetime

import dkim
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from winback.domain.errors import ConfigError
from winback.messaging.dkim import DkimSigner, dns_record, generate_key, load_key, relaxed_body, txt_value
from winback.messaging.mime import MessageParts, build_message

DOMAIN = "shop.example"


def message() -> bytes:
    return build_message(MessageParts(
        from_name="小店", from_addr="news@shop.example", to_name="张伟", to_addr="zw@example.cn",
        subject="我们想念您", date=datetime(2026, 11, 25, tzinfo=UTC), message_id="<wb.1.s1@shop.example>",
        text="您好\n退订: https://t.shop.example/u/x  \n\n\n", html="<p>您好</p>",
        unsubscribe_url="https://t.shop.example/u/x", unsubscribe_mailto="mailto:unsubscribe@shop.example",
        list_id="winback.shop.example", feedback_id="p:s:a:winback"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    generate_key(home, "rsa1")
    generate_key(home, "ed1", kind="ed25519")
    return home, load_key(home, "rsa1"), load_key(home, "ed1")


def dns(*ks):
    records = {f"{k.selector}._domainkey.{DOMAIN}.".encode(): txt_value(k).encode() for k in ks}
    return lambda name, timeout=5: records.get(name)


def _nacl_shim() -> types.SimpleNamespace:
    """pynacl is not installed; this gives dkimpy the two calls it makes, backed by `cryptography`."""
    class BadSignatureError(Exception):
        pass

    class VerifyKey:
        def __init__(self, key: bytes, encoder=None) -> None:
            self.key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(key))

        def verify(self, msg: bytes, sig: bytes) -> None:
            try:
                self.key.verify(sig, msg)
            except InvalidSignature as exc:
                raise BadSignatureError() from exc

    return types.SimpleNamespace(signing=types.SimpleNamespace(VerifyKey=VerifyKey),
                                 encoding=types.SimpleNamespace(Base64Encoder=None),
                                 exceptions=types.SimpleNamespace(BadSignatureError=BadSignatureError,
                                                                  ValueError=ValueError))


def test_dkimpy_verifies_rsa(keys) -> None:
    _, rsa_key, _ = keys
    signed = DkimSigner(DOMAIN, [rsa_key]).sign(message())
    assert dkim.verify(signed, dnsfunc=dns(rsa_key))
    assert b"a=rsa-sha256; c=relaxed/relaxed; d=shop.example; s=rsa1;" in signed


def test_dkimpy_verifies_both_rsa_and_ed25519(keys, monkeypatch) -> None:
    _, rsa_key, ed_key = keys
    if not hasattr(dkim, "nacl"):
        monkeypatch.setattr(dkim, "nacl", _nacl_shim(), raising=False)
    signed = DkimSigner(DOMAIN, [ed_key, rsa_key]).sign(message())
    verifier = dkim.DKIM(signed)
    assert verifier.verify(idx=0, dnsfunc=dns(rsa_key, ed_key))  # RSA first: what the big providers require
    assert verifier.verify(idx=1, dnsfunc=dns(rsa_key, ed_key))
    assert b"a=ed25519-sha256" in signed.split(b"DKIM-Signature")[2]


def test_signed_headers_include_the_required_ones(keys) -> None:
    _, rsa_key, _ = keys
    signed = DkimSigner(DOMAIN, [rsa_key]).sign(message())
    h = re.search(rb"h=([^;]+);", signed).group(1).decode()
    assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post",
            "mime-version", "content-type"} <= set(h.split(":"))


@pytest.mark.parametrize("tamper", [
    lambda m: m.replace(b"PHA+5oKo", b"PHA+5oKp"),
    lambda m: m[:-30] + b"X" + m[-29:],
    lambda m: m.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                        b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click"),
    lambda m: m.replace(b"\r\n\r\n", b"\r\nList-Unsubscribe: <https://evil.example/u>\r\n\r\n", 1),
])
def test_tampering_fails_verification(keys, tamper) -> None:
    _, rsa_key, _ = keys
    signed = DkimSigner(DOMAIN, [rsa_key]).sign(message())
    assert tamper(signed) != signed
    assert not dkim.verify(tamper(signed), dnsfunc=dns(rsa_key))


def test_relaxed_body_per_rfc6376() -> None:
    assert relaxed_body(b"a  b \t\r\n c\r\n\r\n\r\n") == b"a b\r\n c\r\n"
    assert relaxed_body(b"") == b""
    assert relaxed_body(b"x") == b"x\r\n"


def _relaxed_body_by_the_letter(body: bytes) -> bytes:
    lines = [re.sub(rb"[ \t]+", b" ", line).rstrip(b" ") for line in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


@given(st.lists(st.sampled_from([b"a", b"Zm9v", b" ", b"\t", b"\r\n", b"\r", b"\n", b"=", b"  "]), max_size=40))
def test_relaxed_body_fast_path_agrees_with_the_rule(pieces) -> None:
    body = b"".join(pieces)
    assert relaxed_body(body) == _relaxed_body_by_the_letter(body)


def test_key_file_and_dns_record(keys) -> None:
    home, rsa_key, ed_key = keys
    path = home / "dkim" / "rsa1.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    record = dns_record(rsa_key, DOMAIN)
    assert record.startswith('rsa1._domainkey.shop.example. IN TXT "v=DKIM1; k=rsa; p=MII')
    strings = re.findall(r'"([^"]*)"', record)
    assert len(strings) >= 2 and all(len(s.encode()) <= 255 for s in strings)
    assert "".join(strings) == txt_value(rsa_key)
    assert dns_record(ed_key, DOMAIN).count('"') == 2 and "k=ed25519" in dns_record(ed_key, DOMAIN)
    with pytest.raises(ConfigError):
        generate_key(home, "rsa1")  # never overwrites
    with pytest.raises(ConfigError):
        generate_key(home, "../x")


def test_signer_from_home(tmp_path) -> None:
    assert DkimSigner.from_home(tmp_path, "none", DOMAIN) is None
    generate_key(tmp_path, "a1")
    signer = DkimSigner.from_home(tmp_path, "a1,missing", DOMAIN)
    assert signer is not None and [k.selector for k in signer.keys] == ["a1"]


def test_cli_generate_and_dns(tmp_path, monkeypatch) -> None:
    import json

    import typer

    from winback.cli.dkim import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def main(ctx: typer.Context) -> None:
        from winback.jobs.workspace import Workspace
        from winback.settings import Settings
        ctx.obj = Workspace(settings=Settings())

    monkeypatch.setenv("WINBACK_HOME", str(tmp_path))
    monkeypatch.setenv("WINBACK_MAIL_FROM", "Shop <news@shop.example>")
    runner = CliRunner()
    result = runner.invoke(app, ["dkim", "generate", "--selector", "s2026", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["selector"] == "s2026" and out["kind"] == "rsa"
    assert out["name"] == "s2026._domainkey.shop.example"
    assert (tmp_path / "dkim" / "s2026.key").exists()
    result = runner.invoke(app, ["dkim", "dns", "--selector", "s2026"])
    assert result.exit_code == 0, result.output
    assert "s2026._domainkey.shop.example. IN TXT" in result.output
    result = runner.invoke(app, ["dkim", "generate", "--selector", "e2026", "--kind", "ed25519", "--json"])
    assert json.loads(result.output)["value"].startswith("v=DKIM1; k=ed25519; p=")
    result = runner.invoke(app, ["dkim", "generate", "--selector", "s2026"])
    assert result.exit_code != 0
    result = runner.invoke(app, ["dkim", "dns", "--selector", "nothere"])
    assert result.exit_code != 0
