"""SQL for tenant accounts, always scoped by tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.tenant_accounts.models import TenantAccount, TenantRole


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


async def taken_identifiers(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    email: str | None = None,
    phone: str | None = None,
    username: str | None = None,
    exclude: uuid.UUID | None = None,
) -> set[str]:
    """Which of the given identifiers another account of this tenant already holds."""
    pairs = [
        (name, column, value)
        for name, column, value in (
            ("email", TenantAccount.email, email),
            ("phone", TenantAccount.phone, phone),
            ("username", TenantAccount.username, username),
        )
        if value is not None
    ]
    if not pairs:
        return set()
    statement = select(TenantAccount.email, TenantAccount.phone, TenantAccount.username).where(
        TenantAccount.tenant_id == tenant_id, or_(*(column == value for _, column, value in pairs))
    )
    if exclude is not None:
        statement = statement.where(TenantAccount.id != exclude)
    rows = (await db.execute(statement)).all()
    held = (
        {("email", row.email) for row in rows}
        | {("phone", row.phone) for row in rows}
        | {("username", row.username) for row in rows}
    )
    return {name for name, _, value in pairs if (name, value) in held}


async def lock_enabled_owners(db: AsyncSession, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the tenant's enabled owners, locked until the transaction ends (serialises owner changes)."""
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
