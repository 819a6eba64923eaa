"""SQL for tenant accounts, always scoped by tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.db.tables.tenants import Tenant


async def get(db: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID) -> TenantAccount | None:
    return await db.scalar(
        select(TenantAccount).where(TenantAccount.tenant_id == tenant_id, TenantAccount.id == account_id)
    )


async def page(db: AsyncSession, tenant_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> list[TenantAccount]:
    statement = select(TenantAccount).where(TenantAccount.tenant_id == tenant_id)
    if after is not None:
        statement = statement.where(TenantAccount.id > after)
    return list(await db.scalars(statement.order_by(TenantAccount.id).limit(limit)))


async def find(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    email: str | None = None,
    phone: str | None = None,
    username: str | None = None,
) -> TenantAccount | None:
    """The account matching every identifier given, inside this tenant."""
    statement = select(TenantAccount).where(TenantAccount.tenant_id == tenant_id)
    for column, value in (
        (TenantAccount.email, email),
        (TenantAccount.phone, phone),
        (TenantAccount.username, username),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return await db.scalar(statement.limit(1))


async def lock_enabled_owners(db: AsyncSession, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the tenant's enabled owners, locked until the transaction ends (serialises owner changes).

    PostgreSQL locks the rows. SQLite has no row locks, and its driver opens a transaction only at the first
    write, so a no-op write comes first: it takes the database write lock, and the read after it is current.
    """
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(update(Tenant).where(Tenant.id == tenant_id).values(name=Tenant.name))
    statement = (
        select(TenantAccount.id)
        .where(
            TenantAccount.tenant_id == tenant_id,
            TenantAccount.role == TenantRole.OWNER,
            TenantAccount.disabled.is_(False),
        )
        .with_for_update()
    )
    return list(await db.scalars(statement))


async def count_enabled_owners(db: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many enabled owners the tenant has, without locking (for showing what is allowed)."""
    statement = (
        select(func.count())
        .select_from(TenantAccount)
        .where(
            TenantAccount.tenant_id == tenant_id,
            TenantAccount.role == TenantRole.OWNER,
            TenantAccount.disabled.is_(False),
        )
    )
    return int(await db.scalar(statement) or 0)


async def count(db: AsyncSession, tenant_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(TenantAccount).where(TenantAccount.tenant_id == tenant_id)
    return int(await db.scalar(statement) or 0)


async def add(db: AsyncSession, account: TenantAccount) -> TenantAccount:
    db.add(account)
    await db.flush()
    return account


async def remove(db: AsyncSession, account: TenantAccount) -> None:
    await db.delete(account)
    await db.flush()


async def account_names(db: AsyncSession, tenant_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    statement = select(TenantAccount.id, TenantAccount.name).where(
        TenantAccount.tenant_id == tenant_id, TenantAccount.id.in_(ids)
    )
    return {row.id: row.name for row in await db.execute(statement)}
