"""Issuing, resolving and revoking sessions of either account family.

A session is live while `expires_at` (absolute) is ahead, it was used within the idle window and its account
is enabled. The sliding `last_active_at` is written at most once a minute, so a busy session costs one read:
one SELECT joining the session with its account.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sump.access.actors import Account
from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType, Session
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.call import Client
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem
from sump.sessions import repository
from sump.sessions.schemas import SessionView

TOUCH_INTERVAL = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 256
STEP_UP_WINDOW = timedelta(minutes=5)
PASSWORD = ("pwd",)


@dataclass(frozen=True)
class Issued:
    session: Session
    token: str


def _live_since(settings: Settings) -> repository.Lifetimes:
    """A live session expires after now, was last used within the idle lifetime and was made within the
    absolute one as configured now: a session made under a longer SUMP_SESSION_ABSOLUTE_TTL ends by today's."""
    now = utcnow()
    return repository.Lifetimes(
        now,
        idle_since=now - timedelta(seconds=settings.session_idle_ttl),
        born_after=now - timedelta(seconds=settings.session_absolute_ttl),
    )


def account_type_of(account: Account) -> AccountType:
    return AccountType.TENANT_ACCOUNT if isinstance(account, TenantAccount) else AccountType.ENVIRONMENT_ACCOUNT


async def issue(
    db: AsyncSession, settings: Settings, account: Account, client: Client, amr: Sequence[str] = PASSWORD
) -> Issued:
    """A new session, signed in by the methods of `amr`; one signed in with a second factor starts elevated
    (see `require_step_up`)."""
    now = utcnow()
    token = new_token()
    end_user = account if isinstance(account, EnvironmentAccount) else None
    session = Session(
        token_hash=token_digest(token),
        tenant_id=account.tenant_id,
        environment_id=end_user.environment_id if end_user else None,
        account_type=account_type_of(account),
        account_id=account.id,
        tenant_account_id=None if end_user else account.id,
        environment_account_id=end_user.id if end_user else None,
        expires_at=now + timedelta(seconds=settings.session_absolute_ttl),
        last_active_at=now,
        created_at=now,
        ip_address=client.ip[:45],
        user_agent=client.user_agent,
        amr=list(amr),
        elevated_until=now + STEP_UP_WINDOW if "mfa" in amr else None,
    )
    return Issued(await repository.add(db, session), token)


async def resolve(db: AsyncSession, settings: Settings, token: str) -> tuple[Session, Account] | None:
    """The live session of this token with its enabled account, or None."""
    found = await resolve_with_environment(db, settings, token, None)
    return None if found is None else (found[0], found[1])


async def resolve_with_environment(
    db: AsyncSession, settings: Settings, token: str, environment_id: uuid.UUID | None
) -> tuple[Session, Account, Environment | None] | None:
    """`resolve`, and the environment `environment_id` if the session's tenant has it (one statement)."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    live = _live_since(settings)
    found = await repository.find_live(db, token_digest(token), live, environment_id)
    if found is not None and live.now - found[0].last_active_at >= TOUCH_INTERVAL:
        found[
            0
        ].last_active_at = live.now  # the sliding expiry, at most once a minute, written with the request's commit
    return found


async def current_view(
    conn: AsyncConnection, settings: Settings, token: str, account_type: AccountType, context_id: uuid.UUID
) -> bytes | None:
    """What `GET …/session` shows (the `SessionView` body): the live session of this token when its enabled
    account is of `account_type` in `context_id` (a tenant or an environment), else None. One SELECT of the
    session's columns joined with the account, and the sliding expiry's UPDATE at most once a minute."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    live = _live_since(settings)
    now = live.now
    row = await repository.find_live_in(conn, account_type, context_id, token_digest(token), live)
    if row is None:
        return None
    last_active_at = row["last_active_at"]
    if now - last_active_at >= TOUCH_INTERVAL:
        await repository.touch(conn, row["id"], now)
        last_active_at = now
    return SessionView.render(row, last_active_at=last_active_at)


async def is_live(db: AsyncSession, settings: Settings, session_id: uuid.UUID) -> bool:
    """Whether the session behind an access token (its `sid`) still stands: revocation reaches tokens too."""
    return await repository.is_live(db, session_id, _live_since(settings))


async def live_amr(
    db: AsyncSession, settings: Settings, session_id: uuid.UUID, *, active: bool = False
) -> tuple[bool, list[str] | None]:
    """Whether the session still stands, and how it was signed in (its `amr`, for tokens it issues). `active`:
    the use is the session's activity (a refresh: an application that only refreshes its tokens is in use), which
    slides its idle expiry as a request with the session's own token does, at most once a minute."""
    live = _live_since(settings)
    found = await repository.live_amr(db, session_id, live)
    if found is None:
        return False, None
    amr, last_active_at = found
    if active and live.now - last_active_at >= TOUCH_INTERVAL:
        await repository.touch_with(db, session_id, live.now)
    return True, amr


async def live_sessions(db: AsyncSession, settings: Settings, current: Session) -> list[Session]:
    return await repository.list_live(db, current.account_type, current.account_id, _live_since(settings))


async def revoke(db: AsyncSession, current: Session, session_id: uuid.UUID) -> bool:
    """Revokes one session of the same account; another account's session id is simply not found."""
    return await repository.delete_one(db, current.account_type, current.account_id, session_id)


async def revoke_of_account(
    db: AsyncSession, account_type: AccountType, account_id: uuid.UUID, session_id: uuid.UUID
) -> bool:
    """Revokes one session of the account, for a caller that holds none of its sessions (a replayed refresh
    token ends the session it was issued in)."""
    return await repository.delete_one(db, account_type, account_id, session_id)


async def revoke_token(db: AsyncSession, token: str) -> None:
    await repository.delete_by_digest(db, token_digest(token))


async def revoke_all(db: AsyncSession, account: Account, *, keep: uuid.UUID | None = None) -> int:
    """Ends every session of the account but `keep`, and every sign-in of it in progress (a challenge between
    its steps): whatever ends the sessions (disabling the account, a new password, signing out everywhere) also
    ends the sign-ins begun before it. The number of sessions ended."""
    await end_sign_ins(db, account)
    return await repository.delete_for_account(db, account_type_of(account), account.id, keep=keep)


async def end_sign_ins(db: AsyncSession, account: Account) -> None:
    """Ends every sign-in of the account in progress: its challenges between steps."""
    await repository.delete_challenges_for_account(db, account_type_of(account), account.id)


async def purge_expired(db: AsyncSession, settings: Settings) -> int:
    return await repository.delete_expired(db, _live_since(settings))


def step_up_required(detail: str = "a second factor used within the last 5 minutes: step up with one") -> Problem:
    return Problem(403, "step_up_required", f"This change needs {detail} first.")


def _elevated(session: Session) -> bool:
    return session.elevated_until is not None and session.elevated_until > utcnow()


def require_step_up(session: Session, account: Account) -> None:
    """Sensitive changes (email, password, factors, deleting an account, rotating keys) by an account that has
    a second factor need one used in this session within the last 5 minutes: 403 `step_up_required`."""
    if account.has_factors and not _elevated(session):
        raise step_up_required()


def require_recent_proof(session: Session, account: Account) -> None:
    """Changing an account's second factors, or deleting it. With a factor, step-up (`require_step_up`);
    without one, the session signed in, or its password entered again (`POST …/step-up`), within the last 5
    minutes: a stolen session must not enrol a factor of the thief's, which would lock the owner out past a
    password reset, nor erase the account (403 `step_up_required`)."""
    if account.has_factors:
        require_step_up(session, account)
    elif not _elevated(session) and session.created_at <= utcnow() - STEP_UP_WINDOW:
        raise step_up_required("your password entered within the last 5 minutes: step up with it")


def require_proof_to_delete(session: Session, actor: Account, account_id: uuid.UUID) -> None:
    """Deleting an account: one's own needs fresh proof even without a factor (`require_recent_proof`), for a
    session taken from its owner must not erase them; someone else's, a step-up when the actor has a factor."""
    if account_id == actor.id:
        require_recent_proof(session, actor)
    else:
        require_step_up(session, actor)


def elevate(session: Session) -> datetime:
    """The session proved its account again (a second factor, or the password of an account without one):
    sensitive changes are allowed for 5 minutes."""
    session.elevated_until = utcnow() + STEP_UP_WINDOW
    return session.elevated_until
