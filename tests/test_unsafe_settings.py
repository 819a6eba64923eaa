"""Settings that would be unsafe are refused at boot (prod mailer, wildcard origins), bad values are one line
naming the variable, and misspelt `SUMP_*` names are warned about once with the closest setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sump.config import Env, SettingsError, load_settings, startup_warnings
from tests.support import SECRET
from tests.test_config import _run


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No `SUMP_*` variable and no `.env` from the machine running the tests: each test sets what it needs."""
    for name in list(os.environ):
        if name.startswith("SUMP_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_schema_commands_need_neither_a_secret_nor_a_mailer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUMP_DATABASE_URL", "postgresql+asyncpg://sump@db.internal/sump")
    assert load_settings(schema_only=True).secret_key == ""
    monkeypatch.setenv("SUMP_ENV", "prod")
    monkeypatch.setenv("SUMP_SECRET_KEY", SECRET)
    assert load_settings(schema_only=True).env is Env.PROD
    assert list(tmp_path.iterdir()) == []


def test_prod_refuses_the_default_console_mailer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console mailer writes live password reset links to the log: prod needs it chosen on purpose."""
    monkeypatch.setenv("SUMP_ENV", "prod")
    monkeypatch.setenv("SUMP_SECRET_KEY", SECRET)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration:\n  SUMP_EMAIL_BACKEND must be set when SUMP_ENV=prod: smtp (with SUMP_SMTP_URL) "
        "to deliver email, or console to write every message, live password reset links included, to the log"
    )


def test_prod_accepts_the_console_mailer_when_chosen_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_ENV", "prod")
    monkeypatch.setenv("SUMP_SECRET_KEY", SECRET)
    monkeypatch.setenv("SUMP_EMAIL_BACKEND", "console")
    settings = load_settings()
    assert settings.email_backend == "console"
    assert startup_warnings(settings) == [
        "SUMP_EMAIL_BACKEND=console in prod: every message, live password reset links included, is written to the log"
    ]


def test_prod_with_smtp_has_no_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_ENV", "prod")
    monkeypatch.setenv("SUMP_SECRET_KEY", SECRET)
    monkeypatch.setenv("SUMP_EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("SUMP_SMTP_URL", "smtps://mail.internal:465")
    assert startup_warnings(load_settings()) == []


def test_dev_keeps_the_console_mailer_by_default() -> None:
    settings = load_settings()
    assert settings.email_backend == "console"
    assert startup_warnings(settings) == []


@pytest.mark.parametrize("value", ["*", "https://app.example,*", " * ", "https://*.example"])
def test_any_origin_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Origins listed are allowed with credentials: a wildcard would let any site act with a user's session."""
    monkeypatch.setenv("SUMP_CORS_ORIGINS", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration:\n  SUMP_CORS_ORIGINS: wildcards are refused, since these origins may send "
        "credentials: list each origin, like https://app.example"
    )


@pytest.mark.parametrize("value", ["garbage", "10.0.0.0/8,garbage"])
def test_bad_trusted_proxy_is_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SUMP_TRUSTED_PROXIES", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration:\n  SUMP_TRUSTED_PROXIES: 'garbage' is not an IP address or network; expected "
        "comma-separated addresses or networks, like 10.0.0.0/8,192.168.1.10"
    )


def test_network_with_host_bits_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMP_TRUSTED_PROXIES", "10.0.0.1/8")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration:\n  SUMP_TRUSTED_PROXIES: '10.0.0.1/8' is not an IP address or network; expected "
        "comma-separated addresses or networks, like 10.0.0.0/8,192.168.1.10"
    )


def test_misspelt_variables_are_named_with_the_closest_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUMP_DATABSE_URL", "sqlite+aiosqlite:///./elsewhere.db")
    monkeypatch.setenv("SUMP_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/postgres")
    (tmp_path / ".env").write_text("SUMP_RATE_LIMIT=off\nSUMP_PUBLIC_URL=http://127.0.0.1:9000\nSUMP_ZZZ=1\n")
    assert startup_warnings(load_settings()) == [
        "SUMP_DATABSE_URL is not a Sump setting and is ignored; did you mean SUMP_DATABASE_URL?",
        "SUMP_RATE_LIMIT (in .env) is not a Sump setting and is ignored; did you mean SUMP_RATE_LIMITS?",
        "SUMP_ZZZ (in .env) is not a Sump setting and is ignored",
    ]


def test_cli_warns_once_about_a_misspelt_variable(tmp_path: Path) -> None:
    done = _run(tmp_path, "db", "current", SUMP_SECRET_KEYS=SECRET)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "SUMP_SECRET_KEYS" in line]
    assert len(lines) == 1, done.stderr
    assert "SUMP_SECRET_KEYS is not a Sump setting and is ignored; did you mean SUMP_SECRET_KEY?" in lines[0]
    assert "warning" in lines[0]
    assert SECRET not in done.stderr


def test_cli_names_a_bad_trusted_proxy_in_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path, "db", "current", SUMP_TRUSTED_PROXIES="garbage")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "sump: invalid configuration:\n  SUMP_TRUSTED_PROXIES: 'garbage' is not an IP address or network; "
        "expected comma-separated addresses or networks, like 10.0.0.0/8,192.168.1.10\n"
    )
