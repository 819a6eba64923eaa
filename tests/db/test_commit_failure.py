"""A write request answers only once its transaction has committed: when the commit fails, the client gets a
generic 500 and nothing the request did is stored (no "201, then the commit failed")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tenants import Tenant
from tests.auth.tenant_sessions import rows
from tests.support import PASSWORD, TenantWorld, tenant_body


class CommitRefused(Exception):
    """What the database connection raises instead of committing."""


@contextlib.contextmanager
def failing_commits(app: FastAPI, after: str = "") -> Iterator[list[str]]:
    """Every transaction the application commits while the block runs (or only those that sent a statement
    starting with `after`) fails at its COMMIT as a database fails one (a serialization failure, a deferred
    constraint, a lost connection): the transaction is rolled back and the commit raises. Yields the list of
    commits refused."""
    refused: list[str] = []
    marked: set[int] = set()  # the connections whose transaction sent such a statement

    def mark(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(after):
            marked.add(id(conn.connection.dbapi_connection))

    def refuse(conn: Any) -> None:
        if after and id(conn.connection.dbapi_connection) not in marked:
            return
        marked.discard(id(conn.connection.dbapi_connection))
        refused.append("COMMIT")
        conn.connection.dbapi_connection.rollback()
        raise CommitRefused("the database refused the commit")

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", mark)
    event.listen(engine, "commit", refuse)
    try:
        yield refused
    finally:
        event.remove(engine, "commit", refuse)
        event.remove(engine, "before_cursor_execute", mark)


def assert_generic_failure(response: httpx.Response, status: int = 500, code: str = "internal") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["requestId"] == response.headers["x-request-id"]
    for leak in ("CommitRefused", "refused the commit", "locked", "Traceback", "sqlalchemy"):
        assert leak not in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.asvs("REL-02")
async def test_a_new_environment_whose_commit_fails_is_answered_500_and_not_stored(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    name = "commit-refused"
    with failing_commits(app) as refused:
        created = await client.post(f"{world.base}/environments", json={"name": name}, headers=world.owner.auth)
    assert refused, "the request reached its commit"
    assert_generic_failure(created)

    listed = await client.get(f"{world.base}/environments", headers=world.owner.auth)
    assert listed.status_code == 200, listed.text
    assert [environment["name"] for environment in listed.json()] == ["default"]
    again = await client.post(f"{world.base}/environments", json={"name": name}, headers=world.owner.auth)
    assert again.status_code == 201, "the name was not taken by a row that half exists"


@pytest.mark.asvs("REL-02")
async def test_a_tenant_whose_commit_fails_is_answered_500_with_no_session_and_not_stored(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    body = tenant_body()
    with failing_commits(app) as refused:
        created = await client.post("/api/v1/tenants", json=body)
    assert refused, "the request reached its commit"
    assert_generic_failure(created)
    assert "token" not in created.json()

    assert await db.scalar(select(Tenant).where(Tenant.name == body["tenant"]["name"])) is None
    retried = await client.post("/api/v1/tenants", json=body)
    assert retried.status_code == 201, retried.text


@pytest.mark.asvs("REL-01", "REL-02")
async def test_a_sign_in_replacing_its_session_whose_commit_fails_stores_nothing_and_the_old_session_stands(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A sign-in sent with a session (a console's or hosted page's cookie, a bearer token) replaces it: the new
    session and the old one's end are one change, committed together or not at all, so a failure between them
    never leaves both sessions standing (nor a new one that no client received)."""
    member = await world.add_member("user")
    base = f"/api/v1/auth/tenants/{world.tenant_id}"
    login = {"username": member.username, "password": PASSWORD}
    with failing_commits(app, after="DELETE FROM session") as refused:  # the transaction that ends the old one
        replaced = await client.post(f"{base}/login", json=login, headers=member.auth)
    assert refused, "the request reached its commit"
    assert_generic_failure(replaced)

    assert await rows(db, account_id=member.account_id) == 1, "the new session was stored without the old one's end"
    still = await client.get(f"{base}/session", headers=member.auth)
    assert still.status_code == 200, still.text

    again = await client.post(f"{base}/login", json=login, headers=member.auth)
    assert again.status_code == 200, again.text
    assert (await client.get(f"{base}/session", headers=member.auth)).status_code == 401
    assert await rows(db, account_id=member.account_id) == 1


@contextlib.contextmanager
def commits_left_open(app: FastAPI) -> Iterator[list[str]]:
    """Every COMMIT the driver is asked for while the block runs fails and leaves the transaction open, as
    SQLite's does when it answers SQLITE_BUSY ("database is locked"): the writes are neither stored nor undone.
    Yields the list of commits refused."""
    refused: list[str] = []
    dialect = app.state.engine.sync_engine.dialect

    def refuse(_dbapi_connection: Any) -> None:
        refused.append("COMMIT")
        raise dialect.loaded_dbapi.OperationalError("database is locked")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialect, "do_commit", refuse)
        yield refused


@pytest.mark.asvs("REL-02")
async def test_a_commit_the_driver_left_open_is_never_committed_by_a_later_request(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The connection of a failed COMMIT goes back to no one with its transaction: were it pooled as it is, the
    next request on it would commit the failed request's rows with its own."""
    with commits_left_open(app) as refused:
        created = await client.post(f"{world.base}/environments", json={"name": "left-open"}, headers=world.owner.auth)
    assert refused, "the request reached its commit"
    assert_generic_failure(created, 503, "service_unavailable")  # the database's answer, as any OperationalError

    pooled = app.state.engine.sync_engine.pool.checkedin()
    names = [f"after-{n}" for n in range(pooled + 1)]  # a write on every pooled connection, the failed one's too
    for name in names:
        later = await client.post(f"{world.base}/environments", json={"name": name}, headers=world.owner.auth)
        assert later.status_code == 201, later.text
    listed = await client.get(f"{world.base}/environments", headers=world.owner.auth)
    assert sorted(environment["name"] for environment in listed.json()) == sorted([*names, "default"])
