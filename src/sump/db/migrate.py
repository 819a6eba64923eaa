"""Alembic, driven from code: `sump db upgrade|downgrade|current` and the test suite use these."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from sump.db.engine import Limits, make_engine

# Alembic resolves `package:directory` through importlib.resources: the scripts installed with the package.
MIGRATIONS = "sump:migrations"


def alembic_config(database_url: str, output: io.StringIO | None = None) -> Config:
    config = Config(stdout=output) if output is not None else Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["database_url"] = database_url
    return config


NOTHING_APPLIED = "(no migration applied)"
# The PostgreSQL advisory lock that lets one `sump db upgrade|downgrade` at a time change the schema ("sumpdb").
MIGRATION_LOCK = 0x73756D706462
# Waiting for that lock has no bound of the server's and an hour of the client's: another run's migration may be long.
LOCK_WAIT = Limits(connect=5, pool=5, command=3600, statement=None)


class MigrationError(Exception):
    """One line for the operator. `usage`: the command asked for a revision that does not exist."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def revisions() -> list[str]:
    """Every migration's revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(""))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def upgrade(database_url: str, revision: str = "head") -> str:
    """Applies migrations up to `revision` and answers where the database is then. A database already past
    `revision` is left as it is (MigrationError): going back is `downgrade`, which may drop data."""
    config = alembic_config(database_url)
    script = ScriptDirectory.from_config(config)
    target = _named(script, revision)
    with _database(database_url), _one_at_a_time(database_url):
        at = _at(database_url)
        if target is not None and at is not None and at != target.revision and _is_before(script, target, at):
            raise MigrationError(
                f"the database is at {at}, already past {target.revision}; "
                f"to go back, run: sump db downgrade {target.revision}"
            )
        _run(command.upgrade, config, revision)
        return current(database_url)


def downgrade(database_url: str, revision: str = "-1") -> str:
    """Reverts migrations down to `revision` and answers where the database is then."""
    config = alembic_config(database_url)
    script = ScriptDirectory.from_config(config)
    target = _named(script, revision)
    with _database(database_url), _one_at_a_time(database_url):
        at = _at(database_url)
        if at is None and revision != "base":
            raise MigrationError("no migration is applied, so there is nothing to downgrade")
        if target is not None and at is not None and at != target.revision and not _is_before(script, target, at):
            raise MigrationError(
                f"the database is at {at}, before {target.revision}; "
                f"to go forward, run: sump db upgrade {target.revision}"
            )
        _run(command.downgrade, config, revision)
        return current(database_url)


def current(database_url: str) -> str:
    output = io.StringIO()
    with _database(database_url):
        command.current(alembic_config(database_url, output))
    return output.getvalue().strip() or NOTHING_APPLIED


def ensure_newest(database_url: str) -> str:
    """For commands that read and write the application's tables: the newest revision, or MigrationError when
    the database cannot be used or is not at it."""
    at, newest = _at(database_url), revisions()[-1]
    if at != newest:
        raise MigrationError(f"the database is at {at or 'no migration'}, not {newest}: run sump db upgrade first")
    return newest


def _at(database_url: str) -> str | None:
    shown = current(database_url)
    return None if shown == NOTHING_APPLIED else shown.split()[0]


def _named(script: ScriptDirectory, revision: str) -> Script | None:
    """The migration `revision` names; None for `head`, `base` and relative steps, which Alembic resolves."""
    if revision in {"head", "heads", "base"} or revision.startswith(("+", "-")) or "@" in revision:
        return None
    try:
        found = script.get_revision(revision)
    except (CommandError, RevisionError):
        found = None
    if found is None:
        raise _unknown(revision)
    return found


def _is_before(script: ScriptDirectory, target: Script, at: str) -> bool:
    return target.revision in {step.revision for step in script.iterate_revisions(at, "base")}


def _unknown(revision: str) -> MigrationError:
    return MigrationError(
        f"no migration {revision!r}; the migrations are {', '.join(revisions())} (or head, or base)", usage=True
    )


def _run(step: object, config: Config, revision: str) -> None:
    try:
        step(config, revision)  # type: ignore[operator]
    except CommandError as exc:
        if str(exc).startswith("Can't locate revision"):
            raise _unknown(revision) from None
        raise MigrationError(str(exc)) from None


@contextlib.contextmanager
def _one_at_a_time(database_url: str) -> Iterator[None]:
    """On PostgreSQL, holds `MIGRATION_LOCK` while the block runs: a second run started meanwhile waits, then
    reads where the database is and finds nothing left to do. The lock lives on a connection of its own, kept
    on an event loop of its own, since Alembic opens (and closes) the migration's connection on a new loop; the
    lock ends with that connection, even if this process dies. SQLite needs nothing: it has one writer."""
    if make_url(database_url).get_backend_name() != "postgresql":
        yield
        return
    loop = asyncio.new_event_loop()
    engine = make_engine(database_url, LOCK_WAIT, isolation_level="AUTOCOMMIT")

    async def lock() -> AsyncConnection:
        connection = await engine.connect()
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        return connection

    try:
        connection = loop.run_until_complete(lock())
        try:
            yield
        finally:
            loop.run_until_complete(connection.close())
    finally:
        loop.run_until_complete(engine.dispose())  # closes the connection, which ends its lock
        loop.close()


@contextlib.contextmanager
def _database(database_url: str) -> Iterator[None]:
    """A database that cannot be reached or used becomes one line naming it (without its password) and why."""
    url = make_url(database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        # Said before connecting: aiosqlite's thread, when the file cannot be opened, may print a traceback
        # of its own after the event loop has closed.
        directory = Path(url.database).absolute().parent
        if not directory.is_dir():
            raise MigrationError(f"cannot use the database {shown}: the directory {directory} does not exist")
    try:
        yield
    except (OSError, DBAPIError) as exc:
        raise MigrationError(f"cannot use the database {shown}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host not found"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, DBAPIError):
        return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
    return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
