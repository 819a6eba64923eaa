"""Engine and session factory for either database.

Two sets of limits. Requests use short ones, so a database that stops answering (a frozen process, a network
black hole) costs a request about two seconds by default (`request_limits`) and a 503, never a pool of stuck
connections: a connection whose server does not answer within the client's bound is closed at once instead of
being cancelled over a new connection to that same silent server, and the server cancels a statement that runs
on past a longer bound itself (`statement_timeout`). Migrations, the CLI and background work keep longer limits.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@dataclass(frozen=True)
class Limits:
    """Seconds: to open a connection, to wait for one from the pool, for the client to wait for one statement
    (then the connection is closed), and for the server to run one (`None`: no limit of its own)."""

    connect: float
    pool: float
    command: float
    statement: float | None


def request_limits(command: float) -> Limits:
    """The limits of requests whose statements must answer within `command` seconds (`SUMP_DB_COMMAND_TIMEOUT`).

    The server's bound is a backstop above the client's: PostgreSQL's timer runs from a statement's Parse to the
    end of its Execute, and asyncpg prepares (Parse, Describe, Flush) and executes in two exchanges, so a stall of
    the worker's event loop between them counts against the statement. The client closes a connection whose call
    has not answered in `command` seconds (a 503); the server stops what such a statement still runs by twice that.
    """
    return Limits(connect=command, pool=command + 0.4, command=command, statement=2 * command)


BACKGROUND = Limits(connect=5, pool=5, command=10, statement=None)


def make_engine(url: str, limits: Limits = BACKGROUND, **options: Any) -> AsyncEngine:
    # Statement parameters (password hashes, emails) never appear in an error's text, hence never in a log.
    options.setdefault("hide_parameters", True)
    options.setdefault("json_deserializer", _json_value)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 15}, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "handle_error", _discard_broken_connection)
        return engine
    # No pre-ping: it would cost a round trip on every checkout. A connection found broken is discarded
    # together with the rest of the pool, so after a database restart one request per worker answers 503.
    # Enough kept connections for the concurrency a worker sees: an overflow connection is opened for one
    # checkout and closed after it, and opening one (a PostgreSQL backend) costs far more than a query.
    options.setdefault("pool_size", 20)
    options.setdefault("max_overflow", 5)
    options.setdefault("pool_timeout", limits.pool)
    server_settings = {"application_name": "sump"}
    if limits.statement is not None:
        server_settings["statement_timeout"] = str(int(limits.statement * 1000))
    connect_args = {
        "timeout": limits.connect,
        "command_timeout": limits.command,
        "server_settings": server_settings,
        "connection_class": _closing_connection_class(),
    }
    engine = create_async_engine(url, connect_args=connect_args, **options)
    event.listen(engine.sync_engine, "handle_error", _discard_broken_connection)
    return engine


def _json_value(text: str) -> Any:
    """A stored JSON value. `{}`, what most accounts' custom properties and metadata hold, is made without the
    parser, a twentieth of its cost: a page of 50 end users reads 100 of them."""
    return {} if text == "{}" else json.loads(text)


@functools.cache
def _closing_connection_class() -> type:
    """asyncpg's connection, except that a statement the server did not answer in time closes the connection:
    asyncpg would instead ask the server to cancel it over a new connection, and wait for that, which a server
    that does not answer never grants. (Imported here: asyncpg is needed for PostgreSQL only.)"""
    import asyncpg

    class ClosingConnection(asyncpg.Connection):  # type: ignore[misc]
        def _cancel_current_command(self, waiter: Any, cancel_waiter: Any = None) -> None:
            # After the protocol has recorded the cancellation and before the waiting statement resumes.
            self._loop.call_soon(self.terminate)

    return ClosingConnection


def _discard_broken_connection(context: ExceptionContext) -> None:
    """Discards a connection (only it, the others may be fine) rather than hand it to the next request when a
    statement timed out on the client, which has closed it, or when a COMMIT or ROLLBACK failed (an error with no
    statement): the transaction may still be open, as SQLite leaves it after SQLITE_BUSY, and SQLAlchemy returns
    a connection whose commit it attempted without rolling it back, so the next request's commit would store the
    failed one's writes."""
    failed_transaction_control = context.statement is None and context.connection is not None
    if isinstance(context.original_exception, TimeoutError) or failed_transaction_control:
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


@contextlib.asynccontextmanager
async def one_transaction(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session in one transaction on an engine of its own, disposed of after: for a command's one piece of
    work outside any server."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            yield db
    finally:
        await engine.dispose()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`: one transaction each, or statements that each commit alone on an
    `autocommit_engine`."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, each statement committing by itself (no BEGIN, no COMMIT)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
