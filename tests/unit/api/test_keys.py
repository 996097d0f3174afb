"""API keys without a store: the key format, scopes, the cache of verified keys, the rate limit, provider secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from winback.api.keys import SCOPES, ApiKey, KeyCache, RateLimiter, check_scopes, parse_key
from winback.api.realtime import provider_secrets
from winback.domain.errors import ConfigError, UserError
from winback.settings import Settings

SECRET = "Zm9vYmFyYmF6cXV4X3NlY3JldF9mb3JfdGVzdHNfX18"  # 43 URL-safe characters, with `_` inside


class Ticker:
    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


def _key(scopes: tuple[str, ...] | None = None) -> ApiKey:
    return ApiKey(key_id="0123456789abcdef", name="shop", scopes=scopes, created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_parse_key_splits_id_and_secret_even_when_the_secret_has_underscores():
    assert parse_key(f"wbk_0123456789abcdef_{SECRET}") == ("0123456789abcdef", SECRET)
    assert parse_key(f"  wbk_0123456789abcdef_{SECRET}\n") == ("0123456789abcdef", SECRET)


@pytest.mark.parametrize("presented", [
    "", "wbk_", f"xyz_0123456789abcdef_{SECRET}", f"wbk_0123456789ABCDEF_{SECRET}", f"wbk_0123_{SECRET}",
    "wbk_0123456789abcdef_short", f"wbk_0123456789abcdeg_{SECRET}",
])
def test_malformed_keys_do_not_parse(presented):
    assert parse_key(presented) is None


def test_scopes_are_checked_and_none_means_all():
    assert check_scopes(None) is None
    assert check_scopes(["orders:write", "events:write", "orders:write"]) == ["events:write", "orders:write"]
    with pytest.raises(UserError, match="orders:read"):
        check_scopes(["orders:read"])
    assert all(_key().allows(s) for s in SCOPES)
    limited = _key(("orders:write",))
    assert limited.allows("orders:write") and not limited.allows("webhooks:write")
    assert "secret" not in " ".join(limited.as_dict()) and limited.as_dict()["revoked"] is False


def test_key_cache_forgets_entries_after_its_ttl():
    ticker = Ticker()
    cache = KeyCache(30, timer=ticker)
    key = _key()
    cache.put("wbk_a", key)
    ticker.at = 29.9
    assert cache.get("wbk_a") is key and cache.get("wbk_b") is None
    ticker.at = 30.0
    assert cache.get("wbk_a") is None


def test_token_bucket_allows_a_burst_then_the_rate():
    ticker = Ticker()
    limiter = RateLimiter(2.0, 3, timer=ticker)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)
    assert limiter.take("other") == 0.0
    ticker.at = 0.5
    assert limiter.take("k") == 0.0 and limiter.take("k") == pytest.approx(0.5)
    ticker.at = 100.0  # a long pause refills to the burst, not beyond
    assert [limiter.take("k") for _ in range(4)][-1] > 0
    assert RateLimiter(0, 1, timer=ticker).take("k") == 0.0  # 0 = no limit


def test_provider_secrets_from_settings(tmp_path):
    settings = Settings(home=tmp_path, provider_webhook_secrets="acme:s1, postal-mail:a:b:c ,")
    assert provider_secrets(settings) == {"acme": "s1", "postal-mail": "a:b:c"}
    assert provider_secrets(Settings(home=tmp_path)) == {}
    with pytest.raises(ConfigError, match="provider:secret"):
        provider_secrets(Settings(home=tmp_path, provider_webhook_secrets="no-secret-here"))
