"""Migrations 0008, 0012 and 0013 keep every row both ways: on SQLite they add and drop columns in place, since copying
and dropping `tenant`, `environment` or an account table would cascade to the rows that refer to them. 0014 gives
existing passkeys their credential id column, once per pool."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from typing import Any, cast

import pytest
from sqlalchemy import JSON, LargeBinary, MetaData, String, Table, Uuid, inspect, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.types import TypeEngine

from sump.db import migrate
from sump.db.base import JSONType, UTCDateTime, utcnow, uuid7
from sump.db.engine import make_engine
from sump.db.tables.environment_accounts import EnvironmentAccount
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


# The factor table's columns as 0008 made them, for rows written before 0014.
FACTOR_0008 = sa_table(
    "factor",
    *(
        sa_column(name, Uuid())
        for name in ("id", "tenant_id", "environment_id", "account_id", "tenant_account_id", "environment_account_id")
    ),
    sa_column("kind", String()),
    sa_column("data", JSONType),
    sa_column("account_type", String()),
    *(sa_column(name, UTCDateTime()) for name in ("confirmed_at", "created_at")),
)


def add_passkeys(url: str, shapes: list[tuple[int, list[str]]]) -> None:
    """Passkeys of the seeded tenant's owner, oldest first, with credential ids of these lengths and transports."""

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                owner = sa_table("tenant_account", sa_column("id", Uuid()), sa_column("tenant_id", Uuid()))
                account, tenant = (await connection.execute(select(owner))).one()
                factor = FACTOR_0008
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


def credential_ids(url: str) -> dict[uuid.UUID, str | None] | None:
    """Each factor's `credential_id` column (None where the column is not there)."""

    async def run() -> dict[uuid.UUID, str | None] | None:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                columns = await connection.run_sync(lambda sync: inspect(sync).get_columns("factor"))
                if not any(column["name"] == "credential_id" for column in columns):
                    return None
                factor = sa_table("factor", sa_column("id", Uuid()), sa_column("credential_id", String()))
                return {row.id: row.credential_id for row in await connection.execute(select(factor))}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def add_pool_factors(url: str, factors: list[tuple[str, str | None]]) -> list[uuid.UUID]:
    """Factors written at 0013, oldest first: ("tenant", id) a passkey of the seeded tenant's owner, ("environment",
    id) one of an end user of its environment (made here), a TOTP where the id is None. Their ids."""

    async def run() -> list[uuid.UUID]:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                owner = sa_table("tenant_account", sa_column("id", Uuid()), sa_column("tenant_id", Uuid()))
                member, tenant = (await connection.execute(select(owner))).one()
                environment = (
                    await connection.execute(select(sa_table("environment", sa_column("id", Uuid()))))
                ).scalar()
                end_user = uuid7()
                current = cast(Table, EnvironmentAccount.__table__)
                accounts = Table(  # as at 0013: without the name's search key (0016)
                    current.name,
                    MetaData(),
                    *(column._copy() for column in current.columns if column.key != "name_folded"),
                )
                await connection.execute(
                    accounts.insert().values(
                        id=end_user, tenant_id=tenant, environment_id=environment, email="end@example.com",
                        username="end", name="End User",
                    )
                )  # fmt: skip
                owners = {
                    "tenant": {"account_type": "tenant_account", "account_id": member, "tenant_account_id": member},
                    "environment": {
                        "environment_id": environment,
                        "account_type": "environment_account",
                        "account_id": end_user,
                        "environment_account_id": end_user,
                    },
                }
                ids = []
                for pool, credential_id in factors:
                    kind, data = ("webauthn", {"credentialId": credential_id}) if credential_id else ("totp", {})
                    ids.append(uuid7())
                    now = utcnow()
                    await connection.execute(
                        FACTOR_0008.insert().values(
                            id=ids[-1], kind=kind, data=data, confirmed_at=now, created_at=now, tenant_id=tenant,
                            **owners[pool],
                        )
                    )  # fmt: skip
                return ids
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.asvs("REL-07")
def test_0014_gives_each_passkey_its_credential_id_once_per_pool_and_goes_down_again(
    empty_database: Database,
) -> None:
    """The pool's oldest passkey of an id keeps it; a later copy in the same pool gets none (the unique index
    could not be built otherwise), nor does an id longer than WebAuthn's bound; another pool's copy keeps its."""
    url = at_0012(empty_database)
    migrate.upgrade(url, "0013")
    shared, own = (base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode() for _ in range(2))
    too_long = "A" * 1365
    rows = [("tenant", shared), ("tenant", own), ("tenant", shared), ("environment", shared), ("tenant", None)]
    ids = add_pool_factors(url, [*rows, ("tenant", too_long)])
    assert credential_ids(url) is None
    migrate.upgrade(url, "0014")
    expected = dict(zip(ids, [shared, own, None, shared, None, None], strict=True))
    assert credential_ids(url) == expected
    migrate.downgrade(url, "0013")
    assert credential_ids(url) is None
    assert count(url, "factor") == 6
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)
    migrate.upgrade(url)
    assert credential_ids(url) == expected
