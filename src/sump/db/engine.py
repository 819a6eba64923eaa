"""Engine and session factory for either database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str, **options: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 15}, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it would cost a round trip on every checkout. A connection found broken is discarded
    # together with the rest of the pool, so after a database restart one request per worker fails.
    # Enough kept connections for the concurrency a worker sees: an overflow connection is opened for one
    # checkout and closed after it, and opening one (a PostgreSQL backend) costs far more than a query.
    options.setdefault("pool_size", 20)
    options.setdefault("max_overflow", 5)
    options.setdefault("pool_timeout", 5)
    connect_args = {"timeout": 5, "command_timeout": 10, "server_settings": {"application_name": "sump"}}
    return create_async_engine(url, connect_args=connect_args, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`: one transaction each, or statements that each commit alone on an
    `autocommit_engine`."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, each statement committing by itself (no BEGIN, no COMMIT)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
