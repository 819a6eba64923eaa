"""`sump keys rotate`: rotate the signing keys of one environment, or of every environment."""

from __future__ import annotations

import uuid

from sqlalchemy import select

import sump.db.tables  # noqa: F401 (every table, so foreign keys resolve)
from sump.config import Settings
from sump.db.engine import make_engine, make_sessionmaker
from sump.db.tables.environments import Environment
from sump.tokens import service


async def rotate_keys(settings: Settings, environment_id: uuid.UUID | None) -> list[tuple[uuid.UUID, str]]:
    """(environment id, new active kid) for each environment rotated, each in its own transaction."""
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    rotated = []
    try:
        async with sessionmaker() as db:
            statement = select(Environment.id).order_by(Environment.id)
            if environment_id is not None:
                statement = statement.where(Environment.id == environment_id)
            ids = list(await db.scalars(statement))
        for one in ids:
            async with sessionmaker() as db, db.begin():
                environment = await db.get(Environment, one)
                if environment is not None:
                    rotated.append((one, (await service.rotate(db, settings, environment)).kid))
    finally:
        await engine.dispose()
    return rotated
