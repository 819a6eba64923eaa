"""The request engine's bounds on PostgreSQL: the server's statement limit is a backstop behind the client's."""

from __future__ import annotations

import time

from sump.db.engine import REQUESTS, make_engine
from tests.support import ADMIN_URL


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
