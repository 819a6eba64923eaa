"""SUMP_PREVIOUS_SECRET_KEYS as a setting (refused when short, naming the variable and not the secret), and
`sump serve`, which starts when a previous secret opens the signing keys and refuses when none does."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from sump.access.cookies import COOKIE_NAME, HOSTED_COOKIE_NAME, cookie_token, hosted_token, session_token
from sump.config import Settings, SettingsError, load_settings
from sump.kit.crypto import sign_cookie
from tests.secret_rotation.conftest import NEW, WRONG, http, served, sump
from tests.servers import free_port, start_server
from tests.support import SECRET, Database, new_tenant
from tests.tokens.test_tokens import password_grant


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SUMP_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no `.env` of the machine
    monkeypatch.setenv("SUMP_ENV", "test")
    monkeypatch.setenv("SUMP_SECRET_KEY", NEW)


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("previous", ["short", f"{SECRET},{'x' * 31}", f"{'é' * 15}, {SECRET}"])
def test_a_short_previous_secret_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, previous: str) -> None:
    monkeypatch.setenv("SUMP_PREVIOUS_SECRET_KEYS", previous)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration:\n  SUMP_PREVIOUS_SECRET_KEYS: each secret (comma-separated) must be at least 32 bytes"
    )


@pytest.mark.usefixtures("clean_environment")
def test_previous_secrets_are_read_comma_separated_and_none_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().previous_secret_keys == ()
    monkeypatch.setenv("SUMP_PREVIOUS_SECRET_KEYS", f" {SECRET} ,{WRONG},")
    assert load_settings().previous_secret_keys == (SECRET, WRONG)


async def test_sump_serve_starts_when_a_previous_secret_opens_the_keys(own_database: Database, tmp_path: Path) -> None:
    async with served(own_database, SECRET) as before, http(before) as api:
        world = await new_tenant(api)
        user = await world.add_end_user(world.environment_id)
        await password_grant(api, world, user)  # the environment's signing keys, sealed with SECRET

    refused = await sump(
        own_database, "serve", "--port", str(free_port()), SUMP_SECRET_KEY=NEW, SUMP_PREVIOUS_SECRET_KEYS=WRONG
    )
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        "sump: neither SUMP_SECRET_KEY nor SUMP_PREVIOUS_SECRET_KEYS holds the secret that sealed the signing keys "
        "in this database; serve it with that secret"
    )

    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(
        SUMP_ENV="test",
        SUMP_DATABASE_URL=own_database.url,
        SUMP_SECRET_KEY=NEW,
        SUMP_PREVIOUS_SECRET_KEYS=f"{WRONG},{SECRET}",
    )
    server = await asyncio.to_thread(start_server, tmp_path, environment)
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            world = dataclasses.replace(world, http=client)
            assert (await password_grant(client, world, user))["accessToken"], "the key opened with SECRET signs"
    finally:
        assert await asyncio.to_thread(server.stop) == 0


def request_with(cookie_header: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"cookie", cookie_header.encode())]})


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(
    ("name", "read"),
    [
        (COOKIE_NAME, lambda request, settings: session_token(request, settings)),
        (COOKIE_NAME, cookie_token),
        (HOSTED_COOKIE_NAME, hosted_token),
    ],
    ids=["session", "console-session", "hosted-session"],
)
def test_every_session_cookie_a_listed_previous_secret_signed_is_read(
    monkeypatch: pytest.MonkeyPatch, name: str, read: Callable[[Request, Settings], str | None]
) -> None:
    """The API's, the console's and the hosted pages' session cookies signed under a previous secret are read
    while it is listed (sessions end within their absolute lifetime of a rotation), and never once it is not."""
    old = request_with(f"{name}={sign_cookie(SECRET, 'the-token')}")
    new = request_with(f"{name}={sign_cookie(NEW, 'the-token')}")
    assert read(old, load_settings()) is None
    assert read(new, load_settings()) == "the-token"
    monkeypatch.setenv("SUMP_PREVIOUS_SECRET_KEYS", f"{WRONG},{SECRET}")
    assert read(old, load_settings()) == "the-token"
    assert read(new, load_settings()) == "the-token"
    assert read(request_with(f"{name}={sign_cookie(NEW + 'x', 'the-token')}"), load_settings()) is None
