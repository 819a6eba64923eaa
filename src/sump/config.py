"""Settings, read from `SUMP_*` environment variables (and `.env`), validated at boot."""

from __future__ import annotations

import ipaddress
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET_FILE = Path(".sump-secret")
MIN_SECRET_BYTES = 32


class Env(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class EmailBackend(StrEnum):
    CONSOLE = "console"
    SMTP = "smtp"


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUMP_", env_file=".env", extra="ignore", frozen=True)

    env: Env = Env.DEV
    database_url: str = "sqlite+aiosqlite:///./sump.db"
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8080"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = Field(
        default_factory=list
    )
    redis_url: str | None = None
    rate_limits: bool = True
    email_backend: EmailBackend = EmailBackend.CONSOLE
    smtp_url: str | None = None
    email_from: str = "no-reply@localhost"

    session_absolute_ttl: int = Field(default=30 * 24 * 3600, ge=60)
    session_idle_ttl: int = Field(default=7 * 24 * 3600, ge=60)
    password_threads: int | None = Field(default=None, ge=1)  # per process; `sump serve` sets cores ÷ workers
    password_queue_size: int = Field(default=16, ge=0)
    access_token_ttl: int = Field(default=15 * 60, ge=60, le=24 * 3600)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=3600)
    refresh_grace_seconds: int = Field(default=10, ge=0, le=300)
    key_rotation_days: int = Field(default=30, ge=1)
    lockout_free_attempts: int = Field(default=5, ge=1)
    lockout_threshold: int = Field(default=10, ge=2)
    lockout_window_minutes: int = Field(default=15, ge=1)
    lockout_max_delay: float = Field(default=30.0, ge=0)
    lockout_account_ceiling: int = Field(default=100, ge=2)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        if isinstance(value, str) and value.lower() in {"on", "off"}:
            return value.lower() == "on"
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        if self.secret_key and len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"SUMP_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes")
        if not self.secret_key and self.env is not Env.DEV:
            raise ValueError(f"SUMP_SECRET_KEY is required when SUMP_ENV={self.env.value}")
        if self.email_backend is EmailBackend.SMTP and not self.smtp_url:
            raise ValueError("SUMP_SMTP_URL is required when SUMP_EMAIL_BACKEND=smtp")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.env is Env.PROD

    def with_dev_secret(self) -> Settings:
        """In dev, an unset secret is generated once and kept in `.sump-secret` so sessions survive restarts."""
        if self.secret_key:
            return self
        if DEV_SECRET_FILE.exists():
            secret = DEV_SECRET_FILE.read_text().strip()
        else:
            secret = secrets.token_urlsafe(48)
            DEV_SECRET_FILE.write_text(secret + "\n")
            DEV_SECRET_FILE.chmod(0o600)
        return self.model_copy(update={"secret_key": secret})


class SettingsError(Exception):
    """Raised with a message that names each bad `SUMP_*` variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            name = f"SUMP_{field.upper()}" if field else "settings"
            lines.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    return settings.with_dev_secret()
