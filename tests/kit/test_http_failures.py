"""When things go wrong: an unexpected exception is a generic 500, logged once with its stack and no credentials;
health probes; a database that does not answer is a fast 503."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from sump.kit import errors
from sump.kit.crypto import sign_cookie
from sump.kit.transactions import DbSession
from tests.kit.http_support import (
    DEAD_DATABASE,
    PROBLEM_MEMBERS,
    assert_problem,
    errors_logged,
    serving,
)
from tests.support import PASSWORD, SECRET, Database, make_settings, statements, tenant_body

SECRET_IN_EXCEPTION = "postgresql://admin:hunter2-SENTINEL@db.internal/sump"


def _add_failing_routes(application: FastAPI) -> None:
    @application.get("/api/v1/test-only/explode")
    async def explode() -> None:
        raise RuntimeError(f"could not use {SECRET_IN_EXCEPTION}")

    @application.get("/api/v1/test-only/explode-in-transaction")
    async def explode_in_transaction(db: DbSession) -> None:
        await db.execute(text("SELECT 1"))
        raise RuntimeError(f"could not use {SECRET_IN_EXCEPTION}")


@pytest.mark.asvs("LOG-01", "LOG-02")
async def test_unexpected_exception_is_a_generic_500_and_the_next_request_works(database: Database) -> None:
    async with serving(make_settings(database)) as (application, http):
        _add_failing_routes(application)

        for _ in range(2):  # twice: nothing (connection, transaction) is left behind by the first
            response = await http.get("/api/v1/test-only/explode-in-transaction")
            assert response.status_code == 500
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert set(body) >= PROBLEM_MEMBERS
            assert body["code"] == "internal"
            assert body["detail"] == body["message"] == "An unexpected error occurred."
            for leak in ("hunter2", "SENTINEL", "RuntimeError", "Traceback", "SELECT", "explode", "sqlalchemy"):
                assert leak not in response.text

        assert (await http.get("/api/v1/health")).status_code == 200
        assert (await http.post("/api/v1/tenants", json=tenant_body())).status_code == 201


@pytest.mark.asvs("LOG-01", "LOG-02")
async def test_a_statement_the_database_cannot_run_is_a_500_logged_with_it_not_an_outage(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite raises an unknown function as it raises a locked database (OperationalError): the fault is the
    code's, so it must be a 500 logged with its statement, not a 503 that says the database is away."""
    async with serving(make_settings(database)) as (application, http):

        @application.get("/api/v1/test-only/unknown-function")
        async def unknown_function(db: DbSession) -> None:
            await db.execute(text("SELECT no_such_function(1)"))

        with errors_logged(monkeypatch) as logs:
            response = await http.get("/api/v1/test-only/unknown-function")
        assert_problem(response, 500, "internal")
        assert "no_such_function" not in response.text
        assert (await http.get("/api/v1/health")).status_code == 200
    assert [entry["event"] for entry in logs if entry["log_level"] in {"warning", "error"}] == ["unhandled_error"]
    (logged,) = [entry for entry in logs if entry["event"] == "unhandled_error"]
    assert "SELECT no_such_function(1)" in logged["statement"]


def test_a_locked_sqlite_database_is_still_an_outage(tmp_path: Path) -> None:
    """What SQLite raises when another connection holds the database (SQLITE_BUSY, after the busy timeout) is a
    503 to send again later, as a PostgreSQL that does not answer: unlike a statement it cannot run."""
    path = tmp_path / "locked.db"
    holder, waiter = sqlite3.connect(path, isolation_level=None), sqlite3.connect(path, timeout=0)
    try:
        holder.execute("CREATE TABLE t (n INTEGER)")
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError) as busy:
            waiter.execute("INSERT INTO t VALUES (1)")
    finally:
        holder.close()
        waiter.close()
    assert busy.value.sqlite_errorname == "SQLITE_BUSY"
    response = errors.unexpected_response(OperationalError("INSERT INTO t VALUES (?)", (1,), busy.value))
    assert response.status_code == 503
    assert json.loads(bytes(response.body))["code"] == "service_unavailable"
    assert response.headers["retry-after"] == errors.RETRY_AFTER_UNAVAILABLE


# Run in a process of its own so that what the application logs can be read from its stderr.
LOGGING_SCRIPT = """
import asyncio, sys
import httpx
from sump.app import create_app
from sump.config import Settings

app = create_app(Settings(env=sys.argv[1], database_url=sys.argv[2], secret_key="s" * 48, rate_limits=False))

@app.get("/api/v1/test-only/explode")
async def explode() -> None:
    raise RuntimeError("exploded on purpose")

async def main() -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        headers = {
            "X-Request-Id": "trace-me-42",
            "Authorization": "Bearer TOKEN-SENTINEL-1",
            "Cookie": "sump_session=COOKIE-SENTINEL-2",
        }
        response = await http.get("/api/v1/test-only/explode", headers=headers)
        print(response.status_code, flush=True)
        await app.state.engine.dispose()
        app.state.hasher.close()

asyncio.run(main())
"""


@pytest.fixture(scope="module", params=["test", "prod"])
def exploded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(stdout, stderr) of a process whose application met an unexpected exception, in each kind of log output."""
    directory = tmp_path_factory.mktemp("explode")
    script = directory / "explode.py"
    script.write_text(LOGGING_SCRIPT)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    database_url = f"sqlite+aiosqlite:///{directory / 'unused.db'}"
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(script), request.param, database_url],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "500"
    return done.stdout, done.stderr


@pytest.mark.asvs("LOG-02")
def test_unexpected_exception_is_logged_once_with_its_stack_and_request_id(exploded: tuple[str, str]) -> None:
    _, log = exploded
    error_lines = [line for line in log.splitlines() if "unhandled_error" in line]
    assert len(error_lines) == 1, log[-2000:]
    assert "exploded on purpose" in log, "the stack is logged"
    assert "trace-me-42" in error_lines[0], "the error record carries the request id"


@pytest.mark.asvs("LOG-03")
def test_unexpected_exception_log_holds_no_request_credentials(exploded: tuple[str, str]) -> None:
    _, log = exploded
    assert "exploded on purpose" in log
    assert "TOKEN-SENTINEL" not in log, "the Authorization header was written to the log"
    assert "COOKIE-SENTINEL" not in log, "the session cookie was written to the log"


@pytest.mark.asvs("LOG-01", "LOG-06")
@pytest.mark.parametrize(
    ("url", "status"),
    [("/api/v1/test-only/explode", 500), (f"/api/v1/tenants/{uuid.uuid4()}", 503)],
    ids=["exception", "database down"],
)
async def test_unexpected_failures_carry_the_request_id_and_security_headers(url: str, status: int) -> None:
    async with serving(make_settings(DEAD_DATABASE)) as (application, http):
        _add_failing_routes(application)

        response = await http.get(url, headers={"X-Request-Id": "trace-me-42", "Authorization": "Bearer abc"})

        assert response.status_code == status
        assert response.json()["requestId"] == "trace-me-42"
        assert response.headers.get("x-request-id") == "trace-me-42"
        assert response.headers.get("x-content-type-options") == "nosniff"
        assert response.headers.get("cache-control") == "no-store"
        assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")


async def test_api_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "timestamp", "uptime"}
    assert body["status"] == "ok"
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert isinstance(body["uptime"], int | float)
    assert body["uptime"] >= 0


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json()["status"] == "ok"
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


async def test_readiness_asks_the_database_once_for_a_burst_of_anonymous_probes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Anyone may probe: a burst of probes shares one check of the database (and a good answer stands for a
    moment), so probes cannot take the pool's connections from the API."""
    app.state.ready_at = None  # the application is shared: an earlier test's good answer may still stand
    with statements(app) as seen:
        burst = await asyncio.gather(*(client.get("/health/ready") for _ in range(20)))
        again = [await client.get("/health/ready") for _ in range(5)]
    assert {response.status_code for response in [*burst, *again]} == {200}
    assert {response.json()["status"] for response in [*burst, *again]} == {"ok"}
    assert len(seen) == 1, seen


@pytest.mark.asvs("REL-05")
async def test_readiness_is_503_fast_when_the_database_does_not_answer() -> None:
    async with serving(make_settings(DEAD_DATABASE)) as (_, http):
        started = time.monotonic()
        ready = await http.get("/health/ready")
        elapsed = time.monotonic() - started

        assert elapsed < 3
        body = assert_problem(ready, 503, "database_unavailable")
        assert "127.0.0.1" not in ready.text
        assert body["requestId"] == ready.headers["x-request-id"]
        assert (await http.get("/health/live")).status_code == 200


@pytest.mark.asvs("REL-05")
@pytest.mark.parametrize(
    ("method", "url", "json"),
    [
        ("GET", "/api/v1/tenants/{id}", None),
        ("GET", "/api/v1/auth/tenants/{id}/session", None),
        ("POST", "/api/v1/auth/tenants/{id}/login", {"username": "someone", "password": PASSWORD}),
        ("POST", "/api/v1/tenants", tenant_body()),
    ],
)
async def test_data_routes_answer_503_fast_when_the_database_does_not_answer(
    method: str, url: str, json: dict[str, Any] | None
) -> None:
    async with serving(make_settings(DEAD_DATABASE)) as (_, http):
        for _ in range(2):  # and again: nothing is stuck after the first failure
            started = time.monotonic()
            response = await http.request(
                method, url.format(id=uuid.uuid4()), json=json, headers={"Authorization": "Bearer abc"}
            )
            elapsed = time.monotonic() - started

            assert elapsed < 3
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert set(body) >= PROBLEM_MEMBERS
            assert body["code"] == "service_unavailable"
            for leak in ("127.0.0.1", "asyncpg", "Connect", "refused", "Errno"):
                assert leak not in response.text


@pytest.mark.asvs("REL-05")
async def test_console_says_in_a_page_when_the_database_does_not_answer() -> None:
    cookie = {"Cookie": f"sump_session={sign_cookie(SECRET, 'some-session-token')}"}
    async with serving(make_settings(DEAD_DATABASE)) as (_, http):
        page = await http.get("/console/", headers=cookie)
        login = await http.get("/console/login")
    assert login.status_code == 200  # the sign-in page itself needs no database
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "2"
    assert "cannot reach its database" in page.text
    assert "127.0.0.1" not in page.text
