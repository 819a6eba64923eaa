"""Issuing, resolving and revoking sessions.

A session is live while `expires_at` (absolute) is ahead and it was used within the idle window. The sliding
`last_active_at` is written at most once a minute, so a busy session costs one read per request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sump.config import Settings
from sump.db.base import utcnow
from sump.kit.crypto import new_token, token_digest
from sump.kit.deps import Client
from sump.sessions import repository
from sump.sessions.models import AccountType, Session
from sump.tenant_accounts.models import TenantAccount

TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Issued:
    session: Session
    token: str


async def issue_for_tenant_account(
    db: AsyncSession, settings: Settings, account: TenantAccount, client: Client
) -> Issued:
    now = utcnow()
    token = new_token()
    session = Session(
        token_hash=token_digest(token),
        tenant_id=account.tenant_id,
        account_type=AccountType.TENANT_ACCOUNT,
        account_id=account.id,
        tenant_account_id=account.id,
        expires_at=now + timedelta(seconds=settings.session_absolute_ttl),
        last_active_at=now,
        created_at=now,
        ip_address=client.ip[:45],
        user_agent=client.user_agent,
    )
    return Issued(await repository.add(db, session), token)


async def resolve_tenant_session(
    db: AsyncSession, settings: Settings, token: str
) -> tuple[Session, TenantAccount] | None:
    now = utcnow()
    found = await repository.find_tenant_session(
        db, token_digest(token), now, now - timedelta(seconds=settings.session_idle_ttl)
    )
    if found and now - found[0].last_active_at >= TOUCH_INTERVAL:
        found[0].last_active_at = now
        await repository.touch(db, found[0].id, now)
    return found


async def live_sessions(db: AsyncSession, settings: Settings, current: Session) -> list[Session]:
    now = utcnow()
    idle_since = now - timedelta(seconds=settings.session_idle_ttl)
    return await repository.list_live(db, current.account_type, current.account_id, now, idle_since)


async def revoke(db: AsyncSession, current: Session, session_id: uuid.UUID) -> bool:
    """Revokes one session of the same account; another account's session id is simply not found."""
    return await repository.delete_one(db, current.account_type, current.account_id, session_id)


async def revoke_token(db: AsyncSession, token: str) -> None:
    await repository.delete_by_digest(db, token_digest(token))


async def revoke_all(
    db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> int:
    return await repository.delete_for_account(db, account_type, account_id, keep=keep)


async def purge_expired(db: AsyncSession, settings: Settings) -> int:
    now = utcnow()
    return await repository.delete_expired(db, now, now - timedelta(seconds=settings.session_idle_ttl))
