"""SQL for both account families: accounts of a pool by identifier, password reset tokens, the single-use
links of `sump.accounts.links`, and the removal of an account's factors (`sump.accounts.removal`). Every
statement starts from the pool's scope (`Pool.scope`)."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Delete, Select, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.db import inserts
from sump.db.scope import Scope
from sump.db.tables.environments import Environment
from sump.db.tables.factors import Factor, RecoveryCode
from sump.db.tables.links import AccountToken, LinkPurpose
from sump.db.tables.reset_tokens import PasswordResetToken
from sump.db.tables.tenants import Tenant
from sump.kit.passwords import bcrypt_cost_sql


async def read_alone(db: AsyncSession) -> None:
    """The session's next statements, until it commits, stand alone (no BEGIN and COMMIT around them): for reads
    that open a request which has not touched the database yet. Writes after that commit begin a transaction
    as usual (the connection's isolation level is reset when it goes back to the pool)."""
    if not db.in_transaction():
        await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def find_account(
    db: AsyncSession,
    pool: Pool,
    *,
    email: str | None = None,
    phone: str | None = None,
    username: str | None = None,
) -> Account | None:
    """The pool's account matching every identifier given."""
    given = {
        name: value for name, value in (("email", email), ("phone", phone), ("username", username)) if value is not None
    }
    statement = _account_by(pool.model, pool.scope.column, frozenset(given))
    account: Account | None = await db.scalar(statement, {"scope_id": pool.scope_id, **given})
    return account


@functools.cache
def _account_by(model: type[Account], scope_column: str, identifiers: frozenset[str]) -> Select[tuple[Account]]:
    """The statement of `find_account` for one family, scope and set of identifiers, built once: its cache key
    is computed once, not at each sign-in."""
    statement = cast(Select[tuple[Account]], Scope(scope_column, bindparam("scope_id")).select(model))
    for name in sorted(identifiers):
        statement = statement.where(getattr(model, name) == bindparam(name))  # typed as its column
    return statement.limit(1)


async def taken_identifiers(
    db: AsyncSession, pool: Pool, values: dict[str, str | None], exclude: uuid.UUID | None = None
) -> set[str]:
    """Which of the given identifiers (email, phone, username) another account of the pool already holds."""
    model = pool.model
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        return set()
    statement = pool.select_accounts().where(or_(*(getattr(model, name) == value for name, value in given.items())))
    if exclude is not None:
        statement = statement.where(model.id != exclude)
    holders = list(await db.scalars(statement))
    return {name for name, value in given.items() if any(getattr(holder, name) == value for holder in holders)}


async def write_if_credential_as_checked(
    db: AsyncSession, pool: Pool, account: Account, changed_at: datetime | None, *, last: bool
) -> bool:
    """Writes the rows held in `db` (`sump.db.inserts`) only if the account's password was last set at
    `changed_at`, it has a second factor or none as `account` was read, and it is enabled, as committed now, and
    whether it was; the row is locked against changes (`FOR SHARE`) until they are written, and until the
    transaction ends if it goes on (see `send_held_if` for `last`)."""
    parameters = {
        "guard_scope": pool.scope_id,
        "guard_account": account.id,
        "guard_changed_at": changed_at,
        "guard_has_factors": account.has_factors,
    }
    statement = _credential_as_checked(pool.model, pool.scope.column)
    return await inserts.send_held_if(db, statement, parameters, last=last)


@functools.cache
def _credential_as_checked(model: type[Account], scope_column: str) -> Select[uuid.UUID]:
    """The account's row while its password, factors and state are as a sign-in checked them, built once per
    family."""
    statement = Scope(scope_column, bindparam("guard_scope")).select(model.id)
    return statement.where(
        model.id == bindparam("guard_account"),
        model.password_changed_at.is_not_distinct_from(bindparam("guard_changed_at")),
        model.has_factors == bindparam("guard_has_factors"),
        model.disabled.is_(False),
    ).with_for_update(read=True)


async def hold_if_password_set_at(db: AsyncSession, pool: Pool, account: Account, changed_at: datetime | None) -> bool:
    """Whether the account's password is still the one set at `changed_at`, its row then held for the change
    that follows until the transaction ends (`FOR NO KEY UPDATE`: no other change of the row, while a sign-in
    may still write a session that refers to it; on SQLite, the database itself, taken before the read: no
    change can commit between it and the caller's writes). The account is read afresh as held (a change
    committed while the password was checked, such as a confirmed email, is what the caller then sees), so
    nothing may be set on it before."""
    if db.is_modified(account):
        raise RuntimeError("an account is held as stored: a change set on it before would be lost")
    model = pool.model
    if db.get_bind().dialect.name != "postgresql":
        await inserts.take_sqlite(db, model)
    statement = pool.scope.select(model).where(
        model.id == account.id, model.password_changed_at.is_not_distinct_from(changed_at)
    )
    held = statement.with_for_update(key_share=True).execution_options(populate_existing=True)
    return await db.scalar(held) is account


async def forget_legacy_cost_if_none_left(db: AsyncSession, pool: Pool) -> None:
    """The pool's `legacy_hash_cost` is cleared once none of its accounts holds a bcrypt hash any more. Its row is
    held first, and the accounts are then read by a statement of their own, which sees what committed meanwhile:
    of two last hashes replaced at once, the second sees the first's, and an import holding the row is waited
    for, and its hashes seen."""
    model, row = pool.model, Environment if pool.environment_id else Tenant
    await db.execute(select(row.id).where(row.id == pool.scope_id).with_for_update(key_share=True))
    left = pool.select_accounts().with_only_columns(model.id).where(bcrypt_cost_sql(model.password_hash).is_not(None))
    gone = update(row).where(row.id == pool.scope_id, ~left.exists())
    await db.execute(
        gone.values(legacy_hash_cost=None, updated_at=row.updated_at).execution_options(synchronize_session=False)
    )


async def replace_hash_if_unchanged(
    db: AsyncSession, pool: Pool, account_id: uuid.UUID, changed_at: datetime | None, new_hash: str
) -> None:
    """The account's password hash becomes `new_hash` if its password was last set at `changed_at`."""
    model = pool.model
    await db.execute(
        pool.scope.update(model)
        .where(model.id == account_id, model.password_changed_at.is_not_distinct_from(changed_at))
        .values(password_hash=new_hash)
        .execution_options(synchronize_session=False)
    )


async def get_account(db: AsyncSession, pool: Pool, account_id: uuid.UUID) -> Account | None:
    account: Account | None = await db.scalar(pool.select_accounts().where(pool.model.id == account_id))
    return account


async def replace_reset_token(db: AsyncSession, pool: Pool, token: PasswordResetToken) -> None:
    """Stores a new token and deletes the account's earlier ones: one live token per account."""
    await delete_reset_tokens(db, pool, token.account_id)
    db.add(token)
    await db.flush()


async def delete_reset_tokens(db: AsyncSession, pool: Pool, account_id: uuid.UUID) -> None:
    """Deletes every reset token of the pool's account, used or not."""
    await db.execute(pool.scope.delete(PasswordResetToken).where(*pool.owns(PasswordResetToken, account_id)))


async def delete_factors(db: AsyncSession, pool: Pool, account_id: uuid.UUID) -> int:
    """The account's recovery codes and factors; the number of factors."""
    await db.execute(pool.scope.delete(RecoveryCode).where(*pool.owns(RecoveryCode, account_id)))
    result = await db.execute(pool.scope.delete(Factor).where(*pool.owns(Factor, account_id)))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def find_reset_token(db: AsyncSession, pool: Pool, digest: bytes, now: datetime) -> PasswordResetToken | None:
    return await db.scalar(
        pool.scope.select(PasswordResetToken).where(
            PasswordResetToken.token_hash == digest,
            PasswordResetToken.account_type == pool.account_type,  # a tenant's own, not its end users'
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
    )


async def consume_reset_token(db: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Marks the token used, atomically: of concurrent redemptions exactly one gets True. (By the id of a token
    found through its pool's scope.)"""
    result = await db.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.id == token_id,
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def replace_link(db: AsyncSession, pool: Pool, token: AccountToken) -> None:
    """Stores a new link and deletes the account's earlier ones of the same purpose: one live link per account
    and purpose, so a link sent before stops working. A cancellation is its address's way back: one live per
    address, so a second change does not end the link sent to the first address."""
    statement = _links_of(pool, token.account_id, token.purpose)
    if token.purpose is LinkPurpose.CANCEL_EMAIL_CHANGE:
        statement = statement.where(AccountToken.email == token.email)
    await db.execute(statement)
    db.add(token)
    await db.flush()


async def delete_links(
    db: AsyncSession, pool: Pool, account_id: uuid.UUID, *purposes: LinkPurpose, since: datetime | None = None
) -> None:
    """Deletes the account's links of these purposes, used or not (only those made at `since` or later)."""
    statement = _links_of(pool, account_id, *purposes)
    if since is not None:
        statement = statement.where(AccountToken.created_at >= since)
    await db.execute(statement)


def _links_of(pool: Pool, account_id: uuid.UUID, *purposes: LinkPurpose) -> Delete:
    return pool.scope.delete(AccountToken).where(
        *pool.owns(AccountToken, account_id), AccountToken.purpose.in_(purposes)
    )


async def find_link(
    db: AsyncSession, pool: Pool, digest: bytes, purposes: tuple[LinkPurpose, ...], now: datetime
) -> AccountToken | None:
    return await db.scalar(
        pool.scope.select(AccountToken).where(AccountToken.token_hash == digest, *_live(pool, purposes, now))
    )


async def live_link_to(
    db: AsyncSession, pool: Pool, account_id: uuid.UUID, purpose: LinkPurpose, email: str, now: datetime
) -> AccountToken | None:
    """The account's live link of `purpose` sent to `email`, if any."""
    mine = (AccountToken.account_id == account_id, AccountToken.email == email)
    return await db.scalar(pool.scope.select(AccountToken).where(*mine, *_live(pool, (purpose,), now)))


def _live(pool: Pool, purposes: tuple[LinkPurpose, ...], now: datetime) -> tuple[ColumnElement[bool], ...]:
    """A link of the pool's family (a tenant's own, not its end users'), of one of `purposes`, unused, unexpired."""
    return (
        AccountToken.account_type == pool.account_type,
        AccountToken.purpose.in_(purposes),
        AccountToken.used_at.is_(None),
        AccountToken.expires_at > now,
    )


async def consume_link(db: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Marks the link used, atomically: of concurrent redemptions exactly one gets True. (By the id of a link
    found through its pool's scope.)"""
    result = await db.execute(
        update(AccountToken)
        .where(AccountToken.id == token_id, AccountToken.used_at.is_(None), AccountToken.expires_at > now)
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_links(db: AsyncSession, now: datetime) -> int:
    # Not scoped: expired links are purged across all tenants.
    result = await db.execute(delete(AccountToken).where(AccountToken.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
