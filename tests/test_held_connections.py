"""The connections the session check holds (`sump.db.held`): at most so many on the database at once, the
others waiting in order and no longer than the pool's wait; reused while sound, replaced after an error,
closed with the engine."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from sump.db.engine import make_engine
from sump.db.held import HeldConnections
from tests.support import REQUESTS, Database


async def test_checks_beyond_the_held_connections_wait_in_order_on_the_same_connection(database: Database) -> None:
    engine = make_engine(database.url, REQUESTS)
    held = HeldConnections(engine, 1, wait=5.0)
    on_database, most, order, used = [0], [0], [], []
    first_in, gate = asyncio.Event(), asyncio.Event()

    async def check(n: int) -> None:
        async with held.connection() as conn:
            on_database[0] += 1
            most[0] = max(most[0], on_database[0])
            order.append(n)
            used.append(conn)
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
            if n == 0:
                first_in.set()
                await gate.wait()
            on_database[0] -= 1

    try:
        checks = [asyncio.create_task(check(n)) for n in range(3)]
        await first_in.wait()
        await asyncio.sleep(0)  # the other two are waiting for the held connection now, not on the database
        assert order == [0]
        gate.set()
        await asyncio.gather(*checks)
        assert most[0] == 1
        assert order == [0, 1, 2]
        assert used[0] is used[1] is used[2]  # one connection, held between checks
    finally:
        await engine.dispose()


async def test_a_check_waits_no_longer_than_the_pools_wait(database: Database) -> None:
    engine = make_engine(database.url, REQUESTS)
    held = HeldConnections(engine, 1, wait=0.2)
    gate = asyncio.Event()

    async def holder() -> None:
        async with held.connection():
            await gate.wait()

    try:
        holding = asyncio.create_task(holder())
        await asyncio.sleep(0)
        with pytest.raises(PoolTimeout):  # answered 503 `service_unavailable` (kit.errors)
            async with held.connection():
                pytest.fail("no connection was free")
        gate.set()
        await holding
    finally:
        await engine.dispose()


async def test_a_check_that_waited_runs_its_statements_in_full_on_the_same_connection(database: Database) -> None:
    """Under a load the database answers, slowly: a check that got its turn late is not cut short (cutting it
    would close a sound connection, and the next checks would each open one, and so on)."""
    engine = make_engine(database.url, REQUESTS)
    held = HeldConnections(engine, 1, wait=0.3)
    loop = asyncio.get_running_loop()
    first_done, second_done, used = asyncio.Event(), asyncio.Event(), []

    async def check(done: asyncio.Event, seconds: float) -> None:
        async with held.connection() as conn:
            used.append(conn)
            loop.call_later(seconds, done.set)  # a statement that takes this long
            await done.wait()
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1

    try:
        first = asyncio.create_task(check(first_done, 0.2))
        await asyncio.sleep(0)
        await check(second_done, 0.3)  # its turn after 0.2 s of its 0.3 s wait, then 0.3 s on the database
        await first
        assert used[0] is used[1]
        assert held.holding == 1
    finally:
        await engine.dispose()


async def test_checks_waiting_when_the_database_fails_the_ones_ahead_are_answered_at_once(
    database: Database,
) -> None:
    """With the database frozen, the checks queued behind the held connections would each wait for their turn
    and then for their own statement's bound: once the ones ahead fail, the waiting ones are refused at once."""
    engine = make_engine(database.url, REQUESTS)
    held = HeldConnections(engine, 1, wait=5.0)
    loop = asyncio.get_running_loop()
    entered, fail = asyncio.Event(), asyncio.Event()

    async def failing() -> None:
        async with held.connection():
            entered.set()
            await fail.wait()
            raise TimeoutError("the statement was not answered in time")

    async def waiting() -> None:
        async with held.connection():
            pytest.fail("the database failed the check ahead: this one is not tried")

    try:
        ahead = asyncio.create_task(failing())
        await entered.wait()
        queued = asyncio.create_task(waiting())
        await asyncio.sleep(0)
        started = loop.time()
        fail.set()
        with pytest.raises(TimeoutError):
            await ahead
        with pytest.raises(PoolTimeout):  # answered 503 `service_unavailable` (kit.errors)
            await queued
        assert loop.time() - started < 1.0  # not the 5 s wait
        async with held.connection() as conn:  # a check that comes afterwards tries the database again
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_a_connection_that_saw_an_error_is_closed_and_replaced_and_so_are_the_idle_ones(
    database: Database,
) -> None:
    """After a database restart every held connection is broken: the first error closes them all, so that one
    check fails, not one per held connection."""
    engine = make_engine(database.url, REQUESTS)
    held = HeldConnections(engine, 2, wait=1.0)
    both, opened = asyncio.Event(), []

    async def hold() -> None:
        async with held.connection() as conn:
            opened.append(conn)
            if len(opened) == 2:
                both.set()
            await both.wait()

    try:
        await asyncio.gather(hold(), hold())  # two connections held, both idle now
        failed: list[AsyncConnection] = []

        async def failing() -> None:
            async with held.connection() as conn:
                failed.append(conn)
                await conn.execute(text("SELECT 1"))
                raise RuntimeError("a statement failed")

        with pytest.raises(RuntimeError):
            await failing()
        assert failed[0].closed
        [idle] = [conn for conn in opened if conn is not failed[0]]
        assert idle.invalidated
        async with held.connection() as conn:
            assert conn not in opened
            assert (await conn.execute(text("SELECT 2"))).scalar() == 2
    finally:
        await engine.dispose()


async def test_held_connections_close_with_the_engine(database: Database) -> None:
    engine = make_engine(database.url, REQUESTS)
    held = HeldConnections(engine, 2, wait=1.0)
    kept: list[AsyncConnection] = []
    async with held.connection() as conn:
        kept.append(conn)
        driver = (await conn.get_raw_connection()).driver_connection
    await engine.dispose()
    assert kept[0].invalidated
    if database.backend == "postgresql":
        assert driver.is_closed()  # type: ignore[union-attr]
        checker = make_engine(database.url, REQUESTS)
        try:
            async with checker.connect() as other:  # the engine serves again, on new connections
                assert (await other.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await checker.dispose()
    async with held.connection() as fresh:  # and the holder opens a new one
        assert fresh is not kept[0]
        assert (await fresh.execute(text("SELECT 3"))).scalar() == 3
    await engine.dispose()
