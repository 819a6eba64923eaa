"""SQL for tenant accounts: every statement starts from its tenant's scope (`sump.db.scope`)."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.scope import tenant
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.db.tables.tenants import Tenant


async def get(db: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID) -> TenantAccount | None:
    return await db.scalar(tenant(tenant_id).select(TenantAccount).where(TenantAccount.id == account_id))


async def page(db: AsyncSession, tenant_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> list[TenantAccount]:
    statement = tenant(tenant_id).select(TenantAccount)
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
    statement = tenant(tenant_id).select(TenantAccount)
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

    PostgreSQL locks the rows against any other change (`FOR NO KEY UPDATE`), not against a sign-in's new session
    that refers to one: a disabling that then waits for that sign-in's challenge must not be waited on by it.
    SQLite has no row locks, and its driver opens a transaction only at the first
    write, so a no-op write comes first: it takes the database write lock, and the read after it is current.
    """
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(update(Tenant).where(Tenant.id == tenant_id).values(name=Tenant.name))  # the tenant row
    statement = (
        tenant(tenant_id)
        .select(TenantAccount.id)
        .where(TenantAccount.role == TenantRole.OWNER, TenantAccount.disabled.is_(False))
        .with_for_update(key_share=True)
    )
    return list(await db.scalars(statement))


async def count_enabled_owners(db: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many enabled owners the tenant has, without locking (for showing what is allowed)."""
    statement = (
        tenant(tenant_id)
        .count(TenantAccount)
        .where(TenantAccount.role == TenantRole.OWNER, TenantAccount.disabled.is_(False))
    )
    return int(await db.scalar(statement) or 0)


async def count(db: AsyncSession, tenant_id: uuid.UUID) -> int:
    statement = tenant(tenant_id).count(TenantAccount)
    return int(await db.scalar(statement) or 0)


async def add(db: AsyncSession, account: TenantAccount) -> TenantAccount:  # the row carries its tenant
    db.add(account)
    await db.flush()
    return account


async def remove(db: AsyncSession, account: TenantAccount) -> None:  # a row loaded through a scope
    await db.delete(account)
    await db.flush()


async def account_names(db: AsyncSession, tenant_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    statement = tenant(tenant_id).select(TenantAccount.id, TenantAccount.name).where(TenantAccount.id.in_(ids))
    return {row.id: row.name for row in await db.execute(statement)}
