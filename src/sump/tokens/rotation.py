"""The `sump` command's work on signing keys: `sump keys rotate` (one environment's, or every environment's),
and the check `sump serve` makes before it serves, that its secret opens them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import sump.db.tables  # noqa: F401 (every table, so foreign keys resolve)
from sump.config import Settings
from sump.db.engine import make_engine, make_sessionmaker
from sump.db.tables.environments import Environment
from sump.db.tables.tokens import KeyStatus, SigningKey
from sump.tokens import keys, repository, service


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


async def secret_opens_keys(settings: Settings) -> bool:
    """Whether SUMP_SECRET_KEY opens the signing keys, tried on the newest one (one secret seals them all). True
    when there is no key yet, and when the database cannot be read: readiness reports that, not this."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            newest = await repository.newest_key(db)
    except Exception:  # not reachable, or not migrated yet
        return True
    finally:
        await engine.dispose()
    return newest is None or keys.opens(settings.secret_key, newest.kid, newest.private_key)


async def oldest_active_key(db: AsyncSession) -> datetime | None:
    """When the longest-serving active signing key of any environment became active (for the metrics: keys
    rotate when next used after `SUMP_KEY_ROTATION_DAYS`, so an age far past it is of an environment unused)."""
    statement = select(func.min(SigningKey.activated_at)).where(SigningKey.status == KeyStatus.ACTIVE)
    oldest: datetime | None = await db.scalar(statement)
    return oldest
