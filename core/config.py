"""The one settings object: environment variables first, then `.streamlit/secrets.toml`."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'trustpool.db'}"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
# Only ever used in development; production refuses to start with it.
DEVELOPMENT_COOKIE_KEY = "trustpool-development-cookie-key-not-for-production"


class SecretsTomlSource(PydanticBaseSettingsSource):
    """Reads the same keys from `.streamlit/secrets.toml` (top level), below the environment."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path = SECRETS_FILE):
        super().__init__(settings_cls)
        self.values: dict[str, Any] = {}
        if path.exists():
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
            self.values = {k.upper(): v for k, v in raw.items() if not isinstance(v, dict)}

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the ABC
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for name, field in self.settings_cls.model_fields.items():
            alias = (field.validation_alias or name).upper()
            if alias in self.values:
                found[name] = self.values[alias]
        return found


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    language: Literal["en", "zh"] = Field("en", validation_alias="TRUSTPOOL_LANGUAGE")
    timezone: str = Field("Asia/Shanghai", validation_alias="TRUSTPOOL_TIMEZONE")
    cookie_key: str = Field(DEVELOPMENT_COOKIE_KEY, validation_alias="TRUSTPOOL_COOKIE_KEY")
    env: Literal["development", "production"] = Field(
        "development", validation_alias="TRUSTPOOL_ENV"
    )
    password: str | None = Field(None, validation_alias="TRUSTPOOL_PASSWORD")
    cookie_expiry_days: float = Field(7.0, validation_alias="TRUSTPOOL_COOKIE_EXPIRY_DAYS")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, env_settings, SecretsTomlSource(settings_cls))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check_production_ready(self) -> None:
        """Refuse to run in production with the development cookie key."""
        if self.env == "production" and self.cookie_key == DEVELOPMENT_COOKIE_KEY:
            raise RuntimeError(
                "TRUSTPOOL_COOKIE_KEY must be set (environment or .streamlit/secrets.toml) "
                "when TRUSTPOOL_ENV=production"
            )


@lru_cache
def get_settings() -> Settings:
    return Settings()
