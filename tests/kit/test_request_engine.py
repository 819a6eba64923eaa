"""The request engine's bounds on PostgreSQL: the server's statement limit is a backstop behind the client's."""

from __future__ import annotations

import contextlib
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from sump.app import create_app
from sump.db.engine import make_engine
from tests.support import ADMIN_URL, REQUESTS, Database, make_settings


async def test_a_stall_between_prepare_and_execute_does_not_cancel_a_quick_statement() -> None:
    """asyncpg prepares a statement (Parse, Describe, Flush: no Sync) and executes it in a second exchange, and
    PostgreSQL's `statement_timeout` runs from that Parse to the end of the Execute. A worker whose event loop
    stalls between the two (a CPU-starved machine, a new connection preparing its statements) had the server
    cancel statements that ran in a millisecond: requests answered 503 `service_unavailable`. A stall as long
    as the client's own bound for one call must leave the statement alone."""
    engine = make_engine(ADMIN_URL, REQUESTS)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            prepared = await driver.prepare("SELECT 1")
            time.sleep(REQUESTS.command)  # noqa: ASYNC251 (the stall under test: nothing runs meanwhile)
            assert await prepared.fetchval() == 1
    finally:
        await engine.dispose()


async def test_the_applications_engine_keeps_the_bounds_of_its_setting() -> None:
    """`SUMP_DB_COMMAND_TIMEOUT` bounds a request's statement on the client, and the server's own limit is twice
    it: a statement that runs on past the setting ends the call, and its connection, in about that time."""
    app = create_app(make_settings(Database("postgresql", ADMIN_URL), db_command_timeout=0.4))
    engine = app.state.engine
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar_one() == "800ms"
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 3
    finally:
        await engine.dispose()


async def test_the_applications_pool_keeps_and_opens_what_its_settings_say() -> None:
    """`SUMP_DB_POOL_SIZE` connections are kept and `SUMP_DB_POOL_OVERFLOW` more opened for a burst, each closed
    after its use; a checkout beyond them waits the pool's bound and fails rather than open another. The session
    check holds at most half of the pool."""
    app = create_app(
        make_settings(Database("postgresql", ADMIN_URL), db_command_timeout=0.1, db_pool_size=2, db_pool_overflow=1)
    )
    engine = app.state.engine
    try:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(3):
                await stack.enter_async_context(engine.connect())
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                await stack.enter_async_context(engine.connect())
            assert 0.4 < time.monotonic() - started < 3
        assert (engine.pool.size(), engine.pool.checkedin()) == (2, 2)
        assert app.state.held.size == 1
    finally:
        await engine.dispose()
