"""SQL for end users: every statement starts from its environment's scope (`sump.db.scope`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.scope import environment
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.environment_accounts.schemas import IDENTITY_FIELDS, Filters


async def get(db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID) -> EnvironmentAccount | None:
    return await db.scalar(
        environment(environment_id).select(EnvironmentAccount).where(EnvironmentAccount.id == account_id)
    )


async def by_identifier(
    db: AsyncSession, environment_id: uuid.UUID, kind: str, value: str
) -> EnvironmentAccount | None:
    """The end user whose `kind` (email or username) is `value`, normalised as stored."""
    column = EnvironmentAccount.email if kind == "email" else EnvironmentAccount.username
    return await db.scalar(environment(environment_id).select(EnvironmentAccount).where(column == value))


_ROW = EnvironmentAccount  # one page's columns: what `EndUserView` shows, read as plain rows (no ORM objects)
VIEW_COLUMNS = (
    *(getattr(_ROW, name) for name in IDENTITY_FIELDS),
    _ROW.environment_id,
    _ROW.custom_properties,
    _ROW.metadata_,
    _ROW.password_hash.is_not(None).label("has_password"),
)


async def page(
    db: AsyncSession, environment_id: uuid.UUID, filters: Filters, after: uuid.UUID | None, limit: int
) -> Sequence[Row[Any]]:
    """One page in creation order (keyset on the environment's `(environment_id, id)` index), as rows of
    `VIEW_COLUMNS`; `q` is a prefix of email, username or name (case-insensitive)."""
    statement = environment(environment_id).select(*VIEW_COLUMNS)
    if filters.q:
        prefix = filters.q.casefold()
        statement = statement.where(
            or_(
                EnvironmentAccount.email.startswith(prefix, autoescape=True),
                EnvironmentAccount.username.startswith(prefix, autoescape=True),
                func.lower(EnvironmentAccount.name).startswith(prefix, autoescape=True),
            )
        )
    if filters.disabled is not None:
        statement = statement.where(EnvironmentAccount.disabled.is_(filters.disabled))
    if filters.created_after is not None:
        statement = statement.where(EnvironmentAccount.created_at > filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(EnvironmentAccount.created_at < filters.created_before)
    if after is not None:
        statement = statement.where(EnvironmentAccount.id > after)
    return (await db.execute(statement.order_by(EnvironmentAccount.id).limit(limit))).all()


async def count(db: AsyncSession, environment_id: uuid.UUID) -> int:
    statement = environment(environment_id).count(EnvironmentAccount)
    return int(await db.scalar(statement) or 0)


async def add(db: AsyncSession, account: EnvironmentAccount) -> EnvironmentAccount:  # the row carries its scope
    db.add(account)
    await db.flush()
    return account


async def remove(db: AsyncSession, account: EnvironmentAccount) -> None:  # a row loaded through a scope
    await db.delete(account)
    await db.flush()
