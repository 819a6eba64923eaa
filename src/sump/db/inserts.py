"""New rows written at once, without the unit of work, and held until the transaction needs them.

A flush of one new object costs about twice the INSERT itself (the unit of work sorts, collects and
post-fetches). The rows written on every sign-in and every audited change (a session, an audit event) need
none of that: every column is known when they are made, and nothing depends on them but their own row.

They are not sent at once either: a row is held until the next statement of its session, its next flush or
its commit (or once `MAX_HELD` are waiting), and the rows held then are sent together, before anything else. On
PostgreSQL that is one statement (the first rows as data-modifying WITH clauses of the last one's INSERT), and
when they are all the transaction writes, it is sent on its own, without BEGIN and COMMIT: a sign-in writes its
session and its audit row in one round trip instead of four. A transaction that rolls back stores none of them.
A session whose statements each commit alone (a read's) holds nothing: its rows are written at once.

Rows may also be sent on a condition (`send_held_if`): on PostgreSQL the condition's query is one more WITH
clause of the same statement, each row inserted from it, so a sign-in's rows and the check that its account
is still as it was checked take one round trip together.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import (
    Column,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached

from sump.db.base import Base

_HELD = "sump_held_inserts"  # in Session.info: the rows waiting, [(table, values)]
_ALONE = "sump_inserts_alone"  # in Session.info: nothing but held rows was written in this transaction yet
MAX_HELD = 100  # rows in one statement: far below the 32,767 bound parameters PostgreSQL's driver takes


async def insert_values(db: AsyncSession, model: type[Base], values: dict[str, Any]) -> Mapping[str, Any]:
    """A row of `model`'s table, written with the session's next statement, flush or commit (see the module),
    after the changes pending before it, so statements keep the order the code gives them. Columns not given
    take their Python defaults, computed now; no object is made (for rows nothing reads back in the same
    request, like audit events). Returns the row's values, the defaults included."""
    if db.new or db.dirty or db.deleted:
        await db.flush()
    table = cast(Table, inspect(model).local_table)
    row = {**_defaults(table, values), **values}
    if db.get_bind().get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        await db.execute(_insert(table), row)  # a read's session: its statements commit one by one, as they come
        return row
    info = db.sync_session.info
    if not db.in_transaction():
        await db.begin()  # a transaction with no connection yet: its end, commit or rollback, settles the rows
        info[_ALONE] = True
    held = info.setdefault(_HELD, [])
    held.append((table, row))
    if len(held) >= MAX_HELD:
        await db.run_sync(_send_held, alone=False)
    return row


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


async def take_sqlite(db: AsyncSession, table: Table | type[Base]) -> None:
    """On SQLite, which lets one writer through at a time: a write that changes nothing (to `table`) takes the
    database for this transaction, so what it reads next stands until it ends, as a row lock holds a row on
    PostgreSQL. Callers call it on SQLite only."""
    await db.execute(delete(table).where(false()))


async def send_held_if(db: AsyncSession, guard: Select[Any], parameters: dict[str, Any], *, last: bool) -> bool:
    """Writes the rows held now only if `guard` (with `parameters`, named apart from the rows' own) finds a
    row, and whether it did; what `guard` locks (`FOR SHARE`, say) stays locked while the transaction lasts.

    On PostgreSQL one statement: the guard, then each row inserted from it, as WITH clauses. When they are all
    the transaction writes and the caller writes nothing after them that must stand or fall with them (`last`),
    that statement is sent alone, without BEGIN and COMMIT, and the session's transaction ends with it: what
    the request writes afterwards begins a new one. On SQLite, one writer at a time: a write that changes
    nothing takes the database, then the guard is read and the rows written only if it found one (so a row the
    guard no longer finds, an account deleted meanwhile, is refused as on PostgreSQL, not by a foreign key)."""
    session = db.sync_session
    held: list[tuple[Table, dict[str, Any]]] = session.info.pop(_HELD, None) or []
    alone = bool(session.info.pop(_ALONE, None)) and last and not (db.new or db.dirty or db.deleted)
    if db.get_bind().dialect.name != "postgresql":
        if held:  # the guard's answer stands until the rows are written
            await take_sqlite(db, held[0][0])
        if await db.scalar(select(exists(guard)), parameters) is not True:
            return False
        for table, row in held:
            await db.execute(_insert(table), row)
        return True
    if alone:
        await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    shape = tuple((table, frozenset(row)) for table, row in held)
    values = {_param(n, key): value for n, (_, row) in enumerate(held) for key, value in row.items()}
    found = bool(await db.scalar(_guarded(shape, guard), {**values, **parameters}))
    if alone:
        await db.commit()  # nothing to send: the statement committed itself
    return found


class _Given:
    """The context a default computed from its row's other values reads (`get_current_parameters`)."""

    def __init__(self, given: dict[str, Any]) -> None:
        self.given = given

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.given


def _defaults(table: Table, given: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for column in table.columns:
        default = column.default
        if column.key in given or default is None:
            continue
        if default.is_scalar:
            values[column.key] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            values[column.key] = default.arg(_Given(given))  # type: ignore[attr-defined]
        else:
            raise TypeError(f"insert_values: {column} has a SQL default: give its value")
    return values


def _send_held(session: Session, *, alone: bool) -> None:
    """Sends the rows held in `session` (synchronously: this runs inside the session's own calls). `alone`: no
    other statement of the transaction came before or will come after, so one statement needs no transaction."""
    held: list[tuple[Table, dict[str, Any]]] = session.info.pop(_HELD, None) or []
    session.info.pop(_ALONE, None)
    if not held:
        return
    if session.get_bind().dialect.name != "postgresql":  # SQLite's WITH takes no INSERT
        for table, row in held:
            session.execute(_insert(table), row)
        return
    if alone:
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    statement = _together(tuple((table, frozenset(row)) for table, row in held))
    session.execute(statement, {_param(n, key): value for n, (_, row) in enumerate(held) for key, value in row.items()})


@functools.cache
def _insert(table: Table) -> Insert:
    """The Core INSERT of a table (no unit of work), built once."""
    return insert(table)


@functools.lru_cache(maxsize=256)
def _together(shape: tuple[tuple[Table, frozenset[str]], ...]) -> Insert:
    """One INSERT for rows of these tables and columns, in order: the last is the statement, the others its WITH
    clauses (PostgreSQL runs each once, whatever reads them). Built once per shape, with bound parameters."""

    def one(n: int, table: Table, keys: frozenset[str]) -> Insert:
        columns: dict[str, Column[Any]] = {key: table.c[key] for key in sorted(keys)}
        return insert(table).values({key: bindparam(_param(n, key), type_=c.type) for key, c in columns.items()})

    *first, (table, keys) = shape
    statement = one(len(first), table, keys)
    for n, (earlier, earlier_keys) in enumerate(first):
        statement = statement.add_cte(one(n, earlier, earlier_keys).cte(f"held_{n}"))
    return statement


@functools.lru_cache(maxsize=64)
def _guarded(shape: tuple[tuple[Table, frozenset[str]], ...], guard: Select[Any]) -> Select[Any]:
    """`WITH guard AS (…), held_0 AS (INSERT … SELECT … FROM guard), … SELECT count(*) FROM guard`: the rows of
    `shape` written only if `guard` finds a row (PostgreSQL runs each WITH clause once, whatever reads it)."""
    found = guard.cte("guard")
    statement = select(func.count()).select_from(found)
    for n, (table, keys) in enumerate(shape):
        columns = [table.c[key] for key in sorted(keys)]
        row = select(*(bindparam(_param(n, c.key), type_=c.type) for c in columns)).select_from(found)
        statement = statement.add_cte(insert(table).from_select(columns, row).cte(f"held_{n}"))
    return statement


def _param(n: int, key: str) -> str:
    """The bound parameter of column `key` of the `n`th row held."""
    return f"r{n}_{key}"


@event.listens_for(Session, "do_orm_execute")
def _before_a_statement(state: Any) -> None:
    if state.session.info.get(_HELD):
        _send_held(state.session, alone=False)


@event.listens_for(Session, "before_flush")
def _before_a_flush(session: Session, _context: Any, _objects: Any) -> None:
    if session.info.get(_HELD):
        _send_held(session, alone=False)


@event.listens_for(Session, "before_commit")
def _before_the_commit(session: Session) -> None:
    if session.info.get(_HELD):
        pending = session.new or session.dirty or session.deleted
        _send_held(session, alone=bool(session.info.get(_ALONE)) and not pending)


@event.listens_for(Session, "after_transaction_end")
def _after_the_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back, or committed with the rows sent: none is left to send
        session.info.pop(_HELD, None)
        session.info.pop(_ALONE, None)
