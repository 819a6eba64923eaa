"""Hot reads as the driver's own statements (`db.direct`): the same rows as the connection gives, read the same
ways; the driver only on PostgreSQL outside a transaction; the engine's listeners see each statement; and a
statement that timed out discards its connection."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, func, literal_column, select, text

from sump.db import direct
from sump.db.engine import Limits, autocommit_engine, make_engine
from sump.db.tables.environment_accounts import EnvironmentAccount
from tests.support import ADMIN_URL, Database, TenantWorld, statements

_USERS = (
    select(
        EnvironmentAccount.id,
        EnvironmentAccount.email,
        EnvironmentAccount.disabled_at,
        EnvironmentAccount.created_at,
        EnvironmentAccount.custom_properties,
        EnvironmentAccount.password_hash.is_not(None).label("has_password"),
    )
    .where(EnvironmentAccount.environment_id == bindparam("environment_id"))
    .order_by(EnvironmentAccount.id)
)


async def test_the_rows_are_the_connections_read_the_same_ways(app: FastAPI, world: TenantWorld) -> None:
    for _ in range(3):
        await world.add_end_user(world.environment_id)
    parameters = {"environment_id": uuid.UUID(world.environment_id)}
    async with autocommit_engine(app.state.engine).connect() as conn:
        with statements(app) as sent:
            rows = await direct.rows(conn, _USERS, parameters)
            first = await direct.first_row(conn, _USERS, parameters)
        expected = (await conn.execute(_USERS, parameters)).all()
    assert [keyword for keyword, _ in sent] == ["SELECT", "SELECT"]
    assert len(rows) == 3
    assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
    assert [(row[0], row.email, row.created_at.tzinfo) for row in rows] == [
        (row.id, row.email, row.created_at.tzinfo) for row in expected
    ]
    assert [dict(row._mapping) for row in rows] == [dict(row._mapping) for row in expected]
    assert [row._mapping["email"] for row in rows] == [row.email for row in expected]
    assert first is not None
    assert tuple(first) == tuple(expected[0])
    assert not hasattr(first, "password_hash")
    async with autocommit_engine(app.state.engine).connect() as conn:
        assert await direct.first_row(conn, _USERS, {"environment_id": uuid.uuid4()}) is None


async def test_the_driver_reads_alone_only_outside_a_transaction(
    app: FastAPI, world: TenantWorld, database: Database
) -> None:
    """Inside a transaction a read goes through the connection, so it is part of that transaction as begun."""
    await world.add_end_user(world.environment_id)
    parameters = {"environment_id": uuid.UUID(world.environment_id)}
    async with autocommit_engine(app.state.engine).connect() as alone:
        outside = await direct.rows(alone, _USERS, parameters)
    async with app.state.engine.connect() as conn:
        inside = await direct.rows(conn, _USERS, parameters)
        assert conn.in_transaction()
    by_driver = database.backend == "postgresql"
    assert len(outside) == len(inside) == 1
    assert (type(outside[0]).__module__ == direct.__name__) == by_driver
    assert type(inside[0]).__module__ != direct.__name__


async def test_a_statement_that_timed_out_discards_its_connection() -> None:
    """On PostgreSQL, the driver's statement that passed the client's bound closed its connection: the engine
    discards it, and the next read has a sound one."""
    engine = make_engine(ADMIN_URL, Limits(connect=5, pool=5, command=0.2, statement=None))
    sleep = select(func.pg_sleep(bindparam("seconds")))
    try:
        async with autocommit_engine(engine).connect() as conn:
            with pytest.raises(TimeoutError):
                await direct.first_row(conn, sleep, {"seconds": 2})
            assert conn.invalidated
        async with autocommit_engine(engine).connect() as conn:
            assert await direct.first_row(conn, sleep, {"seconds": 0}) is not None
    finally:
        await engine.dispose()


async def test_a_cancelled_statement_discards_its_connection() -> None:
    """A task cancelled while the driver runs its statement leaves that statement half done: the connection is
    not handed to the next request (one connection in the pool, so the next checkout would get it)."""
    engine = make_engine(ADMIN_URL, pool_size=1, max_overflow=0)
    marker = f"cancelled-{uuid.uuid4().hex}"
    sleep = select(func.pg_sleep(bindparam("seconds")), literal_column(f"'{marker}'").label("marker"))

    async def read() -> None:
        async with autocommit_engine(engine).connect() as conn:
            await direct.first_row(conn, sleep, {"seconds": 30})

    try:
        running = asyncio.create_task(read())
        await _until_running(marker)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        async with autocommit_engine(engine).connect() as conn:
            assert await direct.first_row(conn, sleep, {"seconds": 0}) is not None
    finally:
        await engine.dispose()


async def _until_running(marker: str) -> None:
    """Returns once PostgreSQL runs the statement that selects `marker`."""
    watcher = make_engine(ADMIN_URL)
    try:
        async with watcher.connect() as conn:
            seen = text("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE :marker")
            while not (await conn.execute(seen, {"marker": f"%{marker}%"})).scalar():
                await conn.rollback()
    finally:
        await watcher.dispose()


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (select(EnvironmentAccount.id).where(EnvironmentAccount.id.in_(bindparam("ids", expanding=True))), "expanded"),
        (select(EnvironmentAccount.email.label("keys")), "record's methods"),
    ],
    ids=["expanding", "shadowed"],
)
async def test_statements_the_driver_cannot_run_alike_are_refused(statement: Any, refusal: str) -> None:
    engine = make_engine(ADMIN_URL)
    try:
        async with autocommit_engine(engine).connect() as conn:
            with pytest.raises(ValueError, match=refusal):
                await direct.rows(conn, statement, {"ids": [uuid.uuid4()]})
    finally:
        await engine.dispose()
