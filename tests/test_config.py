"""Settings: validated at boot, every error names its `SUMP_*` variable; the CLI refuses bad configuration."""

from __future__ import annotations

import ipaddress
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sump.config import Env, Settings, SettingsError, load_settings
from tests.support import SECRET

SUMP = Path(sys.executable).parent / "sump"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No `SUMP_*` variable and no `.env` from the machine running the tests: each test sets what it needs."""
    for name in list(os.environ):
        if name.startswith("SUMP_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.asvs("LOG-08")
def test_prod_requires_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_ENV", "prod")
    with pytest.raises(SettingsError, match="SUMP_SECRET_KEY"):
        load_settings()
    assert not Path(".sump-secret").exists(), "no secret is generated outside dev"


@pytest.mark.asvs("LOG-08")
@pytest.mark.parametrize("secret", ["short", "x" * 31, "é" * 15])
def test_prod_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("SUMP_ENV", "prod")
    monkeypatch.setenv("SUMP_SECRET_KEY", secret)
    with pytest.raises(SettingsError, match="SUMP_SECRET_KEY") as raised:
        load_settings()
    assert secret not in str(raised.value), "the secret itself is not echoed"


@pytest.mark.asvs("LOG-08")
def test_prod_accepts_a_long_secret_and_sets_secure_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_ENV", "prod")
    monkeypatch.setenv("SUMP_SECRET_KEY", SECRET)
    monkeypatch.setenv("SUMP_EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("SUMP_SMTP_URL", "smtp://mail.internal:25")
    settings = load_settings()
    assert settings.env is Env.PROD
    assert settings.secret_key == SECRET
    assert settings.secure_cookies


def test_test_env_also_requires_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_ENV", "test")
    with pytest.raises(SettingsError, match="SUMP_SECRET_KEY"):
        load_settings()


def test_unknown_env_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_ENV", "production")
    with pytest.raises(SettingsError, match="SUMP_ENV"):
        load_settings()


@pytest.mark.parametrize(
    "url",
    ["mysql://root@localhost/sump", "sqlite:///./sump.db", "postgresql://postgres@localhost/sump", "not a url"],
)
def test_bad_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SUMP_DATABASE_URL", url)
    with pytest.raises(SettingsError, match="SUMP_DATABASE_URL"):
        load_settings()


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite:///./other.db", "postgresql+asyncpg://sump:pw@db.internal:5432/sump"]
)
def test_supported_database_urls(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SUMP_DATABASE_URL", url)
    monkeypatch.setenv("SUMP_SECRET_KEY", SECRET)
    settings = load_settings()
    assert settings.database_url == url
    assert settings.is_sqlite == url.startswith("sqlite")


def test_several_errors_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("SUMP_RATE_LIMITS", "sometimes")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "SUMP_DATABASE_URL" in str(raised.value)
    assert "SUMP_RATE_LIMITS" in str(raised.value)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.env is Env.DEV
    assert settings.database_url == "sqlite+aiosqlite:///./sump.db"
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.cors_origins == []
    assert settings.trusted_proxies == []
    assert settings.rate_limits is True
    assert settings.tenant_signup is True
    assert settings.redis_url is None
    assert settings.email_from == "no-reply@localhost"
    assert settings.db_command_timeout == 1.5
    assert (settings.db_pool_size, settings.db_pool_overflow) == (20, 5)
    assert not settings.secure_cookies


@pytest.mark.parametrize("value", ["0", "0.05", "61", "soon"])
def test_db_command_timeout_out_of_bounds_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SUMP_DB_COMMAND_TIMEOUT", value)
    with pytest.raises(SettingsError, match="SUMP_DB_COMMAND_TIMEOUT"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUMP_DB_POOL_SIZE", "1"),
        ("SUMP_DB_POOL_SIZE", "501"),
        ("SUMP_DB_POOL_SIZE", "many"),
        ("SUMP_DB_POOL_OVERFLOW", "-1"),
    ],
)
def test_db_pool_out_of_bounds_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_cors_origins_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_CORS_ORIGINS", "https://console.example, http://localhost:5173,,")
    assert load_settings().cors_origins == ["https://console.example", "http://localhost:5173"]


def test_one_cors_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_CORS_ORIGINS", "https://console.example")
    assert load_settings().cors_origins == ["https://console.example"]


def test_empty_cors_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_CORS_ORIGINS", "")
    assert load_settings().cors_origins == []


def test_trusted_proxies_are_comma_separated_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10 ,fd00::/8")
    assert load_settings().trusted_proxies == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.10/32"),
        ipaddress.ip_network("fd00::/8"),
    ]


@pytest.mark.parametrize("value", ["not-an-address", "10.0.0.1/8", "300.1.1.1"])
def test_bad_trusted_proxy_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SUMP_TRUSTED_PROXIES", f"10.0.0.0/8,{value}")
    with pytest.raises(SettingsError, match="SUMP_TRUSTED_PROXIES"):
        load_settings()


@pytest.mark.parametrize("name", ["rate_limits", "tenant_signup"])
@pytest.mark.parametrize(
    ("value", "enabled"), [("on", True), ("off", False), ("ON", True), ("Off", False), ("true", True), ("0", False)]
)
def test_switches_on_or_off(monkeypatch: pytest.MonkeyPatch, name: str, value: str, enabled: bool) -> None:
    monkeypatch.setenv(f"SUMP_{name.upper()}", value)
    assert getattr(load_settings(), name) is enabled


@pytest.mark.parametrize("name", ["rate_limits", "tenant_signup"])
def test_switches_refuse_other_words(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"SUMP_{name.upper()}", "sometimes")
    with pytest.raises(SettingsError, match=f"SUMP_{name.upper()}"):
        load_settings()


def test_bad_public_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_PUBLIC_URL", "javascript:alert(1)")
    with pytest.raises(SettingsError, match="SUMP_PUBLIC_URL"):
        load_settings()


def test_smtp_backend_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_EMAIL_BACKEND", "smtp")
    with pytest.raises(SettingsError, match="SUMP_SMTP_URL"):
        load_settings()


def test_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SUMP_CORS_ORIGINS=https://from-dotenv.example\nSUMP_RATE_LIMITS=off\n")
    settings = load_settings()
    assert settings.cors_origins == ["https://from-dotenv.example"]
    assert settings.rate_limits is False


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SUMP_RATE_LIMITS=off\n")
    monkeypatch.setenv("SUMP_RATE_LIMITS", "on")
    assert load_settings().rate_limits is True


def test_dev_secret_is_generated_once_and_reused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUMP_ENV", "dev")
    secret_file = tmp_path / ".sump-secret"
    assert not secret_file.exists()

    first = load_settings()

    assert len(first.secret_key.encode()) >= 32
    assert secret_file.read_text().strip() == first.secret_key
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    second = load_settings()
    assert second.secret_key == first.secret_key
    assert secret_file.read_text().strip() == first.secret_key


def test_dev_secret_is_kept_beside_the_sqlite_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The same database served from two working directories uses one secret, so its signing keys and
    sessions stay readable."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SUMP_DATABASE_URL", f"sqlite+aiosqlite:///{data / 'sump.db'}")
    first_directory, second_directory = tmp_path / "one", tmp_path / "two"
    first_directory.mkdir()
    second_directory.mkdir()

    monkeypatch.chdir(first_directory)
    first = load_settings().secret_key
    monkeypatch.chdir(second_directory)
    second = load_settings().secret_key

    assert first == second
    assert (data / ".sump-secret").read_text().strip() == first
    assert not (first_directory / ".sump-secret").exists()
    assert not (second_directory / ".sump-secret").exists()


def test_a_secret_kept_in_the_working_directory_moves_beside_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where earlier versions kept it: the signing keys and sessions it sealed stay readable."""
    earlier = "an-earlier-secret-" + "z" * 40
    (tmp_path / ".sump-secret").write_text(earlier + "\n")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SUMP_DATABASE_URL", f"sqlite+aiosqlite:///{data / 'sump.db'}")

    assert load_settings().secret_key == earlier
    assert (data / ".sump-secret").read_text() == earlier + "\n"
    assert stat.S_IMODE((data / ".sump-secret").stat().st_mode) == 0o600


def test_relative_sqlite_paths_keep_the_secret_beside_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "var").mkdir()
    monkeypatch.setenv("SUMP_DATABASE_URL", "sqlite+aiosqlite:///var/sump.db")
    secret = load_settings().secret_key
    assert (tmp_path / "var" / ".sump-secret").read_text().strip() == secret
    assert not (tmp_path / ".sump-secret").exists()


def test_in_memory_sqlite_gets_a_secret_that_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_DATABASE_URL", "sqlite+aiosqlite:///:memory:")
    assert len(load_settings().secret_key.encode()) >= 32
    assert list(tmp_path.iterdir()) == []


def test_sqlite_database_in_a_missing_directory_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUMP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'nowhere' / 'sump.db'}")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        f"invalid configuration:\n  SUMP_DATABASE_URL: the directory {tmp_path / 'nowhere'} does not exist"
    )


def test_postgresql_without_a_secret_is_refused_even_in_dev(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUMP_DATABASE_URL", "postgresql+asyncpg://sump@db.internal/sump")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration:\n  SUMP_SECRET_KEY is required with a PostgreSQL database: a generated one would "
        "live on one machine only, and a server started elsewhere could read neither its signing keys nor its "
        "sessions"
    )
    assert list(tmp_path.iterdir()) == []


def test_dev_with_a_secret_writes_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUMP_SECRET_KEY", SECRET)
    assert load_settings().secret_key == SECRET
    assert not (tmp_path / ".sump-secret").exists()


def test_short_secret_is_refused_in_dev_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="SUMP_SECRET_KEY"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = Settings(secret_key=SECRET)
    with pytest.raises(ValueError, match="frozen"):
        settings.env = Env.PROD  # type: ignore[misc]


def _run(tmp_path: Path, *args: str, timeout: float = 60, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(variables, NO_COLOR="1", TERM="dumb", COLUMNS="200")
    return subprocess.run(  # noqa: S603
        [str(SUMP), *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.asvs("LOG-08")
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"SUMP_ENV": "prod"}, "SUMP_SECRET_KEY"),
        ({"SUMP_ENV": "prod", "SUMP_SECRET_KEY": "too-short"}, "SUMP_SECRET_KEY"),
        ({"SUMP_ENV": "prod", "SUMP_SECRET_KEY": SECRET, "SUMP_DATABASE_URL": "mysql://x"}, "SUMP_DATABASE_URL"),
        ({"SUMP_ENV": "prod", "SUMP_SECRET_KEY": SECRET}, "SUMP_EMAIL_BACKEND"),
        ({"SUMP_CORS_ORIGINS": "*"}, "SUMP_CORS_ORIGINS"),
        ({"SUMP_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"}, "SUMP_SECRET_KEY"),
    ],
    ids=["no secret", "short secret", "bad database url", "prod mailer", "any origin", "postgresql secret"],
)
def test_serve_refuses_to_start_with_bad_configuration(tmp_path: Path, variables: dict[str, str], named: str) -> None:
    started = time.monotonic()
    done = _run(tmp_path, "serve", "--port", "0", timeout=30, **variables)
    elapsed = time.monotonic() - started

    assert done.returncode != 0
    assert named in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 15
    if "SUMP_SECRET_KEY" in variables:
        assert variables["SUMP_SECRET_KEY"] not in done.stderr
    assert not (tmp_path / ".sump-secret").exists()


def test_help_describes_the_commands(tmp_path: Path) -> None:
    done = _run(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout
    assert "db" in done.stdout
    assert "SUMP_DATABASE_URL" in done.stdout


def test_db_help_describes_the_commands(tmp_path: Path) -> None:
    done = _run(tmp_path, "db", "--help")
    assert done.returncode == 0, done.stderr
    for command in ("upgrade", "downgrade", "current"):
        assert command in done.stdout


def test_serve_help_lists_its_options(tmp_path: Path) -> None:
    done = _run(tmp_path, "serve", "--help")
    assert done.returncode == 0, done.stderr
    for option in ("--host", "--port", "--workers"):
        assert option in done.stdout
