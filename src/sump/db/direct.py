"""Hot reads run as the driver's own prepared statements.

On PostgreSQL, on an autocommit connection (a read request's, or one held by the session check), a statement
built once is compiled once for the dialect and run through asyncpg itself: the same SQL and the same rows,
without the execution layer's per-call work (the async adaption's greenlet, the execution context, the result's
processing), which costs a one-row SELECT about 90 µs of CPU beside the driver's 23. The engine's cursor
listeners still see each statement, and a connection the driver closed (a statement that timed out) or left in
the middle of a statement (a cancelled task) is discarded, as the engine would discard it. Anywhere else (SQLite,
a transaction) the statement runs through the connection as usual; it is for reads, and sends no rows that
`db.inserts` holds.

A row reads as a result row does: by position, by column name as an attribute (`row.id`) or through its mapping
(`row._mapping["id"]`, the cheapest by name), or iterated in column order. Its values are the driver's: the
selected columns must need no processing of their type's beyond it (an enum column reads as its text; UUIDs,
timestamps with their time zone and JSON are the driver's already), and none may be named as a record's own method
(`keys`, `values`, `items`, `get`): select it under another label. Parameters are bound by the driver alone: they
must need no processing of their type's either (an aware datetime, not a naive one), and none may be expanded at
execution (`IN` of a list).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable


async def rows(conn: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]) -> Sequence[Any]:
    """Every row `statement` reads (see the module for what a row is)."""
    return await _run(conn, statement, parameters, first=False)  # type: ignore[no-any-return]


async def first_row(conn: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]) -> Any | None:
    """The first row `statement` reads, or None."""
    return await _run(conn, statement, parameters, first=True)


async def _run(conn: AsyncConnection, statement: Executable, parameters: Mapping[str, Any], *, first: bool) -> Any:
    sync = conn.sync_connection
    assert sync is not None
    if conn.dialect.driver != "asyncpg" or sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        result = await conn.execute(statement, parameters)
        return result.first() if first else result.all()
    sql, names = _compiled(conn.dialect, statement)
    values = [parameters[name] for name in names]
    for listener in sync.dispatch.before_cursor_execute:
        listener(sync, None, sql, values, None, False)
    driver = sync.connection.driver_connection
    assert driver is not None
    record = _record_class()
    try:
        if first:
            return await driver.fetchrow(sql, *values, record_class=record)
        return await driver.fetch(sql, *values, record_class=record)
    except BaseException as exc:
        if driver.is_closed() or not isinstance(exc, Exception):  # a cancellation leaves the statement half done
            await conn.invalidate()
        raise


@functools.lru_cache(maxsize=256)
def _compiled(dialect: Dialect, statement: Executable) -> tuple[str, list[str]]:
    """The SQL and its parameters' names in order (statements are built once: this holds a few)."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError("a parameter expanded at execution cannot run as the driver's statement")
    shadowed = _RECORD_METHODS.intersection(column.key for column in getattr(statement, "selected_columns", ()))
    if shadowed:
        raise ValueError(f"columns named as a record's methods: {sorted(shadowed)}; select them under another label")
    return str(compiled), list(compiled.positiontup or ())


_RECORD_METHODS = frozenset({"keys", "values", "items", "get"})


@functools.cache
def _record_class() -> type:
    """asyncpg's record, read by attribute too. (Imported here: asyncpg is needed for PostgreSQL only.)"""
    import asyncpg

    class Record(asyncpg.Record):  # type: ignore[misc]
        __slots__ = ()

        @property
        def _mapping(self) -> Any:
            return self  # a record reads by name itself

        def __getattr__(self, name: str) -> Any:
            try:
                return self[name]
            except KeyError:
                raise AttributeError(name) from None

    return Record
