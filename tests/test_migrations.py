"""Migrations on both databases: up to head, no drift from the models, down to base (step by step, on data), up again.

Alembic's env runs its own event loop (asyncio.run), so these tests are synchronous.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Boolean, LargeBinary, String, Uuid, func, inspect, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from sump.app import create_app
from sump.db import migrate
from sump.db.base import JSONType, UTCDateTime, utcnow, uuid7
from sump.db.engine import make_engine
from sump.db.migrate import alembic_config
from sump.db.tables import metadata
from tests.support import SECRET, Database, make_settings

SUMP = Path(sys.executable).parent / "sump"
MODEL_TABLES = set(metadata.tables)


def _inspect(url: str) -> tuple[set[str], set[str]]:
    """(tables, indexes) of the database."""

    def look(connection: Connection) -> tuple[set[str], set[str]]:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        indexes = {str(index["name"]) for table in tables for index in inspector.get_indexes(table)}
        return tables, indexes

    async def run() -> tuple[set[str], set[str]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def tables(url: str) -> set[str]:
    return _inspect(url)[0]


def count(url: str, table: str) -> int:
    async def run() -> int:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return int(await connection.scalar(select(func.count()).select_from(sa_table(table))) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def legacy_hash_costs(url: str) -> dict[str, list[int | None]]:
    async def run() -> dict[str, list[int | None]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return {
                    name: list(
                        await connection.scalars(select(sa_column("legacy_hash_cost")).select_from(sa_table(name)))
                    )
                    for name in ("tenant", "environment")
                }
        finally:
            await engine.dispose()

    return asyncio.run(run())


# The tables of the first revision as it created them (not as the models are now), for seeding it.
_FIRST_TABLES = {
    "tenant": ["id", "name", "custom_properties", "created_at", "updated_at"],
    "environment": ["id", "tenant_id", "name", "custom_properties", "created_at", "updated_at"],
    "tenant_account": [
        "id", "tenant_id", "email", "email_verified", "phone_verified", "username", "name", "role", "disabled",
        "password_hash", "created_at", "updated_at",
    ],
    "session": [
        "id", "token_hash", "tenant_id", "account_type", "account_id", "tenant_account_id", "expires_at",
        "last_active_at", "created_at",
    ],
}  # fmt: skip
_TYPES: dict[str, TypeEngine[Any]] = {
    "custom_properties": JSONType,
    "token_hash": LargeBinary(32),
    **dict.fromkeys(["email_verified", "phone_verified", "disabled"], Boolean()),
    **dict.fromkeys(["created_at", "updated_at", "expires_at", "last_active_at"], UTCDateTime()),
    **dict.fromkeys(["id", "tenant_id", "account_id", "tenant_account_id"], Uuid()),
}


def seed_first_revision(url: str) -> None:
    """A tenant with an environment, an owner and a session, so every later step up and down meets rows."""
    tenant, account, now = uuid7(), uuid7(), utcnow()
    rows = {
        "tenant": {"id": tenant, "name": "Seed", "custom_properties": {"plan": "x"}},
        "environment": {"id": uuid7(), "tenant_id": tenant, "name": "default", "custom_properties": {}},
        "tenant_account": {
            "id": account,
            "tenant_id": tenant,
            "email": "seed@example.com",
            "email_verified": False,
            "phone_verified": False,
            "username": "seed",
            "name": "Seed Owner",
            "role": "owner",
            "disabled": False,
            "password_hash": "$2b$11$" + "x" * 53,  # as imported from the original: bcrypt, cost 11
        },
        "session": {
            "id": uuid7(),
            "token_hash": uuid.uuid4().bytes * 2,
            "tenant_id": tenant,
            "account_type": "tenant_account",
            "account_id": account,
            "tenant_account_id": account,
            "expires_at": now,
            "last_active_at": now,
        },
    }

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                for name, columns in _FIRST_TABLES.items():
                    table = sa_table(name, *(sa_column(column, _TYPES.get(column, String())) for column in columns))
                    values = {"created_at": now, "updated_at": now, **rows[name]}
                    await connection.execute(table.insert().values({key: values[key] for key in columns}))
        finally:
            await engine.dispose()

    asyncio.run(run())


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_history_is_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    assert len(script.get_heads()) == 1, "one head: merge branches before release"
    assert len(script.get_bases()) == 1
    assert revisions()


@pytest.mark.asvs("REL-07")
def test_upgrade_check_downgrade_and_upgrade_again(empty_database: Database) -> None:
    url = empty_database.url
    assert tables(url) == set()

    migrate.upgrade(url)
    assert tables(url) == MODEL_TABLES | {"alembic_version"}
    command.check(alembic_config(url))  # raises AutogenerateDiffsDetected on drift between models and migrations
    assert migrate.current(url).startswith(revisions()[-1])

    migrate.downgrade(url, "base")
    assert tables(url) <= {"alembic_version"}
    assert migrate.current(url) == "(no migration applied)"

    migrate.upgrade(url)
    assert tables(url) == MODEL_TABLES | {"alembic_version"}
    command.check(alembic_config(url))


@pytest.mark.asvs("REL-07")
def test_each_migration_goes_up_and_down_on_seeded_data(empty_database: Database) -> None:
    url = empty_database.url
    steps = revisions()
    migrate.upgrade(url, steps[0])
    seed_first_revision(url)

    for revision in steps[1:]:
        migrate.upgrade(url, revision)
        assert migrate.current(url).split()[0] == revision
    assert tables(url) == MODEL_TABLES | {"alembic_version"}
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)
    assert legacy_hash_costs(url) == {"tenant": [11], "environment": [None]}, "0018 found the imported hash"
    _, head_indexes = _inspect(url)
    command.check(alembic_config(url))

    for expected in reversed(steps[:-1]):
        migrate.downgrade(url, "-1")
        assert migrate.current(url).split()[0] == expected
    migrate.downgrade(url, "-1")
    assert tables(url) <= {"alembic_version"}

    for revision in steps:
        migrate.upgrade(url, revision)
    assert _inspect(url) == (MODEL_TABLES | {"alembic_version"}, head_indexes)


async def _start_and_ask_readiness(database: Database) -> None:
    """Sump started on `database` as a server starts it (its lifespan runs), and asked whether it is ready."""
    app = create_app(make_settings(database))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
                ready = await http.get("/health/ready")
                assert ready.status_code == 200, ready.text
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()


@pytest.mark.asvs("PWD-12")
def test_a_fresh_database_holds_no_account_after_migrations_and_a_start(empty_database: Database) -> None:
    """No default or shared account: migrations seed no row, and a start creates none. The first owner comes
    only from creating a tenant (or `sump import`)."""
    url = empty_database.url
    migrate.upgrade(url)
    assert sorted(name for name in MODEL_TABLES if name.endswith("_account")) == [
        "environment_account",
        "tenant_account",
    ]
    assert {name: count(url, name) for name in sorted(MODEL_TABLES)} == dict.fromkeys(sorted(MODEL_TABLES), 0)

    asyncio.run(_start_and_ask_readiness(empty_database))
    assert count(url, "tenant_account") == 0
    assert count(url, "environment_account") == 0
    assert count(url, "tenant") == 0


def _sump(tmp_path: Path, *args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(SUMP_ENV="test", SUMP_SECRET_KEY=SECRET, SUMP_DATABASE_URL=database_url)
    done = subprocess.run(  # noqa: S603
        [str(SUMP), "db", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.asvs("REL-07")
def test_db_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    head = revisions()[-1]

    assert "head" in _sump(tmp_path, "upgrade", database_url=url).stdout
    assert _sump(tmp_path, "current", database_url=url).stdout.strip() == f"{head} (head)"
    assert tables(url) == MODEL_TABLES | {"alembic_version"}

    assert "base" in _sump(tmp_path, "downgrade", "base", database_url=url).stdout
    assert _sump(tmp_path, "current", database_url=url).stdout.strip() == "(no migration applied)"
    assert tables(url) <= {"alembic_version"}

    _sump(tmp_path, "upgrade", head, database_url=url)
    assert migrate.current(url) == f"{head} (head)"
    _sump(tmp_path, "downgrade", database_url=url)  # one step back by default
    previous = revisions()[-2] if len(revisions()) > 1 else "(no migration applied)"
    assert migrate.current(url) == previous


def test_db_upgrade_with_bad_configuration_fails_cleanly(tmp_path: Path) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(SUMP_DATABASE_URL="mysql://root@localhost/sump")
    done = subprocess.run(  # noqa: S603
        [str(SUMP), "db", "upgrade"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "SUMP_DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_readiness_reads_the_same_revisions_as_alembic() -> None:
    """Readiness reads the shipped revisions from the scripts' text, without loading Alembic: the same heads and
    the same set as Alembic's own reading."""
    from sump.health.routes import _revisions

    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    assert _revisions() == (frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions()))
