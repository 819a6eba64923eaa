"""Sign-in, sign-up and passwords, the same for tenant accounts and end users (see `Pool`).

Every failed sign-in, whether the account is unknown, has no password, is disabled, is locked or the password
is wrong, costs one full hash verification and answers the same 401.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sump.auth import repository
from sump.auth.identity import enqueue_reset
from sump.auth.models import PasswordResetToken
from sump.auth.pools import Pool, load_pool
from sump.auth.schemas import ChangePassword, Identifier, Login, ResetPassword, Signup
from sump.config import Settings
from sump.db.base import utcnow
from sump.environment_accounts import service as end_users
from sump.environment_accounts.models import EnvironmentAccount
from sump.kit.crypto import new_token, token_digest
from sump.kit.deps import Client
from sump.kit.email.mailers import Email
from sump.kit.email.outbox import Preparer, enqueue_email
from sump.kit.email.templates import render
from sump.kit.errors import Problem, forbidden
from sump.kit.lockout import Lockout
from sump.kit.passwords import PasswordHasher
from sump.sessions import service as sessions
from sump.sessions.models import AccountType, Session
from sump.sessions.repository import Account

RESET_TTL = timedelta(hours=1)
FORGOT_ANSWER = "If an account exists with this identifier, a reset link has been sent."
RESET_ANSWER = "Password has been reset successfully. Please log in with your new password."


def invalid_credentials() -> Problem:
    return Problem(401, "invalid_credentials", "Invalid credentials.")


def lockout_key(pool: Pool, kind: str, value: str) -> str:
    return f"{pool.account_type.value}:{pool.scope_id}:{kind}:{value}"


async def login(
    db: AsyncSession,
    hasher: PasswordHasher,
    lockout: Lockout,
    settings: Settings,
    pool: Pool,
    body: Login,
    client: Client,
) -> tuple[Account, sessions.Issued]:
    kind, value = body.chosen()
    key = lockout_key(pool, kind, value)
    locked = await lockout.before_attempt(key)
    account = await repository.find_account(db, pool, **{kind: value})
    ok, upgraded = await hasher.verify(account.password_hash if account else None, body.password)
    if locked or account is None or not ok or account.disabled:
        if not locked:
            await lockout.failed(key)
        raise invalid_credentials()
    await lockout.clear(key)
    if upgraded:
        account.password_hash = upgraded
    return account, await sessions.issue(db, settings, account, client)


async def signup(
    db: AsyncSession, hasher: PasswordHasher, settings: Settings, pool: Pool, body: Signup, client: Client
) -> tuple[Account, sessions.Issued]:
    if not pool.signup_enabled or pool.environment_id is None:
        raise forbidden("signup_disabled", "Sign-up is turned off for this environment.")
    account = await end_users.new_account(db, hasher, pool, body)
    return account, await sessions.issue(db, settings, account, client)


async def request_reset(db: AsyncSession, pool: Pool, body: Identifier) -> None:
    """Records who asked; the outbox worker resolves it (see `reset_preparer`). Same cost either way."""
    await enqueue_reset(db, pool, *body.chosen())


def reset_link(settings: Settings, pool: Pool, token: str) -> str:
    """Tenant accounts reset on the console's page; end users on `/reset-password` of the public URL (the
    builder's application, or a proxy in front of Sump, serves it)."""
    if pool.environment_id:
        return f"{settings.public_url}/reset-password?environment={pool.scope_id}&token={token}"
    return f"{settings.public_url}/console/reset-password?tenant={pool.scope_id}&token={token}"


def reset_preparer(settings: Settings) -> Preparer:
    """The outbox step that turns a reset request into a token and its email, or into nothing."""

    async def prepare(db: AsyncSession, payload: dict[str, str], now: datetime) -> Email | None:
        try:
            pool = await load_pool(db, AccountType(payload["accountType"]), uuid.UUID(payload["contextId"]))
        except Problem:
            return None
        account = await repository.find_account(db, pool, **{payload["kind"]: payload["value"]})
        if account is None:
            return None
        token = new_token()
        is_end_user = isinstance(account, EnvironmentAccount)
        await repository.replace_reset_token(
            db,
            PasswordResetToken(
                token_hash=token_digest(token),
                account_type=pool.account_type,
                account_id=account.id,
                tenant_id=pool.tenant_id,
                environment_id=pool.environment_id,
                tenant_account_id=None if is_end_user else account.id,
                environment_account_id=account.id if is_end_user else None,
                expires_at=now + RESET_TTL,
                created_at=now,
            ),
        )
        link = reset_link(settings, pool, token)
        return render("password_reset", account.email, name=account.name, link=link, minutes=60)

    return prepare


async def reset_password(
    db: AsyncSession, hasher: PasswordHasher, lockout: Lockout, pool: Pool, body: ResetPassword
) -> Account:
    """Sets the new password with a single-use token; revokes every session; lifts sign-in locks."""
    now = utcnow()
    invalid = Problem(400, "invalid_token", "Invalid or expired token.")
    token = await repository.find_reset_token(db, pool, token_digest(body.token), now)
    account = await repository.get_account(db, pool, token.account_id) if token else None
    if token is None or account is None:
        raise invalid
    if account.password_changed_at is not None and account.password_changed_at > token.created_at:
        raise invalid
    pool.policy.check(body.new_password, email=account.email, username=account.username)
    new_hash = await hasher.hash(body.new_password)
    if not await repository.consume_reset_token(db, token.id, now):
        raise invalid
    await _set_password(db, account, new_hash, keep=None)
    for kind in ("email", "phone", "username"):
        value = getattr(account, kind)
        if value:
            await lockout.clear(lockout_key(pool, kind, value))
    return account


async def change_password(
    db: AsyncSession, hasher: PasswordHasher, pool: Pool, account: Account, current: Session, body: ChangePassword
) -> None:
    """Needs the current password; keeps this session and revokes the others."""
    ok, _ = await hasher.verify(account.password_hash, body.current_password)
    if not ok:
        raise Problem(
            403,
            "wrong_password",
            "The current password is not correct.",
            errors={"currentPassword": "The current password is not correct."},
        )
    pool.policy.check(body.new_password, email=account.email, username=account.username)
    await _set_password(db, account, await hasher.hash(body.new_password), keep=current.id)


async def _set_password(db: AsyncSession, account: Account, new_hash: str, keep: uuid.UUID | None) -> None:
    account.password_hash = new_hash
    account.password_changed_at = utcnow()
    await sessions.revoke_all(db, account, keep=keep)
    await enqueue_email(db, "password_changed", account.email, name=account.name)
    await db.flush()
