"""SQL for tenants: the tenant row by its own id; every statement on a tenant's rows starts from
`scope.tenant`."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ScalarSelect

from sump.db.scope import tenant
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.tenant_accounts import TenantAccount
from sump.db.tables.tenants import Tenant


async def get(db: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    # Not scoped: the tenant row itself, by its own id.
    return await db.scalar(select(Tenant).where(Tenant.id == tenant_id))


async def environments(db: AsyncSession, tenant_id: uuid.UUID, limit: int) -> list[Environment]:
    statement = tenant(tenant_id).select(Environment).order_by(Environment.id).limit(limit)
    return list(await db.scalars(statement))


async def counts(db: AsyncSession, tenant_id: uuid.UUID) -> tuple[int, int, int]:
    """Environments, tenant accounts and end users of the tenant, in one statement."""

    scope = tenant(tenant_id)

    def count(model: type[Environment | TenantAccount | EnvironmentAccount]) -> ScalarSelect[int]:
        return scope.count(model).scalar_subquery()

    row = (await db.execute(select(count(Environment), count(TenantAccount), count(EnvironmentAccount)))).one()
    return row[0], row[1], row[2]


async def every_tenant(db: AsyncSession) -> list[tuple[Tenant, int, int, int]]:
    """Each tenant with the numbers of its environments, tenant accounts and end users, oldest first, in one
    statement. Not scoped: every tenant, for the operator."""

    def count(model: type[Environment | TenantAccount | EnvironmentAccount]) -> ScalarSelect[int]:
        return select(func.count()).select_from(model).where(model.tenant_id == Tenant.id).scalar_subquery()

    statement = select(Tenant, count(Environment), count(TenantAccount), count(EnvironmentAccount))
    return [(row[0], row[1], row[2], row[3]) for row in await db.execute(statement.order_by(Tenant.id))]


async def add(db: AsyncSession, tenant: Tenant) -> Tenant:
    db.add(tenant)  # an insert: a new tenant
    await db.flush()
    return tenant


async def remove(db: AsyncSession, tenant: Tenant) -> None:
    await db.delete(tenant)  # the tenant row itself, by its primary key
    await db.flush()
