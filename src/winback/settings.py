"""Settings, read from the environment (prefix WINBACK_) by the fronts only."""

from __future__ import annotations

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

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be a three-letter ISO 4217 code such as USD or CNY")
        return value.upper()

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'winback.db').resolve()}"
