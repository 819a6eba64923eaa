"""SQL for environments, always scoped by tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.environments.models import Environment


async def get(db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID) -> Environment | None:
    return await db.scalar(
        select(Environment).where(Environment.tenant_id == tenant_id, Environment.id == environment_id)
    )


async def get_by_id(db: AsyncSession, environment_id: uuid.UUID) -> Environment | None:
    """Only for routes whose path names the environment itself (end-user sign-in)."""
    return await db.scalar(select(Environment).where(Environment.id == environment_id))


async def page(db: AsyncSession, tenant_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> list[Environment]:
    statement = select(Environment).where(Environment.tenant_id == tenant_id)
    if after is not None:
        statement = statement.where(Environment.id > after)
    return list(await db.scalars(statement.order_by(Environment.id).limit(limit)))


async def name_taken(db: AsyncSession, tenant_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> bool:
    statement = select(Environment.id).where(Environment.tenant_id == tenant_id, Environment.name == name)
    if exclude is not None:
        statement = statement.where(Environment.id != exclude)
    return await db.scalar(statement.limit(1)) is not None


async def count(db: AsyncSession, tenant_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(Environment).where(Environment.tenant_id == tenant_id)
    return int(await db.scalar(statement) or 0)


async def add(db: AsyncSession, environment: Environment) -> Environment:
    db.add(environment)
    await db.flush()
    return environment


async def remove(db: AsyncSession, environment: Environment) -> None:
    await db.delete(environment)
    await db.flush()
