"""Rotating SUMP_SECRET_KEY rewrites every sealed value of a database, so each test here gets a database of its
own (SQLite and PostgreSQL, through the real migrations) and serves it with the secrets it names."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from sump.factors import totp
from tests.factors.conftest import Clock
from tests.servers import SUMP
from tests.support import BACKENDS, Database, create_database, drop_database, make_settings

NEW = "the-new-secret-of-this-sump-" + "n" * 36
WRONG = "a-secret-that-sealed-nothing-here-" + "w" * 30


@pytest.fixture(params=BACKENDS)
def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    created = create_database(request.param, tmp_path)
    yield created
    drop_database(created)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(totp, "now", frozen)
    return frozen


@contextlib.asynccontextmanager
async def served(database: Database, secret: str, *previous: str) -> AsyncIterator[FastAPI]:
    """The application on `database` with SUMP_SECRET_KEY `secret` and SUMP_PREVIOUS_SECRET_KEYS `previous`."""
    application = create_app(make_settings(database, secret_key=secret, previous_secret_keys=previous))
    try:
        yield application
    finally:
        await application.state.engine.dispose()
        application.state.hasher.close()


def http(application: FastAPI, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    """A client that keeps cookies as a browser does (`cookies`: those of another client, carried over)."""
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False, client=("203.0.113.7", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=cookies)


async def sump(database: Database, *arguments: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """The `sump` command on `database`, with `settings` (`SUMP_…`) and nothing else from the environment."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(SUMP_ENV="test", SUMP_DATABASE_URL=database.url, **settings)
    return await asyncio.to_thread(
        subprocess.run,
        [str(SUMP), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
