"""New rows written by one INSERT at once, instead of by the unit of work at the next flush.

A flush of one new object costs about twice the INSERT itself (the unit of work sorts, collects and
post-fetches). The rows written on every sign-in and every audited change (a session, an audit event) need
none of that: every column is known when they are made, and nothing depends on them but their own row.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, Insert, Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from sump.db.base import Base


async def insert_values(db: AsyncSession, model: type[Base], values: dict[str, Any]) -> Mapping[str, Any]:
    """One INSERT of a row of `model`'s table now, in `db`'s transaction, after the changes pending before it
    (so statements keep the order the code gives them). Columns not given take their defaults; no object is
    made (for rows nothing reads back in the same request, like audit events). Returns the row's values, the
    defaults included."""
    if db.new or db.dirty or db.deleted:
        await db.flush()
    result = await db.execute(_insert(model), values)
    return cast(Mapping[str, Any], cast(CursorResult[Any], result).last_inserted_params())  # one row: one mapping


async def insert_now(db: AsyncSession, row: Base) -> None:
    """Writes the new object `row` as `insert_values` does. Columns not set take their default, set on `row`
    too; `row` is then part of `db` as if it had been read, and later changes to it are flushed as usual."""
    mapper = inspect(row).mapper
    given = {}
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if attribute.key in row.__dict__:
            given[column.key] = row.__dict__[attribute.key]
        elif column.server_default is not None:  # the database's value would have to be read back
            raise TypeError(f"insert_now: {column} has a server default: set it, or flush the row")
    written = await insert_values(db, type(row), given)
    for attribute in mapper.column_attrs:
        if attribute.key not in row.__dict__:
            setattr(row, attribute.key, written.get(attribute.columns[0].key))
    make_transient_to_detached(row)
    db.add(row)


@functools.cache
def _insert(model: type[Base]) -> Insert:
    """The Core INSERT of `model`'s table (no unit of work), built once."""
    return insert(cast(Table, inspect(model).local_table))
