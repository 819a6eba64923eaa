"""`sump import original`: a real database of the original Sump (its schema, spec §A.2) copied into Sump.

The original database is always PostgreSQL, built here with the original's DDL and filled with two tenants whose
rows cover every rule of the import; Sump's database is the `database` fixture, on both backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.importer.helpers import SERVER_DSN, admin, empty_database
from tests.importer.original_data import Original, Seeder, seed
from tests.importer.original_ddl import ORIGINAL_DDL


@pytest.fixture
async def original() -> AsyncIterator[Original]:
    """A fresh original Sump database (new ids every time), dropped after the test."""
    name = await empty_database()
    try:
        built = Original(f"{SERVER_DSN}/{name}")
        connection = await asyncpg.connect(built.dsn)
        try:
            await connection.execute(ORIGINAL_DDL)
            await seed(Seeder(connection, built))
        finally:
            await connection.close()
        yield built
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
