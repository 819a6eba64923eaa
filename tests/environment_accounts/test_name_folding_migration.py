"""Migration 0016 gives existing end users and organizations the folded key of their name (NFKC, then
case-folded, as the search folds its prefix), and goes down again with their rows intact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import String, Uuid, inspect, select

from sump.db import migrate
from sump.db.base import UTCDateTime, utcnow, uuid7
from sump.db.engine import make_engine
from tests.environment_accounts.test_metadata_migration import _table, seed_end_user
from tests.support import Database

BEFORE = "0015"
NAMES = {"environment_account": "Straße Weg", "organization": "E\u0301lodie SARL"}
FOLDED = {"environment_account": "strasse weg", "organization": "élodie sarl"}


def name_rows(url: str, account: Any) -> None:
    """The seeded end user renamed, and an organization of its environment, as 0015 knew them."""

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                accounts = _table(
                    "environment_account", id=Uuid(), tenant_id=Uuid(), environment_id=Uuid(), name=String()
                )
                row = (await connection.execute(select(accounts).where(accounts.c.id == account))).one()
                await connection.execute(
                    accounts.update().where(accounts.c.id == account).values(name=NAMES["environment_account"])
                )
                organization = _table(
                    "organization",
                    id=Uuid(),
                    tenant_id=Uuid(),
                    environment_id=Uuid(),
                    name=String(),
                    created_at=UTCDateTime(),
                    updated_at=UTCDateTime(),
                )
                now = utcnow()
                await connection.execute(
                    organization.insert().values(
                        id=uuid7(),
                        tenant_id=row.tenant_id,
                        environment_id=row.environment_id,
                        name=NAMES["organization"],
                        created_at=now,
                        updated_at=now,
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def names(url: str) -> dict[str, list[dict[str, Any]]]:
    """Each table's names, with their folded key when there is the column."""

    async def run() -> dict[str, list[dict[str, Any]]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                columns = await connection.run_sync(
                    lambda sync: {
                        table: {column["name"] for column in inspect(sync).get_columns(table)} for table in NAMES
                    }
                )
                found: dict[str, list[dict[str, Any]]] = {}
                for table in NAMES:
                    read = {"name": String()}
                    if "name_folded" in columns[table]:
                        read["name_folded"] = String()
                    found[table] = [
                        dict(row._mapping) for row in await connection.execute(select(_table(table, **read)))
                    ]
                return found
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.asvs("REL-07")
def test_0016_folds_the_names_of_existing_rows_and_goes_down_again(empty_database: Database) -> None:
    url = empty_database.url
    migrate.upgrade(url, "0005")
    account = seed_end_user(url)
    migrate.upgrade(url, BEFORE)
    name_rows(url, account)

    migrate.upgrade(url, "0016")
    assert names(url) == {table: [{"name": NAMES[table], "name_folded": FOLDED[table]}] for table in NAMES}

    migrate.downgrade(url, BEFORE)
    assert names(url) == {table: [{"name": NAMES[table]}] for table in NAMES}
    migrate.upgrade(url)
    assert names(url) == {table: [{"name": NAMES[table], "name_folded": FOLDED[table]}] for table in NAMES}
