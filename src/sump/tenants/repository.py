"""SQL for tenants."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ScalarSelect

from sump.environment_accounts.models import EnvironmentAccount
from sump.environments.models import Environment
from sump.tenant_accounts.models import TenantAccount
from sump.tenants.models import Tenant


async def get(db: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await db.scalar(select(Tenant).where(Tenant.id == tenant_id))


async def environments(db: AsyncSession, tenant_id: uuid.UUID, limit: int) -> list[Environment]:
    statement = select(Environment).where(Environment.tenant_id == tenant_id).order_by(Environment.id).limit(limit)
    return list(await db.scalars(statement))


async def counts(db: AsyncSession, tenant_id: uuid.UUID) -> tuple[int, int, int]:
    """Environments, tenant accounts and end users of the tenant, in one statement."""

    def count(model: type[Environment | TenantAccount | EnvironmentAccount]) -> ScalarSelect[int]:
        return select(func.count()).select_from(model).where(model.tenant_id == tenant_id).scalar_subquery()

    row = (await db.execute(select(count(Environment), count(TenantAccount), count(EnvironmentAccount)))).one()
    return row[0], row[1], row[2]


async def account_names(db: AsyncSession, tenant_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    statement = select(TenantAccount.id, TenantAccount.name).where(
        TenantAccount.tenant_id == tenant_id, TenantAccount.id.in_(ids)
    )
    return {row.id: row.name for row in await db.execute(statement)}


async def add(db: AsyncSession, tenant: Tenant) -> Tenant:
    db.add(tenant)
    await db.flush()
    return tenant


async def remove(db: AsyncSession, tenant: Tenant) -> None:
    await db.delete(tenant)
    await db.flush()
