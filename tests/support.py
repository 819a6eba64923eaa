"""Test support: databases, settings, and a tenant world built through the public API.

Each xdist worker gets its own databases, created and migrated once and dropped at the end. Tests do not share
rows: each one creates the tenants it needs (new ids every time), and goes through the real commit path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.auth import service as auth_service
from sump.config import Settings
from sump.db import migrate
from sump.db.base import utcnow
from sump.db.engine import request_limits
from sump.db.tables.sessions import Session

# A request's database bounds as served by default (`SUMP_DB_COMMAND_TIMEOUT`): what the fault tests hold to.
REQUESTS = request_limits(Settings.model_fields["db_command_timeout"].default)
ADMIN_URL = os.environ.get("SUMP_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery staple"
BACKENDS = ["sqlite", "postgresql"]


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(ADMIN_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Database:
    """A migrated, empty database of one backend, private to this test worker."""

    backend: str
    url: str
    drop: list[str] = field(default_factory=list)


def create_database(backend: str, directory: Path, migrated: bool = True) -> Database:
    name = f"sump_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        database = Database(backend, f"sqlite+aiosqlite:///{directory / (name + '.db')}")
    else:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        base = ADMIN_URL.rsplit("/", 1)[0]
        database = Database(backend, f"{base}/{name}", drop=[name])
    if migrated:
        migrate.upgrade(database.url)
    return database


def drop_database(database: Database) -> None:
    for name in database.drop:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_settings(database: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database.url,
        "secret_key": SECRET,
        "rate_limits": False,
        "public_url": "http://sump.test",
        # A test host may stall for a moment under the whole suite's load; the fault tests set the default's 1.5 s.
        "db_command_timeout": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


async def expire(db: AsyncSession, table: Any, *where: Any) -> None:
    """Ends the rows of `table` that `where` selects a second ago (their `expires_at`), committed."""
    await db.execute(update(table).where(*where).values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()


@contextlib.contextmanager
def statements(app: FastAPI) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the application sends while the block runs: (first keyword, isolation level)."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append((statement.split(None, 1)[0].upper(), conn.get_execution_options().get("isolation_level")))

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@dataclass(frozen=True)
class SetCookie:
    """One cookie a response sets, as its `Set-Cookie` header says: the value unquoted, the attributes as sent."""

    value: str
    path: str | None = None
    domain: str | None = None
    max_age: int | None = None
    expires: str | None = None
    secure: bool = False
    httponly: bool = False
    samesite: str | None = None

    @property
    def clears(self) -> bool:
        """Whether a browser drops the cookie at once: `Max-Age` of zero or less or else an `Expires` past."""
        if self.max_age is not None:
            return self.max_age <= 0
        return self.expires is not None and parsedate_to_datetime(self.expires) <= datetime.now(UTC)


_ATTRIBUTES = {"path", "domain", "max-age", "expires", "samesite", "secure", "httponly"}
_FLAGS = {"secure", "httponly"}


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    """Each cookie the response sets, by name. The assertion fails unless every header sets one cookie, no cookie
    twice, with known attributes given once each (a flag without a value, the others with one)."""
    cookies: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        pair, *parts = (part.strip() for part in header.split(";"))
        name, equals, value = (word.strip() for word in pair.partition("="))
        assert name, header
        assert equals, header
        assert name not in cookies, header
        attributes: dict[str, str] = {}
        for part in parts:
            key, equals, given = (word.strip() for word in part.partition("="))
            key = key.lower()
            assert key in _ATTRIBUTES, header
            assert key not in attributes, header
            assert bool(equals) != (key in _FLAGS), header
            attributes[key] = given
        max_age = attributes.get("max-age")
        cookies[name] = SetCookie(
            value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value,
            path=attributes.get("path"),
            domain=attributes.get("domain"),
            max_age=None if max_age is None else int(max_age),
            expires=attributes.get("expires"),
            secure="secure" in attributes,
            httponly="httponly" in attributes,
            samesite=attributes.get("samesite"),
        )
    return cookies


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Member:
    account_id: str
    token: str
    email: str
    username: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class EndUser:
    """An end user of one environment, signed in there."""

    account_id: str
    environment_id: str
    session_id: str
    token: str
    email: str
    username: str
    password: str = PASSWORD

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def auth_base(self) -> str:
        """Where the end user signs in: `/api/v1/auth/environments/{environmentId}`."""
        return f"/api/v1/auth/environments/{self.environment_id}"

    @property
    def credentials(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


@dataclass
class TenantWorld:
    """A tenant with an owner signed in, plus helpers to add members, environments and end users."""

    http: httpx.AsyncClient
    tenant_id: str
    environment_id: str
    owner: Member

    @property
    def base(self) -> str:
        return f"/api/v1/tenants/{self.tenant_id}"

    async def add_member(self, role: str, *, by: Member | None = None, password: str = PASSWORD) -> Member:
        tag = uuid.uuid4().hex[:8]
        email, username = f"{role}-{tag}@example.com", f"{role}_{tag}"
        body = {
            "name": f"{role.title()} {tag}",
            "email": email,
            "username": username,
            "password": password,
            "roles": [{"role": role, "target": "tenant", "targetId": self.tenant_id}],
        }
        created = await self.http.post(f"{self.base}/accounts", json=body, headers=(by or self.owner).auth)
        assert created.status_code == 201, created.text
        return Member(created.json()["id"], await self.login(username=username, password=password), email, username)

    async def add_environment(self, **body: Any) -> str:
        """A new environment of the tenant (named `env-…` unless `name` is given); returns its id."""
        response = await self.http.post(
            f"{self.base}/environments", json={"name": f"env-{uuid.uuid4().hex[:8]}", **body}, headers=self.owner.auth
        )
        assert response.status_code == 201, response.text
        environment_id: str = response.json()["id"]
        return environment_id

    async def add_end_user(self, environment_id: str | None = None, *, password: str = PASSWORD) -> EndUser:
        """An end user who signed up (and so is signed in) in `environment_id`, or in a new environment of the
        tenant when none is given."""
        environment_id = environment_id or await self.add_environment()
        tag = uuid.uuid4().hex[:8]
        email, username = f"end-{tag}@example.com", f"end_{tag}"
        body = {"name": f"End User {tag}", "email": email, "username": username, "password": password}
        response = await self.http.post(f"/api/v1/auth/environments/{environment_id}/signup", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        return EndUser(
            data["accountId"], environment_id, data["session"]["id"], data["token"], email, username, password
        )

    async def login(self, password: str = PASSWORD, **identifier: str) -> str:
        response = await self.http.post(
            f"/api/v1/auth/tenants/{self.tenant_id}/login", json={**identifier, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token


def signup_body(**overrides: Any) -> dict[str, Any]:
    """An end user's sign-up with identifiers of its own and `PASSWORD`, `overrides` on top."""
    tag = uuid.uuid4().hex[:8]
    return {
        "name": f"Sign Up {tag}",
        "email": f"su-{tag}@example.com",
        "username": f"su_{tag}",
        "password": PASSWORD,
        **overrides,
    }


def tenant_body(**overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "tenant": {"name": f"Tenant {tag}"},
        "account": {
            "name": f"Owner {tag}",
            "email": f"owner-{tag}@example.com",
            "username": f"owner_{tag}",
            "password": PASSWORD,
        },
    }
    body.update(overrides)
    return body


async def new_tenant(http: httpx.AsyncClient, **overrides: Any) -> TenantWorld:
    body = tenant_body(**overrides)
    response = await http.post("/api/v1/tenants", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    owner = Member(data["accountId"], data["token"], body["account"]["email"], body["account"]["username"])
    return TenantWorld(http, data["tenantId"], data["environmentId"], owner)


async def within_one_window_of_the_clock(seconds: float) -> None:
    """Per-address limits count in windows of whole clock minutes, weighing the last one's count as it fades:
    a burst that straddles two of them may let one more through by design. A burst that needs at most
    `seconds` starts, if need be, at the turn of the minute, so the bound it checks is exactly the budget."""
    left = 60 - time.time() % 60
    if left < seconds:
        await asyncio.sleep(left + 0.1)  # waits for the clock, which is what the bound depends on


async def until_done_or_a_lock_waits(
    db: AsyncSession, done: asyncio.Event | asyncio.Task[Any], holder: int | None = None
) -> None:
    """Until `done` (an event set, a task ended), or until a statement of this database waits for a lock (held by
    the backend `holder`, when given): another request that goes on only once the holding request's transaction
    ends, so the holder must go on first (PostgreSQL only)."""
    happened = done if isinstance(done, asyncio.Event) else asyncio.Event()
    if isinstance(done, asyncio.Task):
        done.add_done_callback(lambda _: happened.set())
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    if holder is not None:
        waiting += f" AND {int(holder)} = ANY(pg_blocking_pids(pid))"
    while not happened.is_set():
        locked = await db.scalar(text(waiting))
        await db.rollback()  # the statistics are read afresh in each transaction
        if locked:
            return
        with contextlib.suppress(TimeoutError):  # woken at once when it happens, else the locks are read again
            await asyncio.wait_for(happened.wait(), 0.005)


async def sign_in_while(
    client: httpx.AsyncClient,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    sign_in: tuple[str, dict[str, Any]],
    meanwhile: Callable[[], Coroutine[Any, Any, httpx.Response]],
    at: tuple[Any, str] = (auth_service, "_signed_in"),
) -> tuple[httpx.Response, httpx.Response]:
    """A change of the account while it signs in: sends the sign-in; when that calls `at` (a module and one of
    its functions taking the request's `Call` first; by default once it holds its rows and is about to write its
    session), `meanwhile` is sent, and the sign-in goes on when that has ended or waits for a lock the sign-in
    holds (PostgreSQL). The two answers."""
    return await during(client.post(sign_in[0], json=sign_in[1]), at, meanwhile, db, monkeypatch)


async def during(
    first: Coroutine[Any, Any, httpx.Response],
    at: tuple[Any, str],
    meanwhile: Callable[[], Coroutine[Any, Any, httpx.Response]],
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[httpx.Response, httpx.Response]:
    """Sends `first`; when it calls `at` (a module and one of its functions, whose first argument is the
    request's `Call` or database session), sends `meanwhile`, and lets `first` go on once that has ended or
    waits for a lock `first` holds (PostgreSQL). The two answers."""
    module, name = at
    step = getattr(module, name)
    started: list[asyncio.Task[httpx.Response]] = []

    async def meanwhile_here(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(module, name, step)
        started.append(asyncio.create_task(meanwhile()))
        if db.get_bind().dialect.name == "postgresql":
            own: AsyncSession = args[0] if isinstance(args[0], AsyncSession) else args[0].db
            await until_done_or_a_lock_waits(db, started[0], await own.scalar(text("SELECT pg_backend_pid()")))
        return await step(*args, **kwargs)

    monkeypatch.setattr(module, name, meanwhile_here)
    answer = await first
    assert started, answer.text
    return answer, await started[0]


async def assert_gone_with_its_sessions(
    client: httpx.AsyncClient, db: AsyncSession, account_id: str, signed_in: httpx.Response, change: httpx.Response
) -> None:
    """Both went through (neither was ended as a deadlock's victim), and the sign-in's session went with the
    account (deleted, or disabled)."""
    assert change.status_code == 204, change.text
    assert signed_in.status_code == 200, signed_in.text
    base = "/".join(signed_in.request.url.path.split("/")[:6])  # /api/v1/auth/{tenants|environments}/{id}
    ended = await client.get(f"{base}/session", headers=bearer(signed_in.json()["token"]))
    assert (ended.status_code, ended.json()["code"]) == (401, "unauthenticated")
    left = select(func.count()).select_from(Session).where(Session.account_id == uuid.UUID(account_id))
    assert await db.scalar(left) == 0
