"""SQL for sessions. Lookups go by the globally unique token digest; the session check in a tenant or an
environment binds the account to it with `scope.tenant` / `scope.environment`; everything else goes by a
session's or an account's own id (an account belongs to exactly one tenant), or purges across tenants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, Uuid, and_, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from sump.db import direct
from sump.db.inserts import insert_now
from sump.db.scope import Scope, environment, tenant
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.factors import FactorChallenge
from sump.db.tables.sessions import AccountType, Session
from sump.db.tables.tenant_accounts import TenantAccount

Account = TenantAccount | EnvironmentAccount


@dataclass(frozen=True)
class Lifetimes:
    """What a live session is at `now`: not past its `expires_at`, used after `idle_since`, and made after
    `born_after` (the absolute lifetime ago, as configured now)."""

    now: datetime
    idle_since: datetime
    born_after: datetime

    def parameters(self) -> dict[str, datetime]:
        return {"now": self.now, "idle_since": self.idle_since, "born_after": self.born_after}


async def add(db: AsyncSession, session: Session) -> Session:
    await insert_now(db, session)  # the row carries its tenant_id and environment_id
    return session


# The session of the token digest, neither expired nor idle. Not scoped: the digest is globally unique and
# names its session, whose account names its tenant and environment. The statements below are built once: a
# statement's cache key is computed on first use and remembered, not on every check.
_LIVE_BY_DIGEST = (
    Session.token_hash == bindparam("digest"),
    Session.expires_at > bindparam("now"),
    Session.last_active_at > bindparam("idle_since"),
    Session.created_at > bindparam("born_after"),
)
_LIVE = (
    select(Session, TenantAccount, EnvironmentAccount)
    .outerjoin(TenantAccount, TenantAccount.id == Session.tenant_account_id)
    .outerjoin(EnvironmentAccount, EnvironmentAccount.id == Session.environment_account_id)
    .where(*_LIVE_BY_DIGEST, func.coalesce(TenantAccount.disabled, EnvironmentAccount.disabled).is_(False))
)


# The same, with the environment of the session's tenant that a request's path names (none when the tenant has
# no such environment): every `/environments/{environmentId}/…` request reads both, in one round trip.
_LIVE_WITH_ENVIRONMENT = _LIVE.add_columns(Environment).outerjoin(
    Environment,
    and_(Environment.id == bindparam("environment_id", type_=Uuid()), Environment.tenant_id == Session.tenant_id),
)


async def find_live(
    db: AsyncSession,
    digest: bytes,
    live: Lifetimes,
    environment_id: uuid.UUID | None = None,
) -> tuple[Session, Account, Environment | None] | None:
    """One statement: the live session of this digest with its enabled account (of either family), found by
    the unique index on the digest and the accounts' primary keys; with `environment_id`, also that environment
    if the session's tenant has it (else, and without it, None)."""
    parameters = {"digest": digest, **live.parameters(), "environment_id": environment_id}
    row = (await db.execute(_LIVE if environment_id is None else _LIVE_WITH_ENVIRONMENT, parameters)).first()
    if row is None:
        return None
    account = row[1] or row[2]
    return (row[0], account, None if environment_id is None else row[3]) if account is not None else None


def _live_in_context(
    account: type[Account], link: InstrumentedAttribute[Any], context: Scope
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
            Session.amr,
            Session.elevated_until,
        )
        .join(account, account.id == link)
        .where(
            *_LIVE_BY_DIGEST,
            context.of(account),
            account.disabled.is_(False),
        )
    )


def _context_id() -> BindParameter[uuid.UUID]:
    return bindparam("context_id", type_=Uuid())  # a foreign key's type is known only later


_LIVE_IN = {
    AccountType.TENANT_ACCOUNT: _live_in_context(TenantAccount, Session.tenant_account_id, tenant(_context_id())),
    AccountType.ENVIRONMENT_ACCOUNT: _live_in_context(
        EnvironmentAccount, Session.environment_account_id, environment(_context_id())
    ),
}
# Not scoped: by the primary key of the session just found through its tenant's or environment's scope.
_TOUCH = update(Session).where(Session.id == bindparam("session_id")).values(last_active_at=bindparam("now"))


async def find_live_in(
    conn: AsyncConnection,
    account_type: AccountType,
    context_id: uuid.UUID,
    digest: bytes,
    live: Lifetimes,
) -> Any | None:
    """One statement: the session columns of this digest when the session is live and its enabled account
    is of `account_type` in the tenant or environment `context_id`, read by name (the account type as its text);
    no ORM objects are built. The session check is the service's hottest read: it runs as the driver's own
    prepared statement (`db.direct`)."""
    parameters = {"digest": digest, **live.parameters(), "context_id": context_id}
    row = await direct.first_row(conn, _LIVE_IN[account_type], parameters)
    return None if row is None else row._mapping


async def touch(conn: AsyncConnection, session_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(_TOUCH, {"session_id": session_id, "now": now})


async def is_live(db: AsyncSession, session_id: uuid.UUID, live: Lifetimes) -> bool:
    # Not scoped: by the session's own id, read from a token that was verified for its environment.
    return await live_amr(db, session_id, live) is not None


# Read by every refresh and every request with an access token: built once (bound parameters).
_LIVE_AMR = select(Session.amr, Session.last_active_at).where(
    Session.id == bindparam("session_id"),
    Session.expires_at > bindparam("now"),
    Session.last_active_at > bindparam("idle_since"),
    Session.created_at > bindparam("born_after"),
)


async def live_amr(
    db: AsyncSession, session_id: uuid.UUID, live: Lifetimes
) -> tuple[list[str] | None, datetime] | None:
    """The live session's `amr` and when it was last active, or None."""
    # Not scoped: by the session's own id, read from a refresh token found through its environment.
    row = (await db.execute(_LIVE_AMR, {"session_id": session_id, **live.parameters()})).first()
    return (row[0], row[1]) if row is not None else None


async def touch_with(db: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    """`touch`, with the request's transaction (written with its commit)."""
    await db.execute(_TOUCH.execution_options(synchronize_session=False), {"session_id": session_id, "now": now})


async def list_live(
    db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, live: Lifetimes
) -> list[Session]:
    # Not scoped: by the account's own id; an account belongs to exactly one tenant.
    result = await db.scalars(
        select(Session)
        .where(
            Session.account_type == account_type,
            Session.account_id == account_id,
            Session.expires_at > live.now,
            Session.last_active_at > live.idle_since,
            Session.created_at > live.born_after,
        )
        .order_by(Session.last_active_at.desc(), Session.id.desc())
    )
    return list(result)


async def delete_one(db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    # Not scoped: by the account's own id, which belongs to exactly one tenant; another's session is not found.
    result = await db.execute(
        delete(Session).where(
            Session.id == session_id, Session.account_type == account_type, Session.account_id == account_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_by_digest(db: AsyncSession, digest: bytes) -> None:
    # Not scoped: the digest is globally unique and names its session (sign-out by the token itself).
    await db.execute(delete(Session).where(Session.token_hash == digest))


async def delete_for_account(
    db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> int:
    # Not scoped: by the account's own id; an account belongs to exactly one tenant.
    statement = delete(Session).where(Session.account_type == account_type, Session.account_id == account_id)
    if keep is not None:
        statement = statement.where(Session.id != keep)
    result = await db.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_challenges_for_account(db: AsyncSession, account_type: AccountType, account_id: uuid.UUID) -> None:
    # Not scoped: by the account's own id; an account belongs to exactly one tenant.
    await db.execute(
        delete(FactorChallenge).where(
            FactorChallenge.account_type == account_type, FactorChallenge.account_id == account_id
        )
    )


async def delete_expired(db: AsyncSession, live: Lifetimes) -> int:
    # Not scoped: the purge of expired and idle sessions runs across all tenants.
    result = await db.execute(
        delete(Session).where(
            (Session.expires_at <= live.now)
            | (Session.last_active_at <= live.idle_since)
            | (Session.created_at <= live.born_after)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
