"""The migration that gives end users their metadata: existing end users get `{}`, and it goes down again with
their rows intact. Alembic's env runs its own event loop (asyncio.run), so these tests are synchronous."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Boolean, String, Uuid, inspect, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from sump.db import migrate
from sump.db.base import JSONType, UTCDateTime, utcnow, uuid7
from sump.db.engine import make_engine
from tests.support import Database

BEFORE = "0005"
ACCOUNT = "environment_account"


def _table(table: str, **types: Any) -> Any:
    return sa_table(table, *(sa_column(column, kind) for column, kind in types.items()))


def seed_end_user(url: str) -> Any:
    """A tenant, an environment and an end user as revision 0005 knew them; returns the end user's id."""
    tenant, environment, account, now = uuid7(), uuid7(), uuid7(), utcnow()
    stamps = {"created_at": now, "updated_at": now}
    times = {"created_at": UTCDateTime(), "updated_at": UTCDateTime()}
    rows = [
        (
            _table("tenant", id=Uuid(), name=String(), custom_properties=JSONType, **times),
            {"id": tenant, "name": "Seed", "custom_properties": {}, **stamps},
        ),
        (
            _table("environment", id=Uuid(), tenant_id=Uuid(), name=String(), custom_properties=JSONType, **times),
            {"id": environment, "tenant_id": tenant, "name": "default", "custom_properties": {}, **stamps},
        ),
        (
            _table(
                ACCOUNT,
                id=Uuid(),
                tenant_id=Uuid(),
                environment_id=Uuid(),
                email=String(),
                email_verified=Boolean(),
                phone_verified=Boolean(),
                username=String(),
                name=String(),
                disabled=Boolean(),
                custom_properties=JSONType,
                **times,
            ),
            {
                "id": account,
                "tenant_id": tenant,
                "environment_id": environment,
                "email": "seed@example.com",
                "email_verified": False,
                "phone_verified": False,
                "username": "seed",
                "name": "Seed User",
                "disabled": False,
                "custom_properties": {"isAdmin": True},
                **stamps,
            },
        ),
    ]

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                for table, values in rows:
                    await connection.execute(table.insert().values(values))
        finally:
            await engine.dispose()

    asyncio.run(run())
    return account


def end_users(url: str) -> tuple[set[str], list[dict[str, Any]]]:
    """The end-user table's columns, and its rows' custom properties (with metadata, when there is the column)."""

    async def run() -> tuple[set[str], list[dict[str, Any]]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                columns = {
                    str(column["name"])
                    for column in await connection.run_sync(lambda sync: inspect(sync).get_columns(ACCOUNT))
                }
                read = {"id": Uuid(), "custom_properties": JSONType}
                if "metadata" in columns:
                    read["metadata"] = JSONType
                result = await connection.execute(select(_table(ACCOUNT, **read)))
                return columns, [dict(row._mapping) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.asvs("REL-07")
def test_existing_end_users_get_empty_metadata_and_keep_their_rows_down_again(empty_database: Database) -> None:
    url = empty_database.url
    migrate.upgrade(url, BEFORE)
    account = seed_end_user(url)

    migrate.upgrade(url)
    columns, rows = end_users(url)
    assert "metadata" in columns
    assert rows == [{"id": account, "custom_properties": {"isAdmin": True}, "metadata": {}}]

    migrate.downgrade(url, BEFORE)
    columns, rows = end_users(url)
    assert "metadata" not in columns
    assert rows == [{"id": account, "custom_properties": {"isAdmin": True}}]
