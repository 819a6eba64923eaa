"""SQL for environments: every statement on a tenant's environments starts from `scope.tenant`."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.scope import tenant
from sump.db.tables.environments import Environment

# Every request on `/environments/{environmentId}/…` reads its environment: the statement is built once (bound
# parameters), so neither it nor its cache key is made again at each request.
_IN_TENANT = tenant(bindparam("tenant_id")).select(Environment).where(Environment.id == bindparam("environment_id"))


async def get(db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID) -> Environment | None:
    return await db.scalar(_IN_TENANT, {"tenant_id": tenant_id, "environment_id": environment_id})


# Not scoped: the path's own environment id is the scope; its tenant is what this finds. Read by every end user's
# request (`/auth/environments/{environmentId}/…`): built once, as `_IN_TENANT`.
_BY_ID = select(Environment).where(Environment.id == bindparam("environment_id"))


async def get_by_id(db: AsyncSession, environment_id: uuid.UUID) -> Environment | None:
    """Only for routes whose path names the environment itself (end-user sign-in)."""
    return await db.scalar(_BY_ID, {"environment_id": environment_id})


async def page(db: AsyncSession, tenant_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> list[Environment]:
    statement = tenant(tenant_id).select(Environment)
    if after is not None:
        statement = statement.where(Environment.id > after)
    return list(await db.scalars(statement.order_by(Environment.id).limit(limit)))


async def name_taken(db: AsyncSession, tenant_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> bool:
    statement = tenant(tenant_id).select(Environment.id).where(Environment.name == name)
    if exclude is not None:
        statement = statement.where(Environment.id != exclude)
    return await db.scalar(statement.limit(1)) is not None


async def count(db: AsyncSession, tenant_id: uuid.UUID) -> int:
    return int(await db.scalar(tenant(tenant_id).count(Environment)) or 0)


async def add(db: AsyncSession, environment: Environment) -> Environment:
    db.add(environment)  # an insert: the row carries its tenant_id
    await db.flush()
    return environment


async def remove(db: AsyncSession, environment: Environment) -> None:
    await db.delete(environment)  # by primary key, of a row the caller loaded through its tenant's scope
    await db.flush()
