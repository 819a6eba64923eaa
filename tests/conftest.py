"""Fixtures: every data test runs on SQLite and on PostgreSQL, through the real migrations.

Each xdist worker gets its own databases, created and migrated once and dropped at the end. Tests do not share
rows: each one creates the tenants it needs (new ids every time) and goes through the real commit path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from tests.mail import SmtpServer
from tests.support import BACKENDS, Database, TenantWorld, create_database, drop_database, make_settings, new_tenant


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    created = create_database(request.param, tmp_path_factory.mktemp(request.param))
    yield created
    drop_database(created)


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of each backend, private to the test and not migrated: for tests of the migrations, or of a
    server that migrates it itself."""
    created = create_database(request.param, tmp_path, migrated=False)
    yield created
    drop_database(created)


@pytest.fixture(scope="session")
async def app(database: Database) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database))
    yield application
    await application.state.engine.dispose()
    application.state.hasher.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.7", 50000))
    # Cookies are never kept between requests: each test says which credentials it sends.
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as http:
        yield http


@pytest.fixture
async def db(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session on the same database, for looking at (or ageing) rows directly."""
    async with app.state.sessionmaker() as session:
        yield session


@pytest.fixture
async def world(client: httpx.AsyncClient) -> TenantWorld:
    return await new_tenant(client)


@pytest.fixture
async def other(client: httpx.AsyncClient) -> TenantWorld:
    """A second, unrelated tenant."""
    return await new_tenant(client)


def _smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a free port, reading what Sump sends, stopped at the end."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from _smtp_server()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[SmtpServer]:
    """The same for the whole session, for the servers started once per session (the console's, the fleet's)."""
    yield from _smtp_server()


@pytest.fixture
async def mail_app(database: Database, smtp: SmtpServer) -> AsyncIterator[FastAPI]:
    """The application sending its email to `smtp` (files whose settings differ define their own)."""
    app = create_app(make_settings(database, email_backend="smtp", smtp_url=f"smtp://127.0.0.1:{smtp.port}"))
    yield app
    await app.state.engine.dispose()
    app.state.hasher.close()
