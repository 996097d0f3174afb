"""Settings, read from the environment (prefix WINBACK_) by the fronts only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where winback keeps its data and how it reaches its store."""

    model_config = SettingsConfigDict(env_prefix="WINBACK_", extra="ignore")

    home: Path = Field(default=Path(".winback"), description="Data directory (WINBACK_HOME).")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the store (WINBACK_DATABASE_URL); default SQLite in home."
    )
    currency: str = Field(default="USD", description="Currency of amounts imported without one (WINBACK_CURRENCY).")
    transport: str | None = Field(
        default=None, description="Where messages go (WINBACK_TRANSPORT): memory, or maildir:PATH; default a maildir "
        "in home (outbox/).")
    mail_from: str = Field(default="winback <noreply@winback.invalid>",
                           description="The From address of messages (WINBACK_MAIL_FROM).")
    public_url: str = Field(
        default="https://winback.localhost", description="Where the tracking service answers, for unsubscribe, "
        "preference and tracking links (WINBACK_PUBLIC_URL); must be https for marketing mail.")
    postal_address: str | None = Field(
        default=None, description="The sender's physical postal address, shown in every marketing message "
        "(WINBACK_POSTAL_ADDRESS); marketing mail is blocked without it.")
    list_id: str | None = Field(default=None, description="The List-Id of marketing mail (WINBACK_LIST_ID); default "
                                "winback.<sending domain>.")
    dkim_selector: str | None = Field(default=None, description="DKIM selector (WINBACK_DKIM_SELECTOR); signing is on "
                                      "when a key exists in home/dkim/<selector>.key.")
    secret_keys: str | None = Field(
        default=None, description="Keys that sign links, `kid:secret,kid2:secret2`, the first signs "
        "(WINBACK_SECRET_KEYS); default: a key generated once in home/secrets.")
    shop_url: str | None = Field(default=None, description="The shop's home page (WINBACK_SHOP_URL): where the "
                                 "buttons in messages lead; messages have no button without it.")
    product_url: str | None = Field(default=None, description="A product page address with {sku} in it "
                                    "(WINBACK_PRODUCT_URL), e.g. https://shop.example/p/{sku}: product names in "
                                    "messages link there.")
    track_opens: bool = Field(default=True, description="Put an open pixel in email (WINBACK_TRACK_OPENS).")
    track_clicks: bool = Field(default=True, description="Send links in email through the tracking service "
                               "(WINBACK_TRACK_CLICKS).")
    templates_dir: Path | None = Field(default=None, description="Your templates (WINBACK_TEMPLATES_DIR), searched "
                                       "before the shipped ones.")
    dns: str = Field(default="online", description="DNS lookups for list hygiene (WINBACK_DNS): online or offline.")
    soft_bounce_limit: int = Field(default=7, ge=1, description="Soft bounces in a row after which an address is "
                                   "suppressed (WINBACK_SOFT_BOUNCE_LIMIT): suppressed at more than this.")
    sms_transport: str | None = Field(default=None, description="Where SMS go (WINBACK_SMS_TRANSPORT): memory, "
                                      "https://… (generic JSON) or twilio://SID:TOKEN@host?from=NUMBER.")
    webhook_url: str | None = Field(default=None, description="Target of webhook sends (WINBACK_WEBHOOK_URL).")
    webhook_secret: str | None = Field(default=None, description="HMAC key of webhook signatures "
                                       "(WINBACK_WEBHOOK_SECRET).")
    egress_allow: str | None = Field(
        default=None, description="Hosts or networks webhooks and SMS may reach although private or loopback "
        "(WINBACK_EGRESS_ALLOW), e.g. 127.0.0.1,10.0.0.0/8.")
    frequency_caps: str | None = Field(
        default=None, description="Global caps on marketing messages per customer (WINBACK_FREQUENCY_CAPS), "
        "e.g. email=2/7d,sms=1/7d; programmes obey them unless they say caps: {global: false}.")
    provider_webhook_secrets: str | None = Field(
        default=None, description="Secrets of delivery-provider webhooks, `provider:secret,provider2:secret` "
        "(WINBACK_PROVIDER_WEBHOOK_SECRETS); a provider without one is refused.")
    api_rate: float = Field(default=50.0, ge=0, description="Real-time API requests per second per key "
                            "(WINBACK_API_RATE), 0 = no limit.")
    api_burst: int = Field(default=100, ge=1, description="Real-time API requests a key may make at once "
                           "(WINBACK_API_BURST).")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be a three-letter ISO 4217 code such as USD or CNY")
        return value.upper()

    @field_validator("product_url")
    @classmethod
    def _product_url(cls, value: str | None) -> str | None:
        if value and "{sku}" not in value:
            raise ValueError("must contain {sku}, e.g. https://shop.example/p/{sku}")
        return value

    @field_validator("dns")
    @classmethod
    def _dns(cls, value: str) -> str:
        if value not in ("online", "offline"):
            raise ValueError("online or offline")
        return value

    @field_validator("frequency_caps")
    @classmethod
    def _caps(cls, value: str | None) -> str | None:
        if value:
            parse_caps(value)
        return value

    @property
    def caps(self) -> dict[str, tuple[int, timedelta]]:
        return parse_caps(self.frequency_caps) if self.frequency_caps else {}

    @property
    def transport_spec(self) -> str:
        return self.transport or f"maildir:{(self.home / 'outbox').resolve()}"

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'winback.db').resolve()}"


def parse_caps(text: str) -> dict[str, tuple[int, timedelta]]:
    """`email=2/7d,sms=1/7d` → {"email": (2, 7 days), "sms": (1, 7 days)}."""
    from winback.campaigns.durations import parse_duration

    caps: dict[str, tuple[int, timedelta]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        channel, _, rule = part.partition("=")
        count, _, per = rule.partition("/")
        if channel.strip() not in ("email", "sms", "webhook") or not count.strip().isdigit() or not per:
            raise ValueError(f"{part!r}: write CHANNEL=COUNT/PERIOD, e.g. email=2/7d")
        caps[channel.strip()] = (int(count), parse_duration(per.strip()))
    return caps
