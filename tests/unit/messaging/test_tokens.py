import base64
import contextlib
import hashlib
import os
import stat
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winback.domain.errors import ConfigError
from winback.tracking.tokens import PURPOSES, BadToken, LinkBuilder, TokenSigner, environment_id, link_key, load_keys

KEYS = {"k1": b"0123456789abcdef-one", "k2": b"0123456789abcdef-two"}
ENV = environment_id("https://t.shop.example")


def signer(current: str = "k1", keys: dict[str, bytes] | None = None, env: str = ENV) -> TokenSigner:
    return TokenSigner(keys or KEYS, current, env)


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def enc(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip() -> None:
    payload = {"c": "C-1", "e": 42, "s": "day-3"}
    token = signer().sign("unsubscribe", payload)
    assert signer().verify(token, "unsubscribe") == payload
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("attack", ["flip_mac", "flip_payload", "truncate", "truncate_mac", "empty", "garbage",
                                    "version", "swap_payload", "kid", "not_b64"])
def test_every_tampering_is_one_bad_token(attack: str) -> None:
    s = signer()
    token = s.sign("unsubscribe", {"c": "C-1", "e": 42, "s": "day-3"})
    b = bytearray(raw(token))
    if attack == "flip_mac":
        b[-1] ^= 1
        bad = enc(bytes(b))
    elif attack == "flip_payload":
        b[10] ^= 1
        bad = enc(bytes(b))
    elif attack == "truncate":
        bad = token[:-5]
    elif attack == "truncate_mac":  # a shorter MAC that is a prefix of the real one
        bad = enc(bytes(b[:-4]))
    elif attack == "empty":
        bad = ""
    elif attack == "garbage":
        bad = "AAAA"
    elif attack == "version":  # the readable, MAC-only tokens of version 1 are refused
        b[0] = 1
        bad = enc(bytes(b))
    elif attack == "swap_payload":  # another customer's ciphertext under this token's synthetic IV
        other = raw(s.sign("unsubscribe", {"c": "C-2", "e": 42, "s": "day-3"}))
        bad = enc(bytes(b[:4 + 16]) + other[4 + 16:])
    elif attack == "kid":
        bad = TokenSigner({"zz": b"0123456789abcdef-zz"}, "zz", ENV).sign("unsubscribe", {"c": "C-1"})
    else:
        bad = "%%%!!"
    with pytest.raises(BadToken) as info:
        s.verify(bad, "unsubscribe")
    assert str(info.value) == "bad token"


def test_wrong_purpose_and_other_environment_fail() -> None:
    token = signer().sign("preferences", {"c": "C-1"})
    with pytest.raises(BadToken):
        signer().verify(token, "unsubscribe")
    with pytest.raises(BadToken):
        signer(env=environment_id("https://staging.shop.example")).verify(token, "preferences")
    with pytest.raises(BadToken):  # same keys, another public URL (port)
        signer(env=environment_id("https://t.shop.example:8443")).verify(token, "preferences")


def test_rotation_old_key_verifies_new_key_signs() -> None:
    old = signer("k1", {"k1": KEYS["k1"]}).sign("click", {"e": 1, "s": "s", "k": "ab"})
    rotated = signer("k2", {"k2": KEYS["k2"], "k1": KEYS["k1"]})
    assert rotated.verify(old, "click") == {"e": 1, "s": "s", "k": "ab"}
    new = rotated.sign("click", {"e": 1, "s": "s", "k": "ab"})
    assert raw(new)[2:4] == b"k2"
    assert new != old
    with pytest.raises(BadToken):  # once k1 is retired, its links stop working
        signer("k2", {"k2": KEYS["k2"]}).verify(old, "click")


def test_unknown_kid_and_same_kid_other_secret_fail() -> None:
    token = signer().sign("open", {"c": "C-1"})
    with pytest.raises(BadToken):
        TokenSigner({"k9": KEYS["k1"]}, "k9", ENV).verify(token, "open")
    with pytest.raises(BadToken):  # a kid that is listed, but with another secret behind it
        TokenSigner({"k1": b"0123456789abcdef-forged"}, "k1", ENV).verify(token, "open")


def test_payload_is_not_readable() -> None:
    token = signer().sign("click", {"c": "CUSTOMER-4711", "e": 987654, "s": "reminder-2", "k": "0123456789abcdef"})
    data = raw(token)
    for secret in (b"CUSTOMER-4711", b"987654", b"reminder-2", b"0123456789abcdef", b'"c"'):
        assert secret not in data
    assert data[0] == 2 and data[2:4] == b"k1"  # version and key id stay in clear, for rotation


def test_customer_cannot_be_swapped() -> None:
    s = signer()
    mine = raw(s.sign("unsubscribe", {"c": "C-1", "e": 42, "s": "day-3"}))
    theirs = raw(s.sign("unsubscribe", {"c": "C-2", "e": 42, "s": "day-3"}))
    assert mine[4:] != theirs[4:]
    # Splice every split of the two ciphertexts: none opens as anything, let alone as the other customer.
    for cut in range(5, min(len(mine), len(theirs))):  # cut 4 would be their token whole
        with pytest.raises(BadToken):
            s.verify(enc(mine[:cut] + theirs[cut:]), "unsubscribe")
    # XOR-ing "1" ^ "2" into the ciphertext (which edits the plaintext of a malleable stream cipher), at every
    # position: one of them is where the customer id sits, and still nothing opens.
    for i in range(4 + 16, len(mine)):
        body = bytearray(mine)
        body[i] ^= ord("1") ^ ord("2")
        with pytest.raises(BadToken):
            s.verify(enc(bytes(body)), "unsubscribe")


def test_every_purpose_is_bound() -> None:
    s = signer()
    for purpose in PURPOSES:
        token = s.sign(purpose, {"c": "C-1"})
        assert s.verify(token, purpose) == {"c": "C-1"}
        for other in PURPOSES:
            if other != purpose:
                with pytest.raises(BadToken):
                    s.verify(token, other)
    with pytest.raises(ValueError, match="purpose"):
        s.sign("download", {"c": "C-1"})


def test_same_link_renders_the_same_token() -> None:
    assert signer().sign("open", {"c": "C-1", "e": 1}) == signer().sign("open", {"c": "C-1", "e": 1})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.binary(max_size=90).map(enc)))
def test_fuzz_verify_only_ever_raises_bad_token(token: str) -> None:
    with contextlib.suppress(BadToken):  # anything else fails the test
        signer().verify(token, "unsubscribe")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=80), st.integers(min_value=0, max_value=79))
def test_fuzz_mutated_tokens_fail(noise: bytes, at: int) -> None:
    token = raw(signer().sign("open", {"c": "C-1", "e": 12, "s": "s1"}))
    i = at % len(token)
    mutated = token[:i] + bytes([token[i] ^ (noise[0] or 1)]) + token[i + 1:]
    with pytest.raises(BadToken):
        signer().verify(enc(mutated), "open")


def test_keys_from_settings_first_signs() -> None:
    keys, current = load_keys("new:0123456789abcdef-new, old:0123456789abcdef-old", home=None)  # type: ignore[arg-type]
    assert current == "new"
    assert set(keys) == {"new", "old"}
    with pytest.raises(ConfigError):
        load_keys("no-colon", home=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        TokenSigner({"k": b"short"}, "k", ENV)


def test_default_key_is_generated_once_with_0600(tmp_path) -> None:
    keys, current = load_keys(None, tmp_path)
    path = tmp_path / "secrets" / "link-keys"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_keys(None, tmp_path) == (keys, current)
    assert len(keys[current]) >= 32


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".gif")


def test_link_urls_are_short_and_verify() -> None:
    links = LinkBuilder(signer(), "https://t.shop.example/")
    sent = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    target = "https://shop.example/sale?utm_source=winback"
    click = links.click_url(customer_id="C-000123", enrolment_id=123456, step="reminder-2",
                            link_key=link_key(target), sent_at=sent)
    assert click.startswith("https://t.shop.example/c/")
    assert len(click) < 130
    assert links.signer.verify(_token(click), "click") == {"c": "C-000123", "e": 123456, "s": "reminder-2",
                                                           "k": link_key(target), "t": 1790856000}
    unsub = links.unsubscribe_url("C-000123", 123456, "reminder-2")
    assert unsub.startswith("https://t.shop.example/u/") and len(unsub) < 200
    assert unsub.endswith(links.unsubscribe_token("C-000123", 123456, "reminder-2"))
    assert links.signer.verify(_token(unsub), "unsubscribe") == {"c": "C-000123", "e": 123456, "s": "reminder-2"}
    pref = links.preferences_url("C-1")
    assert pref.startswith("https://t.shop.example/p/")
    assert links.signer.verify(_token(pref), "preferences") == {"c": "C-1"}
    opened = links.open_url(customer_id="C-1", enrolment_id=9, step="s", sent_at=sent)
    assert opened.startswith("https://t.shop.example/o/") and opened.endswith(".gif")
    assert links.signer.verify(_token(opened), "open") == {"c": "C-1", "e": 9, "s": "s", "t": 1790856000}
    view = links.view_url(customer_id="C-1", enrolment_id=9, step="s")
    assert view.startswith("https://t.shop.example/v/")
    assert links.signer.verify(_token(view), "view") == {"c": "C-1", "e": 9, "s": "s"}
    survey = links.survey_url(customer_id="C-1")
    assert survey.startswith("https://t.shop.example/s/")
    assert links.signer.verify(_token(survey), "survey") == {"c": "C-1"}
    assert links.signer.verify(_token(links.survey_url(customer_id="C-1", enrolment_id=9)), "survey") == {
        "c": "C-1", "e": 9}


def test_link_key_is_16_hex_of_sha256() -> None:
    key = link_key("https://shop.example/a")
    assert len(key) == 16 and int(key, 16) >= 0
    assert key == hashlib.sha256(b"https://shop.example/a").hexdigest()[:16]
    assert link_key("https://shop.example/b") != key


def test_environment_id_is_stable() -> None:
    assert environment_id("HTTPS://T.Shop.Example/some/path") == environment_id("https://t.shop.example")
    assert environment_id("https://a.example") != environment_id("https://b.example")


def _version_one(purpose: str, payload: dict, *, kid: str = "k1", env: str = ENV) -> str:
    """A token as version 1 wrote it (readable JSON, HMAC-SHA256 tag of 16 bytes), for mail sent before version 2."""
    import hmac
    import json

    body = bytes((1, len(kid))) + kid.encode() + json.dumps(payload, separators=(",", ":")).encode()
    mac = hmac.new(KEYS[kid], purpose.encode() + b"\0" + env.encode() + b"\0" + body, hashlib.sha256).digest()[:16]
    return enc(body + mac)


def test_unsubscribe_and_preference_links_of_version_one_still_work() -> None:
    payload = {"c": "C-1", "e": 42, "s": "day-3"}
    assert signer().verify(_version_one("unsubscribe", payload), "unsubscribe") == payload
    assert signer().verify(_version_one("preferences", {"c": "C-1"}), "preferences") == {"c": "C-1"}


@pytest.mark.parametrize("case", ["click", "other_purpose", "other_env", "tampered", "unknown_kid"])
def test_version_one_is_honoured_for_nothing_else(case: str) -> None:
    payload = {"c": "C-1", "e": 42, "s": "day-3"}
    token, purpose = _version_one("unsubscribe", payload), "unsubscribe"
    if case == "click":
        token, purpose = _version_one("click", {"m": "42.day-3", "l": 0}), "click"
    elif case == "other_purpose":
        purpose = "preferences"
    elif case == "other_env":
        token = _version_one("unsubscribe", payload, env=environment_id("https://other.example"))
    elif case == "tampered":
        data = bytearray(raw(token))
        data[10] ^= 1
        token = enc(bytes(data))
    else:
        token = _version_one("unsubscribe", payload, kid="k2")
        with pytest.raises(BadToken):
            signer(keys={"k1": KEYS["k1"]}).verify(token, purpose)
        return
    with pytest.raises(BadToken):
        signer().verify(token, purpose)
