"""A transaction PostgreSQL ends for a change made at the same time (a deadlock's victim, a serialization failure)
answers 503 `concurrent_change` with `Retry-After`, stores nothing of the request, and is logged as a warning
with its SQLSTATE: a client may send the same request again, which a generic 500 would not tell it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from sump.kit.transactions import DbSession
from tests.kit.http_support import assert_problem, errors_logged, serving
from tests.support import Database, create_database, drop_database, make_settings


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Database]:
    """PostgreSQL alone: SQLite lets one writer at a time through, so neither a deadlock nor a serialization
    failure can happen there (its locked database is `service_unavailable`, tested with the outages)."""
    created = create_database("postgresql", tmp_path)
    yield created
    drop_database(created)


@pytest.fixture
async def other(postgres: Database) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own on the same database, standing for another request, with a table of two rows."""
    connection = await asyncpg.connect(postgres.url.replace("postgresql+asyncpg://", "postgresql://"))
    await connection.execute("CREATE TABLE probe (id int PRIMARY KEY, n int NOT NULL)")
    await connection.execute("INSERT INTO probe VALUES (1, 0), (2, 0)")
    try:
        yield connection
    finally:
        await connection.close()


async def _until_waiting_for_a_lock(watcher: asyncpg.Connection, pid: int) -> None:
    waiting = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1"
    while not await watcher.fetchval(waiting, pid):  # each read is a round trip: the loop never spins idle
        pass


@pytest.mark.asvs("REL-04")
@pytest.mark.parametrize(("kind", "sqlstate"), [("deadlock", "40P01"), ("serialization", "40001")])
async def test_a_transaction_ended_for_a_concurrent_change_answers_503_to_send_again_and_stores_nothing(
    postgres: Database, other: asyncpg.Connection, kind: str, sqlstate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = await asyncpg.connect(postgres.url.replace("postgresql+asyncpg://", "postgresql://"))
    other_waits: list[asyncio.Task[str]] = []
    async with serving(make_settings(postgres)) as (application, http):

        @application.post("/api/v1/test-only/conflict")
        async def conflict(db: DbSession) -> None:
            """Deadlock: this request writes row 1 then row 2 while the other connection, holding row 2, waits
            for row 1. Serialization: this request writes row 1, which the other changed since its snapshot."""
            if kind == "deadlock":
                await db.execute(text("SET LOCAL deadlock_timeout = '10ms'"))  # this side finds the cycle first
                await db.execute(text("UPDATE probe SET n = n + 10 WHERE id = 1"))
                other_waits.append(asyncio.create_task(other.execute("UPDATE probe SET n = n + 1 WHERE id = 1")))
                await _until_waiting_for_a_lock(watcher, other.get_server_pid())
                await db.execute(text("UPDATE probe SET n = n + 10 WHERE id = 2"))
            else:
                await db.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
                await db.scalar(text("SELECT n FROM probe WHERE id = 2"))  # the snapshot is taken here
                await other.execute("UPDATE probe SET n = n + 1 WHERE id = 1")
                await db.execute(text("UPDATE probe SET n = n + 10 WHERE id = 1"))

        try:
            if kind == "deadlock":
                await other.execute("SET deadlock_timeout = '60s'")
                await other.execute("BEGIN")
                await other.execute("UPDATE probe SET n = n + 1 WHERE id = 2")
            with errors_logged(monkeypatch) as logs:
                response = await http.post("/api/v1/test-only/conflict")
            if kind == "deadlock":
                await other_waits[0]  # the request's transaction gave row 1 up when it ended
                await other.execute("COMMIT")
            rows = [tuple(row) for row in await watcher.fetch("SELECT id, n FROM probe ORDER BY id")]
        finally:
            await watcher.close()

    problem = assert_problem(response, 503, "concurrent_change")
    assert (
        problem["detail"] == "A change made at the same time stopped this request before it was stored; send it again."
    )
    assert response.headers["retry-after"] == "1"
    for leak in ("deadlock", "serialize", "probe", "UPDATE", "asyncpg", "sqlalchemy", sqlstate):
        assert leak not in response.text
    assert rows == ([(1, 1), (2, 1)] if kind == "deadlock" else [(1, 1), (2, 0)]), "the request's writes were undone"
    warnings = [entry for entry in logs if entry["event"] == "database_conflict"]
    assert [(entry["log_level"], entry["sqlstate"]) for entry in warnings] == [("warning", sqlstate)]
    assert "UPDATE probe" in warnings[0]["statement"]
    assert not [entry for entry in logs if entry["event"] == "unhandled_error"]
