"""SQL for sessions. Lookups go by token digest; everything else is scoped by account."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Uuid, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from sump.environment_accounts.models import EnvironmentAccount
from sump.sessions.models import AccountType, Session
from sump.tenant_accounts.models import TenantAccount

Account = TenantAccount | EnvironmentAccount


async def add(db: AsyncSession, session: Session) -> Session:
    db.add(session)
    await db.flush()
    return session


# The session of the token digest, neither expired nor idle. The statements below are built once: a
# statement's cache key is computed on first use and remembered, not on every check.
_LIVE_BY_DIGEST = (
    Session.token_hash == bindparam("digest"),
    Session.expires_at > bindparam("now"),
    Session.last_active_at > bindparam("idle_since"),
)
_LIVE = (
    select(Session, TenantAccount, EnvironmentAccount)
    .outerjoin(TenantAccount, TenantAccount.id == Session.tenant_account_id)
    .outerjoin(EnvironmentAccount, EnvironmentAccount.id == Session.environment_account_id)
    .where(*_LIVE_BY_DIGEST, func.coalesce(TenantAccount.disabled, EnvironmentAccount.disabled).is_(False))
)


async def find_live(
    db: AsyncSession, digest: bytes, now: datetime, idle_since: datetime
) -> tuple[Session, Account] | None:
    """One statement: the live session of this digest with its enabled account (of either family), found by
    the unique index on the digest and the accounts' primary keys."""
    parameters = {"digest": digest, "now": now, "idle_since": idle_since}
    row = (await db.execute(_LIVE, parameters)).first()
    if row is None:
        return None
    account = row[1] or row[2]
    return (row[0], account) if account is not None else None


def _live_in_context(
    account: type[Account], link: InstrumentedAttribute[Any], context: InstrumentedAttribute[Any]
) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Session.id,
            Session.account_type,
            Session.account_id,
            Session.tenant_id,
            Session.environment_id,
            Session.expires_at,
            Session.last_active_at,
            Session.created_at,
            Session.ip_address,
            Session.user_agent,
        )
        .join(account, account.id == link)
        .where(
            *_LIVE_BY_DIGEST,
            context == bindparam("context_id", type_=Uuid()),  # a foreign key's type is known only later
            account.disabled.is_(False),
        )
    )


_LIVE_IN = {
    AccountType.TENANT_ACCOUNT: _live_in_context(TenantAccount, Session.tenant_account_id, TenantAccount.tenant_id),
    AccountType.ENVIRONMENT_ACCOUNT: _live_in_context(
        EnvironmentAccount, Session.environment_account_id, EnvironmentAccount.environment_id
    ),
}
_TOUCH = update(Session).where(Session.id == bindparam("session_id")).values(last_active_at=bindparam("now"))


async def find_live_in(
    conn: AsyncConnection,
    account_type: AccountType,
    context_id: uuid.UUID,
    digest: bytes,
    now: datetime,
    idle_since: datetime,
) -> Row[Any] | None:
    """One statement: the session columns of this digest when the session is live and its enabled account
    is of `account_type` in the tenant or environment `context_id`; no ORM objects are built."""
    parameters = {"digest": digest, "now": now, "idle_since": idle_since, "context_id": context_id}
    return (await conn.execute(_LIVE_IN[account_type], parameters)).first()


async def touch(conn: AsyncConnection, session_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(_TOUCH, {"session_id": session_id, "now": now})


async def is_live(db: AsyncSession, session_id: uuid.UUID, now: datetime, idle_since: datetime) -> bool:
    statement = select(Session.id).where(
        Session.id == session_id, Session.expires_at > now, Session.last_active_at > idle_since
    )
    return await db.scalar(statement) is not None


async def list_live(
    db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, now: datetime, idle_since: datetime
) -> list[Session]:
    result = await db.scalars(
        select(Session)
        .where(
            Session.account_type == account_type,
            Session.account_id == account_id,
            Session.expires_at > now,
            Session.last_active_at > idle_since,
        )
        .order_by(Session.last_active_at.desc(), Session.id.desc())
    )
    return list(result)


async def delete_one(db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    result = await db.execute(
        delete(Session).where(
            Session.id == session_id, Session.account_type == account_type, Session.account_id == account_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_by_digest(db: AsyncSession, digest: bytes) -> None:
    await db.execute(delete(Session).where(Session.token_hash == digest))


async def delete_for_account(
    db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> int:
    statement = delete(Session).where(Session.account_type == account_type, Session.account_id == account_id)
    if keep is not None:
        statement = statement.where(Session.id != keep)
    result = await db.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_expired(db: AsyncSession, now: datetime, idle_since: datetime) -> int:
    result = await db.execute(
        delete(Session).where((Session.expires_at <= now) | (Session.last_active_at <= idle_since))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
