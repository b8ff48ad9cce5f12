"""The one settings object: environment variables first, then `.streamlit/secrets.toml`."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import secrets
import tomllib
from collections import Counter
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'trustpool.db'}"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
# Without a configured TRUSTPOOL_COOKIE_KEY, a random key is made on the first start and kept
# here (mode 0600, gitignored); every later start and every app process reuses it.
DEFAULT_COOKIE_KEY_FILE = PROJECT_ROOT / "data" / ".cookie_key"
MIN_COOKIE_KEY_LENGTH = 32
MIN_COOKIE_KEY_BITS = 96  # the key's length times its characters' empirical entropy
# SHA-256 of keys that have been public (the development key this repository's source once
# printed): never accepted.
PUBLIC_COOKIE_KEY_HASHES = frozenset(
    {"e46089c7508355ad9f18bd8b0d7036315b7a80dffaccf35e088ea8a5c3176195"}
)


class ProductionNotReady(RuntimeError):
    """Why this server may not run with TRUSTPOOL_ENV=production; `reason` names the label
    (`security.<reason>`) that tells the operator the fix."""

    def __init__(self, reason: str, message: str, **values: Any):
        super().__init__(message)
        self.reason = reason
        self.values = values


def cookie_key_problem(key: str | None) -> str | None:
    """Why `key` is not a strong signing key (None: it is): missing, short, or low entropy."""
    if not key:
        return "missing"
    if hashlib.sha256(key.encode()).hexdigest() in PUBLIC_COOKIE_KEY_HASHES:
        return "public"
    if len(key) < MIN_COOKIE_KEY_LENGTH:
        return "short"
    if any(key == (key[:period] * len(key))[: len(key)] for period in range(1, len(key) // 2 + 1)):
        return "repeated"
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if len(counts) < 10 or per_char * len(key) < MIN_COOKIE_KEY_BITS:
        return "weak"
    return None


def _stored_cookie_key(path: Path) -> str:
    """The key kept in `path`, made (random, mode 0600) if there is none yet.

    Several app processes may start at once: the key is written to a private temporary file
    and linked into place, so exactly one key wins and every process reads that one.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):  # another process was first: use theirs
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if cookie_key_problem(key):
        raise RuntimeError(f"{path} does not hold a usable key: delete it to make a new one")
    return key


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
    # None: not configured; `signing_key` then uses (or makes) the key file.
    cookie_key: str | None = Field(None, validation_alias="TRUSTPOOL_COOKIE_KEY")
    cookie_key_file: Path = Field(
        DEFAULT_COOKIE_KEY_FILE, validation_alias="TRUSTPOOL_COOKIE_KEY_FILE"
    )
    env: Literal["development", "production"] = Field(
        "development", validation_alias="TRUSTPOOL_ENV"
    )
    password: str | None = Field(None, validation_alias="TRUSTPOOL_PASSWORD")
    # The re-login cookie lives this long at most, and never longer than the admin setting
    # absolute_session_hours (core/ui/auth.py takes the smaller).
    cookie_expiry_days: float = Field(7.0, validation_alias="TRUSTPOOL_COOKIE_EXPIRY_DAYS")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, env_settings, SecretsTomlSource(settings_cls))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def signing_key(self) -> str:
        """The key that signs the re-login cookie: TRUSTPOOL_COOKIE_KEY when configured, else
        the random key kept in `cookie_key_file` (made on the first start)."""
        if self.cookie_key:
            return self.cookie_key
        return _stored_cookie_key(Path(self.cookie_key_file))

    def check_production_ready(self, demo_logins: list[str] | None = None) -> None:
        """The one place that decides whether this server may run in production.

        Production needs a configured, strong TRUSTPOOL_COOKIE_KEY (a generated key file is a
        development convenience) and no login that still opens with the public demo password
        (`demo_logins`: the usernames core.demo.demo_logins_in found). Raises
        ProductionNotReady; development always passes.
        """
        if self.env != "production":
            return
        problem = cookie_key_problem(self.cookie_key)
        if problem == "missing":
            raise ProductionNotReady(
                "production_cookie_key",
                "TRUSTPOOL_COOKIE_KEY must be set (environment or .streamlit/secrets.toml) "
                "when TRUSTPOOL_ENV=production",
            )
        if problem:
            raise ProductionNotReady(
                "weak_cookie_key",
                f"TRUSTPOOL_COOKIE_KEY is too weak ({problem}): use at least "
                f"{MIN_COOKIE_KEY_LENGTH} random characters",
                length=MIN_COOKIE_KEY_LENGTH,
            )
        if demo_logins:
            raise ProductionNotReady(
                "demo_logins",
                "demo logins with the public password exist: " + ", ".join(demo_logins),
                usernames=", ".join(demo_logins),
            )


@lru_cache
def get_settings() -> Settings:
    return Settings()
