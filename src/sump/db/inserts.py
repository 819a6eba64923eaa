"""New rows written by one INSERT at once, instead of by the unit of work at the next flush.

A flush of one new object costs about twice the INSERT itself (the unit of work sorts, collects and
post-fetches). The rows written on every sign-in and every audited change (a session, an audit event) need
none of that: every column is known when they are made, and nothing depends on them but their own row.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Insert, Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql.schema import ColumnDefault

from sump.db.base import Base


async def insert_values(db: AsyncSession, model: type[Base], values: dict[str, Any]) -> None:
    """One INSERT of a row of `model`'s table now, in `db`'s transaction, after the changes pending before it
    (so statements keep the order the code gives them). Columns not given take their defaults; no object is
    made (for rows nothing reads back in the same request, like audit events)."""
    if db.new or db.dirty or db.deleted:
        await db.flush()
    await db.execute(_insert(model), values)


async def insert_now(db: AsyncSession, row: Base) -> None:
    """Writes the new object `row` as `insert_values` does. Columns not set take their Python default, set on
    `row` too; `row` is then part of `db` as if it had been read, and later changes to it are flushed as usual."""
    mapper = inspect(row).mapper
    values = {}
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if attribute.key not in row.__dict__:
            if column.server_default is not None:  # the database's value would have to be read back
                raise TypeError(f"insert_now: {column} has a server default: set it, or flush the row")
            setattr(row, attribute.key, _default(column.default))
        values[column.key] = getattr(row, attribute.key)
    await insert_values(db, type(row), values)
    make_transient_to_detached(row)
    db.add(row)


@functools.cache
def _insert(model: type[Base]) -> Insert:
    """The Core INSERT of `model`'s table (no unit of work), built once."""
    return insert(cast(Table, inspect(model).local_table))


def _default(default: object) -> object:
    """A column's Python-side default (a value, or a function of no arguments), or None."""
    if not isinstance(default, ColumnDefault):
        return None
    return default.arg(None) if default.is_callable else default.arg
