"""Migrations 0008 and 0012 keep every row both ways: on SQLite they add and drop columns in place, since copying
and dropping `tenant`, `environment` or an account table would cascade to the rows that refer to them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import LargeBinary, inspect, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from sump.db import migrate
from sump.db.engine import make_engine
from tests.support import BACKENDS, Database, create_database, drop_database
from tests.test_migrations import _FIRST_TABLES, count, revisions, seed_first_revision


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = create_database(request.param, tmp_path, migrated=False)
    yield database
    drop_database(database)


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


def decoy_seeds(url: str) -> dict[str, list[bytes]]:
    """Each table's decoy seeds (none where the column is not there)."""

    async def run() -> dict[str, list[bytes]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                seeds: dict[str, list[bytes]] = {}
                tables = await connection.run_sync(
                    lambda sync: {name: inspect(sync).get_columns(name) for name in ("tenant", "environment")}
                )
                for name, columns in tables.items():
                    if any(column["name"] == "decoy_seed" for column in columns):
                        table = sa_table(name, sa_column("decoy_seed", LargeBinary()))
                        seeds[name] = [bytes(seed) for seed in (await connection.execute(select(table))).scalars()]
                return seeds
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.asvs("REL-07")
def test_0012_gives_every_tenant_and_environment_a_random_decoy_seed_and_goes_down_again(
    empty_database: Database,
) -> None:
    url = empty_database.url
    migrate.upgrade(url, "0011")
    seed_first_revision(url)
    migrate.upgrade(url, "0012")
    seeds = decoy_seeds(url)
    assert [len(seed) for seed in seeds["tenant"] + seeds["environment"]] == [32, 32]
    assert seeds["tenant"] != seeds["environment"], "each row its own, not one default"
    migrate.downgrade(url, "0011")
    assert decoy_seeds(url) == {}
    assert {name: count(url, name) for name in _FIRST_TABLES} == dict.fromkeys(_FIRST_TABLES, 1)
    migrate.upgrade(url)
    again = decoy_seeds(url)
    assert again["tenant"] != seeds["tenant"], "drawn anew, not derived from anything the row holds"
