"""SQL for tenants."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.environments.models import Environment
from sump.tenants.models import Tenant


async def get(db: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await db.scalar(select(Tenant).where(Tenant.id == tenant_id))


async def environments(db: AsyncSession, tenant_id: uuid.UUID, limit: int) -> list[Environment]:
    statement = select(Environment).where(Environment.tenant_id == tenant_id).order_by(Environment.id).limit(limit)
    return list(await db.scalars(statement))


async def add(db: AsyncSession, tenant: Tenant) -> Tenant:
    db.add(tenant)
    await db.flush()
    return tenant


async def remove(db: AsyncSession, tenant: Tenant) -> None:
    await db.delete(tenant)
    await db.flush()
