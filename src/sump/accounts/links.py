"""Single-use links of one account (an email to verify, an email change to confirm or to cancel, a magic sign-in
link): made, sent by email and redeemed the same way for every purpose and both account families.

A link's token is 256 random bits shown once, in the email; the row keeps its SHA-256, the pool (tenant, or
environment for end users), the account, the purpose and an expiry. A new link of an account replaces its
earlier one of the same purpose (for the cancellation of an email change, the one sent to the same address).
Redeeming marks it used with a conditional UPDATE, so of concurrent redemptions exactly one wins; any other
token (unknown, used, expired, of another pool or purpose) answers the same 400 `invalid_token`. Tokens are
never logged nor audited."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import repository
from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.links import AccountToken, LinkPurpose
from sump.kit.crypto import new_token, token_digest
from sump.kit.errors import Problem

MAX_TOKEN_LENGTH = 256


def invalid_token() -> Problem:
    return Problem(400, "invalid_token", "Invalid or expired token.")


def page_link(settings: Settings, pool: Pool, page: str, token: str) -> str:
    """Where an emailed link leads: for end users `/{page}` of the public URL (the builder's application, or a
    proxy in front of Sump, serves it and posts the token to the API); for tenant accounts the console's page."""
    if pool.environment_id:
        return f"{settings.public_url}/{page}?environment={pool.scope_id}&token={token}"
    return f"{settings.public_url}/console/{page}?tenant={pool.scope_id}&token={token}"


async def issue(
    db: AsyncSession,
    pool: Pool,
    account: Account,
    purpose: LinkPurpose,
    ttl: timedelta,
    *,
    email: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new link of `account` for `purpose`, valid `ttl`; the account's earlier link of that purpose dies."""
    token, now = new_token(), now or utcnow()
    end_user = isinstance(account, EnvironmentAccount)
    await repository.replace_link(
        db,
        pool,
        AccountToken(
            token_hash=token_digest(token),
            purpose=purpose,
            email=email,
            expires_at=now + ttl,
            created_at=now,
            tenant_id=pool.tenant_id,
            environment_id=pool.environment_id,
            account_type=pool.account_type,
            account_id=account.id,
            tenant_account_id=None if end_user else account.id,
            environment_account_id=account.id if end_user else None,
        ),
    )
    return token


async def redeem(db: AsyncSession, pool: Pool, token: str, *purposes: LinkPurpose) -> tuple[AccountToken, Account]:
    """Uses up the pool's live link of this token (one of `purposes`) and answers it with its account: 400
    `invalid_token` for anything else, and for all but one of concurrent redemptions."""
    now = utcnow()
    found = None
    if len(token) <= MAX_TOKEN_LENGTH:
        found = await repository.find_link(db, pool, token_digest(token), purposes, now)
    account = await repository.get_account(db, pool, found.account_id) if found is not None else None
    if found is None or account is None or account.disabled:
        raise invalid_token()
    if not await repository.consume_link(db, found.id, now):
        raise invalid_token()
    return found, account


async def end_ways_in(db: AsyncSession, pool: Pool, account: Account) -> None:
    """Deletes the account's links that sign it in, set its password or move it to another address (magic
    links, password resets, the confirmation of an email change in progress): a new password, a new email or
    phone, and disabling the account end them. A change asked for with the password before a reset is whoever
    held that password's, and would hand the account to their address once the owner took it back; the others
    would be refused anyway (by their time, their address or the account's state). Deleted, none works again
    once the account is enabled."""
    await repository.delete_links(db, pool, account.id, LinkPurpose.MAGIC_LINK, LinkPurpose.CHANGE_EMAIL)
    await repository.delete_reset_tokens(db, pool, account.id)


async def revoke(
    db: AsyncSession, pool: Pool, account: Account, *purposes: LinkPurpose, since: datetime | None = None
) -> None:
    """Kills the account's live links of these purposes (only those made at `since` or later)."""
    await repository.delete_links(db, pool, account.id, *purposes, since=since)


async def end_the_way_back_to(db: AsyncSession, pool: Pool, account: Account, email: str) -> None:
    """The account's email is `email` again by a confirmed change: if that address holds a live cancel link, the
    changes since it are undone as the link would have undone them, and the cancel links they sent to the
    addresses left on the way end with it (one of them, a mistyped address, could take the account back)."""
    found = await repository.live_link_to(db, pool, account.id, LinkPurpose.CANCEL_EMAIL_CHANGE, email, utcnow())
    if found is not None:
        await revoke(db, pool, account, LinkPurpose.CANCEL_EMAIL_CHANGE, since=found.created_at)


async def purge_expired(db: AsyncSession) -> int:
    """Deletes expired links, used or not (of every tenant): what the hourly purge of sessions runs too."""
    return await repository.purge_links(db, utcnow())
