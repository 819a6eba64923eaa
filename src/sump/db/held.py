"""A few connections of the engine's pool held by the hottest read (the session check), per event loop.

Checking a connection out of the engine and back in cost a check as much CPU as the rest of it (the async
adaption's greenlet, the pool's events and bookkeeping). The session check keeps up to `size` autocommit
connections checked out instead, and at most that many checks use the database at once; the others wait here,
in order, no longer than a request waits for a pooled connection (then the pool's own timeout, a 503). A
connection that saw an error is closed, with the idle ones, and replaced at the next check; the checks that
were waiting then are answered 503 at once, so a database that stopped answering costs each check one bound,
not one per turn. They count within the pool's size, and are closed when the engine is disposed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sump.db.engine import autocommit_engine


class HeldConnections:
    """Up to `size` autocommit connections of `engine`'s pool (see the module)."""

    def __init__(self, engine: AsyncEngine, size: int, wait: float) -> None:
        self.engine, self.size, self.wait = autocommit_engine(engine), size, wait
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(size)
        self._idle: list[AsyncConnection] = []
        self._held: set[AsyncConnection] = set()
        self._failed_at = float("-inf")  # when a statement or a connection last failed (the loop's clock)
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: self._drop_all())

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A held connection for the statements inside (autocommit: each commits by itself)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # tests run applications on several loops; a connection is of one
            self._drop_all()
            self._loop, self._slots = loop, asyncio.Semaphore(self.size)
        slots = self._slots
        if slots.locked():
            waiting_since = loop.time()
            try:
                async with asyncio.timeout(self.wait):
                    await slots.acquire()
            except TimeoutError:
                raise PoolTimeout("no held connection was free in time") from None
            if self._failed_at >= waiting_since:  # the database failed the checks ahead: it would fail this one
                slots.release()
                raise PoolTimeout("the database did not answer the checks ahead of this one")
        else:
            await slots.acquire()  # at once
        try:
            try:
                conn = self._idle.pop() if self._idle else await self._open()
            except BaseException as exc:
                self._failed(exc)
                raise
            try:
                yield conn
            except BaseException as exc:
                self._held.discard(conn)  # not reused: it may be broken, or its state unknown (a cancellation)
                self._failed(exc)
                await _close(conn)
                raise
            self._idle.append(conn)
        finally:
            slots.release()

    def _failed(self, exc: BaseException) -> None:
        """A statement or a connection failed: the database may be gone (a restart breaks every held connection,
        a freeze every statement), so the idle ones are closed too and the checks waiting now are answered at
        once instead of trying in turn. A cancellation says nothing of the database."""
        if not isinstance(exc, asyncio.CancelledError):
            self._failed_at = asyncio.get_running_loop().time()
            self._drop(list(self._idle))

    @property
    def holding(self) -> int:
        """How many of the pool's connections are held now (all idle between checks)."""
        return len(self._held)

    async def _open(self) -> AsyncConnection:
        conn = await self.engine.connect()
        await conn.get_raw_connection()  # the driver's connection, opened now
        self._held.add(conn)
        return conn

    def _drop_all(self) -> None:
        """Closes every held connection at once (the engine is disposed, or the loop they were opened on is
        gone)."""
        self._drop(list(self._held))

    def _drop(self, connections: list[AsyncConnection]) -> None:
        """Closes these held connections at once, without a round trip: the driver's connections are terminated
        (closed gracefully within a disposal)."""
        for conn in connections:
            self._held.discard(conn)
            if conn in self._idle:
                self._idle.remove(conn)
            sync = conn.sync_connection
            if sync is not None and not sync.closed:
                with contextlib.suppress(Exception):  # a connection of a loop already closed is gone with it
                    sync.invalidate()


async def _close(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):  # what failed is raised already; closing a broken connection may fail
        if not conn.invalidated:
            await conn.invalidate()
        await conn.close()
