"""Migration 0008 keeps every row both ways: on SQLite its downgrade drops columns in place, since copying and
dropping `tenant` or an account table would cascade to the rows that refer to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sump.db import migrate
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
