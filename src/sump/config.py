"""Settings, read from `SUMP_*` environment variables (and `.env`), validated at boot."""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import os
import secrets
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

DEV_SECRET_NAME = ".sump-secret"  # noqa: S105 (a file name, beside the SQLite database file)
ENV_FILE = ".env"
MIN_SECRET_BYTES = 32
# `SUMP_*` names read by Sump's test suite and by applications that verify Sump's tokens, not settings.
OTHER_SUMP_VARIABLES = frozenset({"SUMP_TEST_DATABASE_URL", "SUMP_URL", "SUMP_ENVIRONMENT_ID"})
PROXIES_EXPECTED = "expected comma-separated addresses or networks, like 10.0.0.0/8,192.168.1.10"


class Env(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class EmailBackend(StrEnum):
    CONSOLE = "console"
    SMTP = "smtp"


class LogFormat(StrEnum):
    JSON = "json"  # one JSON object a line
    TEXT = "text"  # readable lines


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUMP_", env_file=ENV_FILE, extra="ignore", frozen=True)

    env: Env = Env.DEV
    database_url: str = "sqlite+aiosqlite:///./sump.db"
    # Seconds a request's statement may take before its connection is closed and the request answers 503.
    db_command_timeout: float = Field(default=1.5, ge=0.1, le=60)
    # Connections a worker keeps open to PostgreSQL, and how many more it may open for a burst (each closed after
    # its one use): PostgreSQL's `max_connections` must hold, for each worker of each node, the two and one more.
    db_pool_size: int = Field(default=20, ge=2, le=500)
    db_pool_overflow: int = Field(default=5, ge=0, le=500)
    secret_key: str = ""
    # Secrets still accepted for reading (signatures, sealed values, recovery codes), never used to write.
    previous_secret_keys: Annotated[tuple[str, ...], NoDecode] = ()
    public_url: str = "http://127.0.0.1:8080"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = Field(
        default_factory=list
    )
    redis_url: str | None = None
    rate_limits: bool = True
    # Whether anyone may create a tenant (`POST /api/v1/tenants`, the console's setup); off, the operator does
    # (`sump tenants create`).
    tenant_signup: bool = True
    email_backend: EmailBackend = EmailBackend.CONSOLE
    smtp_url: str | None = None
    email_from: str = "no-reply@localhost"
    log_format: LogFormat | None = None  # unset: json when SUMP_ENV=prod, text otherwise (`json_logs`)
    # Bearer token of `GET /metrics` (compared in constant time); unset, /metrics answers 404 like any unknown path.
    metrics_token: str | None = Field(default=None, min_length=16)

    session_absolute_ttl: int = Field(default=30 * 24 * 3600, ge=60)
    session_idle_ttl: int = Field(default=7 * 24 * 3600, ge=60)
    password_threads: int | None = Field(default=None, ge=1)  # per process; `sump serve` sets cores ÷ workers
    password_queue_size: int = Field(default=256, ge=0)  # a bound on memory: admission is by the wait (kit.passwords)
    # "auto": the cheaper of the two on this machine, measured at start (kit.passwords.engine)
    argon2_engine: Literal["auto", "libsodium", "argon2-cffi"] = "auto"
    access_token_ttl: int = Field(default=15 * 60, ge=60, le=24 * 3600)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=3600)
    refresh_grace_seconds: int = Field(default=10, ge=0, le=300)
    key_rotation_days: int = Field(default=30, ge=1)
    lockout_free_attempts: int = Field(default=5, ge=1)
    lockout_threshold: int = Field(default=10, ge=2)
    lockout_window_minutes: int = Field(default=15, ge=1)
    lockout_max_delay: float = Field(default=30.0, ge=0)
    lockout_account_ceiling: int = Field(default=50, ge=2)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        origins = _split_commas(value)
        if isinstance(origins, list) and any("*" in str(origin) for origin in origins):
            # Each origin listed is allowed with credentials: a wildcard would let any site act as the user.
            raise ValueError(
                "wildcards are refused, since these origins may send credentials: list each origin, "
                "like https://app.example"
            )
        return origins

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _previous_secrets(cls, value: object) -> object:
        given = _split_commas(value)
        if isinstance(given, list | tuple) and any(len(str(one).encode()) < MIN_SECRET_BYTES for one in given):
            raise ValueError(f"each secret (comma-separated) must be at least {MIN_SECRET_BYTES} bytes")
        return given

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        entries = _split_commas(value)
        if not isinstance(entries, list):
            return entries
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry))
            except (TypeError, ValueError):
                raise ValueError(f"{str(entry)!r} is not an IP address or network; {PROXIES_EXPECTED}") from None
        return networks

    @field_validator("rate_limits", "tenant_signup", mode="before")
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

    @property
    def json_logs(self) -> bool:
        return self.log_format is LogFormat.JSON or (self.log_format is None and self.env is Env.PROD)

    def dev_secret_file(self) -> Path | None:
        """Where dev keeps its generated secret: beside the SQLite database file, so whichever directory
        serves that database reads the same secret (None for an in-memory database)."""
        database = make_url(self.database_url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).absolute().parent / DEV_SECRET_NAME

    def with_dev_secret(self) -> Settings:
        """In dev, an unset secret is generated once and kept beside the database, so sessions survive restarts."""
        if self.secret_key:
            return self
        path = self.dev_secret_file()
        if path is None:
            return self.model_copy(update={"secret_key": secrets.token_urlsafe(48)})
        if not path.parent.is_dir():
            raise SettingsError(
                f"invalid configuration:\n  SUMP_DATABASE_URL: the directory {path.parent} does not exist"
            )
        if not path.exists():
            # Before it was kept beside the database, the secret was kept in the working directory: carry it
            # over, so the keys and sessions it sealed stay readable.
            earlier = Path(DEV_SECRET_NAME)
            _create_secret_file(path, earlier.read_text().strip() if earlier.is_file() else secrets.token_urlsafe(48))
        return self.model_copy(update={"secret_key": path.read_text().strip()})


def _create_secret_file(path: Path, secret: str) -> None:
    """Written whole, readable by its owner only, then linked into place: two processes starting together keep
    whichever came first, and no reader sees a half-written file."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=DEV_SECRET_NAME)
    try:
        with os.fdopen(descriptor, "w") as output:
            output.write(secret + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class SettingsError(Exception):
    """Raised with a message that names each bad `SUMP_*` variable."""


def load_settings(*, schema_only: bool = False, **overrides: object) -> Settings:
    """The validated settings of a command that serves or uses the secret; `schema_only` for one that only
    migrates the database (`sump db …`), which sends no email and needs no secret, so none is generated."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines: dict[str, str] = {}
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:  # one line per variable: the first thing wrong with it
                name = f"SUMP_{str(error['loc'][0]).upper()}"
                lines.setdefault(name, f"{name}: {message}")
            else:  # a rule across settings, whose message names them
                lines.setdefault(message, message)
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines.values())) from None
    if schema_only:
        return settings
    if settings.env is Env.PROD and "email_backend" not in settings.model_fields_set:
        raise SettingsError(
            "invalid configuration:\n  SUMP_EMAIL_BACKEND must be set when SUMP_ENV=prod: smtp (with SUMP_SMTP_URL) "
            "to deliver email, or console to write every message, live password reset links included, to the log"
        )
    if not settings.secret_key and not settings.is_sqlite:
        raise SettingsError(
            "invalid configuration:\n  SUMP_SECRET_KEY is required with a PostgreSQL database: a generated one "
            "would live on one machine only, and a server started elsewhere could read neither its signing keys "
            "nor its sessions"
        )
    return settings.with_dev_secret()


def startup_warnings(settings: Settings) -> list[str]:
    """What is allowed but probably not meant: `SUMP_*` names that are no setting (misspelt), in the environment
    or `.env`, each with the closest setting; the console mailer chosen in prod."""
    known = {f"SUMP_{name.upper()}" for name in Settings.model_fields}
    warnings = []
    dotenv = dotenv_values(ENV_FILE) if Path(ENV_FILE).is_file() else {}
    sources = [(name, "") for name in os.environ] + [(name, f" (in {ENV_FILE})") for name in dotenv]
    seen = set()
    for name, where in sources:
        upper = name.upper()
        if not upper.startswith("SUMP_") or upper in known or upper in OTHER_SUMP_VARIABLES or upper in seen:
            continue
        seen.add(upper)
        warning = f"{name}{where} is not a Sump setting and is ignored"
        closest = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.75)
        warnings.append(warning + (f"; did you mean {closest[0]}?" if closest else ""))
    if settings.env is Env.PROD and settings.email_backend is EmailBackend.CONSOLE:
        warnings.append(
            "SUMP_EMAIL_BACKEND=console in prod: every message, live password reset links included, is written to "
            "the log"
        )
    return warnings
