"""`sump serve` on a database that was never migrated: not ready (naming `sump db upgrade`), every API call a
503 `database_not_migrated` instead of a 500, the fault logged once instead of every second, and all well once
the database is upgraded, without a restart."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.faults.cluster import Cluster
from tests.kit.http_support import assert_problem
from tests.servers import SUMP, Server, free_port, sqlite_environment
from tests.support import PASSWORD, tenant_body

OBSERVED_SECONDS = 4  # the outbox tries every second: this long serves several of its rounds
DEADLINE_SECONDS = 30


def serve(directory: Path, environment: dict[str, str]) -> Server:
    """`sump serve` on the database as it is: no migration first."""
    log, port = directory / "server.log", free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(SUMP), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=directory,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        server.wait_until_live()
    except BaseException:
        server.kill()
        raise
    return server


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a server whose database exists but was never migrated."""
    environment = sqlite_environment(tmp_path)
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("cluster")
        name = f"unmigrated_{tmp_path.name[-8:].replace('-', '_')}"
        dsn = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"

        async def admin(statement: str) -> None:
            connection = await asyncpg.connect(dsn)
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        environment["SUMP_DATABASE_URL"] = cluster.url.rsplit("/", 1)[0] + f"/{name}"
        yield environment
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        yield environment


def _stamp(line: str) -> datetime | None:
    try:
        return datetime.fromisoformat(line.split(" ", 1)[0])
    except ValueError:
        return None


def seconds_logged_since(server: Server, event: str) -> float:
    """By the server's own log clock: how long its log goes on after the first line holding `event`."""
    stamped = [(line, _stamp(line)) for line in server.log_text().splitlines()]
    times = [(line, stamp) for line, stamp in stamped if stamp is not None]
    first = next((stamp for line, stamp in times if event in line), None)
    return 0.0 if first is None else (times[-1][1] - first).total_seconds()


def log_goes_on(server: Server, http: httpx.Client, event: str, seconds: float) -> None:
    """Polls (each poll a logged request) until the log runs `seconds` past `event`, within a deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while seconds_logged_since(server, event) < seconds:
        assert time.monotonic() < deadline, server.log_text()[-3000:]
        http.get("/health/live")
        time.sleep(0.1)  # between polls of the condition


@pytest.mark.asvs("REL-05", "REL-07")
def test_a_database_never_migrated_is_not_ready_answers_503_and_says_so_once(
    unmigrated: dict[str, str], tmp_path: Path
) -> None:
    server = serve(tmp_path, unmigrated)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            ready = assert_problem(http.get("/health/ready"), 503, "database_not_migrated")
            assert "sump db upgrade" in ready["detail"]

            calls = [
                http.post("/api/v1/tenants", json=tenant_body()),
                http.get("/api/v1/tenants/01a234fc-27dd-70c4-88bd-c980b364ed82", headers={"Authorization": "Bearer x"}),
                http.get(
                    "/api/v1/auth/tenants/01a234fc-27dd-70c4-88bd-c980b364ed82/session",
                    headers={"Authorization": "Bearer x"},
                ),
                http.post(
                    "/api/v1/auth/tenants/01a234fc-27dd-70c4-88bd-c980b364ed82/login",
                    json={"username": "someone", "password": PASSWORD},
                ),
            ]
            for response in calls:
                assert_problem(response, 503, "database_not_migrated")
                assert response.headers["retry-after"].isdigit()
                for leak in ("alembic", "no such table", "does not exist", 'tenants"'):
                    assert leak not in response.text

            log_goes_on(server, http, "outbox_round_failed", OBSERVED_SECONDS)
            log = server.log_text()
            assert log.count("database_not_migrated") == 1, log[-3000:]
            assert "sump db upgrade" in log
            assert log.count("outbox_round_failed") == 1, log[-3000:]
            assert "unhandled_error" not in log
            assert "status=500" not in log

            upgraded = subprocess.run(  # noqa: S603
                [str(SUMP), "db", "upgrade"], cwd=tmp_path, env=unmigrated, capture_output=True, text=True, timeout=120
            )
            assert upgraded.returncode == 0, upgraded.stderr
            assert http.get("/health/ready").status_code == 200
            assert http.post("/api/v1/tenants", json=tenant_body()).status_code == 201
        assert server.stop() == 0
    finally:
        server.kill()
