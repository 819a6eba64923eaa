"""Alembic environment: async engine, batch mode for SQLite, Sump's metadata for autogenerate."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from sump.db.engine import make_engine
from sump.db.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL: run migrations through `sump db …`")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, render_as_batch=True, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_migrate(url))


main()
