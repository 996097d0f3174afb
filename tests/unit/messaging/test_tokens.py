import base64
import contextlib
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winback.domain.errors import ConfigError
from winback.tracking.tokens import BadToken, LinkBuilder, TokenSigner, environment_id, load_keys

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
    elif attack == "version":
        b[0] = 2
        bad = enc(bytes(b))
    elif attack == "swap_payload":  # another customer's payload under this token's MAC
        other = raw(s.sign("unsubscribe", {"c": "C-2", "e": 42, "s": "day-3"}))
        bad = enc(other[:-16] + bytes(b[-16:]))
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


def test_rotation_old_key_verifies_new_key_signs() -> None:
    old = signer("k1", {"k1": KEYS["k1"]}).sign("click", {"m": "1.s", "l": 0})
    rotated = signer("k2", {"k2": KEYS["k2"], "k1": KEYS["k1"]})
    assert rotated.verify(old, "click") == {"m": "1.s", "l": 0}
    new = rotated.sign("click", {"m": "1.s", "l": 0})
    assert raw(new)[2:4] == b"k2"
    with pytest.raises(BadToken):  # once k1 is retired, its links stop working
        signer("k2", {"k2": KEYS["k2"]}).verify(old, "click")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.binary(max_size=90).map(enc)))
def test_fuzz_verify_only_ever_raises_bad_token(token: str) -> None:
    with contextlib.suppress(BadToken):  # anything else fails the test
        signer().verify(token, "unsubscribe")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=80), st.integers(min_value=0, max_value=79))
def test_fuzz_mutated_tokens_fail(noise: bytes, at: int) -> None:
    token = raw(signer().sign("open", {"m": "12.s1"}))
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


def test_link_urls_are_short_and_verify() -> None:
    links = LinkBuilder(signer(), "https://t.shop.example/")
    click = links.click_url("123456.reminder-2", 7)
    assert click.startswith("https://t.shop.example/c/")
    assert len(click) < 120
    assert links.signer.verify(click.rsplit("/", 1)[1], "click") == {"m": "123456.reminder-2", "l": 7}
    unsub = links.unsubscribe_url("C-000123", 123456, "reminder-2")
    assert unsub.startswith("https://t.shop.example/u/") and len(unsub) < 200
    assert links.signer.verify(unsub.rsplit("/", 1)[1], "unsubscribe") == {"c": "C-000123", "e": 123456,
                                                                           "s": "reminder-2"}
    pref = links.preferences_url("C-1")
    assert links.signer.verify(pref.rsplit("/", 1)[1], "preferences") == {"c": "C-1"}
    opened = links.open_url("9.s")
    assert opened.endswith(".gif")
    assert links.signer.verify(opened.rsplit("/", 1)[1].removesuffix(".gif"), "open") == {"m": "9.s"}


def test_environment_id_is_stable() -> None:
    assert environment_id("HTTPS://T.Shop.Example/some/path") == environment_id("https://t.shop.example")
    assert environment_id("https://a.example") != environment_id("https://b.example")
