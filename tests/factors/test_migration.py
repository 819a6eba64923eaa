"""Migrations 0008, 0012 and 0013 keep every row both ways: on SQLite they add and drop columns in place, since copying
and dropping `tenant`, `environment` or an account table would cascade to the rows that refer to them."""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import Any, cast

import pytest
from sqlalchemy import JSON, LargeBinary, Table, Uuid, inspect, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.types import TypeEngine

from sump.db import migrate
from sump.db.base import utcnow, uuid7
from sump.db.engine import make_engine
from sump.db.tables.factors import Factor
from tests.support import Database
from tests.test_migrations import _FIRST_TABLES, count, revisions, seed_first_revision


@pytest.mark.asvs("REL-07")
def test_rows_survive_0008_up_and_down(empty_database: Database) -> None:
    url = empty_database.url
    migrate.upgrade(url, revisions()[0])
    seed_first_revision(url)
    migrate.upgrade(url, "0008")
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)
    migrate.downgrade(url, "0007")
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)
    migrate.upgrade(url)
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)


def pool_values(url: str, name: str, kind: TypeEngine[Any]) -> dict[str, list[Any]]:
    """Each pool table's values of column `name` (no entry where the column is not there)."""

    async def run() -> dict[str, list[Any]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                tables = await connection.run_sync(
                    lambda sync: {table: inspect(sync).get_columns(table) for table in ("tenant", "environment")}
                )
                values: dict[str, list[Any]] = {}
                for table, columns in tables.items():
                    if any(column["name"] == name for column in columns):
                        found = await connection.execute(select(sa_table(table, sa_column(name, kind))))
                        values[table] = list(found.scalars())
                return values
        finally:
            await engine.dispose()

    return asyncio.run(run())


def decoy_seeds(url: str) -> dict[str, list[bytes]]:
    return {
        table: [bytes(seed) for seed in seeds] for table, seeds in pool_values(url, "decoy_seed", LargeBinary()).items()
    }


def at_0012(database: Database) -> str:
    """The database's URL, migrated to 0012 with the rows of the first revision's seed."""
    migrate.upgrade(database.url, "0011")
    seed_first_revision(database.url)
    migrate.upgrade(database.url, "0012")
    return database.url


@pytest.mark.asvs("REL-07")
def test_0012_gives_every_tenant_and_environment_a_random_decoy_seed_and_goes_down_again(
    empty_database: Database,
) -> None:
    url = at_0012(empty_database)
    seeds = decoy_seeds(url)
    assert [len(seed) for seed in seeds["tenant"] + seeds["environment"]] == [32, 32]
    assert seeds["tenant"] != seeds["environment"], "each row its own, not one default"
    migrate.downgrade(url, "0011")
    assert decoy_seeds(url) == {}
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)
    migrate.upgrade(url)
    again = decoy_seeds(url)
    assert again["tenant"] != seeds["tenant"], "drawn anew, not derived from anything the row holds"


def decoy_shapes(url: str) -> dict[str, list[Any]]:
    return pool_values(url, "decoy_shape", JSON())


def add_passkeys(url: str, shapes: list[tuple[int, list[str]]]) -> None:
    """Passkeys of the seeded tenant's owner, oldest first, with credential ids of these lengths and transports."""

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                owner = sa_table("tenant_account", sa_column("id", Uuid()), sa_column("tenant_id", Uuid()))
                account, tenant = (await connection.execute(select(owner))).one()
                factor = cast(Table, Factor.__table__)  # unchanged since 0008
                for length, transports in shapes:
                    now = utcnow()
                    credential = base64.urlsafe_b64encode(secrets.token_bytes(length)).rstrip(b"=").decode()
                    data = {"credentialId": credential, "publicKey": "", "signCount": 0, "transports": transports}
                    await connection.execute(
                        factor.insert().values(
                            id=uuid7(),
                            kind="webauthn",
                            data={**data, "synced": True},
                            confirmed_at=now,
                            created_at=now,
                            tenant_id=tenant,
                            account_type="tenant_account",
                            account_id=account,
                            tenant_account_id=account,
                        )
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.mark.asvs("REL-07")
def test_0013_shapes_the_decoys_of_pools_with_passkeys_like_most_of_them_and_goes_down_again(
    empty_database: Database,
) -> None:
    url = at_0012(empty_database)
    # Two of one shape (the transports as clients gave them), one newer of another, three newest of a rare one.
    add_passkeys(url, [(16, ["usb", "nfc", "usb"]), (16, ["nfc", "usb"]), (32, ["internal"])])
    add_passkeys(url, [(1000, ["smart-card"])] * 3)
    migrate.upgrade(url, "0013")
    assert decoy_shapes(url) == {"tenant": [{"idBytes": 16, "transports": ["nfc", "usb"]}], "environment": [None]}
    migrate.downgrade(url, "0012")
    assert decoy_shapes(url) == {}
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)
    assert count(url, "factor") == 6
