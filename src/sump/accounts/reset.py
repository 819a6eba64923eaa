"""Forgotten passwords: asking for a reset link, the outbox step that mails it, and setting a new password
with it. The answer to a request is the same, at the same cost, whether or not the account exists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import links, repository, requests
from sump.accounts.links import invalid_token
from sump.accounts.passwords import lockout_subject, set_password
from sump.accounts.schemas import Identifier, ResetPassword
from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.outbox import OutboxKind
from sump.db.tables.reset_tokens import PasswordResetToken
from sump.kit import audit
from sump.kit.call import Call
from sump.kit.crypto import new_token, token_digest
from sump.kit.email.mailers import Email
from sump.kit.email.outbox import Preparer
from sump.kit.email.templates import render
from sump.kit.errors import Problem
from sump.kit.ratelimit import RateLimiter

RESET_TTL = timedelta(hours=1)
FORGOT_PER_IP = RESET_PER_IP = parse("10/minute")
FORGOT_PER_IDENTIFIER = FORGOT_PER_ACCOUNT = parse("3/15minutes")
FORGOT_ANSWER = "If an account exists with this identifier, a reset link has been sent."
RESET_ANSWER = "Password has been reset successfully. Please log in with your new password."


async def request_reset(call: Call, pool: Pool, body: Identifier) -> None:
    """Records who asked (at most 3 per identifier in 15 minutes); the outbox worker resolves it (see
    `reset_preparer`: at most 3 emails per account in 15 minutes), so the cost is the same whether or not the
    account exists."""
    await requests.ask(
        call,
        pool,
        body,
        OutboxKind.PASSWORD_RESET,
        name="forgot",
        per_ip=FORGOT_PER_IP,
        per_identifier=FORGOT_PER_IDENTIFIER,
        action="password.reset_requested",
    )


def reset_link(settings: Settings, pool: Pool, token: str) -> str:
    """Tenant accounts reset on the console's page; end users on their environment's hosted page, under its
    issuer (`{SUMP_PUBLIC_URL}/api/v1/environments/{environmentId}/hosted/reset-password`), so the application
    needs no page of its own."""
    if pool.environment_id:
        return f"{settings.public_url}/api/v1/environments/{pool.environment_id}/hosted/reset-password?token={token}"
    return links.page_link(settings, pool, "reset-password", token)


def reset_preparer(settings: Settings, limiter: RateLimiter) -> Preparer:
    """The outbox step that turns a reset request into a token and its email, or into nothing (no such
    account, or a disabled one)."""

    async def email_for(db: AsyncSession, pool: Pool, account: Account, now: datetime) -> Email | None:
        if account.disabled:
            return None
        token = new_token()
        is_end_user = isinstance(account, EnvironmentAccount)
        await repository.replace_reset_token(
            db,
            pool,
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

    return requests.account_preparer(email_for, limiter, FORGOT_PER_ACCOUNT, "forgot")


async def reset_password(
    call: Call, pool: Pool, body: ResetPassword, before_write: Callable[[Account], Awaitable[None]]
) -> Account:
    """Sets the new password with a single-use token; revokes every session; lifts the account's lockout.
    `before_write` runs once the token is used up and before the account's row is written: what ends ways in
    there ends them in a sign-in's order (`accounts.removal`)."""
    await call.limiter.hit(RESET_PER_IP, f"{requests.family(pool)}-reset", call.client.ip)
    try:
        async with call.hasher.slot():
            account = await _redeem(call, pool, body, before_write)
    except Problem as problem:
        audit.record_failure(
            call, "password.reset_failed", problem, tenant_id=pool.tenant_id, environment_id=pool.environment_id
        )
        raise
    await call.lockout.clear(lockout_subject(pool, account))
    who = audit.ref(account)
    await audit.record(
        call.db, "password.reset", tenant_id=pool.tenant_id, environment_id=pool.environment_id, actor=who, target=who
    )
    return account


async def _redeem(
    call: Call, pool: Pool, body: ResetPassword, before_write: Callable[[Account], Awaitable[None]]
) -> Account:
    now = utcnow()
    token = await repository.find_reset_token(call.db, pool, token_digest(body.token), now)
    account = await repository.get_account(call.db, pool, token.account_id) if token else None
    if token is None or account is None or account.disabled:
        raise invalid_token()
    if account.password_changed_at is not None and account.password_changed_at > token.created_at:
        raise invalid_token()
    pool.policy.check(body.new_password, email=account.email, username=account.username)
    new_hash = await call.hasher.hash(body.new_password)
    if not await repository.consume_reset_token(call.db, token.id, now):
        raise invalid_token()
    await before_write(account)
    await set_password(call, pool, account, new_hash, keep=None)
    return account
