"""SQL for factors, recovery codes and challenges. Every statement starts from the pool's scope (its tenant or
environment) and names the account type, so a tenant's rows and its end users' never meet; statements by a
row's own id follow a lookup through that scope."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.pools import Pool
from sump.db.tables.environments import Environment
from sump.db.tables.factors import ENVIRONMENT_PASSKEYS, TENANT_PASSKEYS, Factor, FactorChallenge, RecoveryCode
from sump.db.tables.tenants import Tenant


async def add(db: AsyncSession, row: Factor | FactorChallenge | RecoveryCode) -> None:
    db.add(row)  # an insert: the row carries its tenant, environment and account
    await db.flush()


async def factors(db: AsyncSession, pool: Pool, account_id: uuid.UUID, *, confirmed: bool = True) -> list[Factor]:
    statement = pool.scope.select(Factor).where(*pool.owns(Factor, account_id))
    if confirmed:
        statement = statement.where(Factor.confirmed_at.is_not(None))
    return list(await db.scalars(statement.order_by(Factor.id)))


def _pool_row(pool: Pool) -> type[Environment] | type[Tenant]:
    """The row that holds the pool's settings: its environment, or its tenant for tenant accounts."""
    return Environment if pool.environment_id else Tenant


async def decoy(db: AsyncSession, pool: Pool) -> tuple[bytes, dict[str, Any] | None]:
    """The pool's own key of its passkey decoys, and the shape they take (`DecoySeeded`)."""
    row = _pool_row(pool)
    seed, shape = (await db.execute(select(row.decoy_seed, row.decoy_shape).where(row.id == pool.scope_id))).one()
    return bytes(seed), shape


async def shape_decoys(db: AsyncSession, pool: Pool, shape: dict[str, Any]) -> None:
    """Gives the pool's decoys `shape` unless they have one: set once, by the first passkey (`DecoySeeded`). The
    row's `updated_at` stays: it would tell when passkeys are registered."""
    row = _pool_row(pool)
    unshaped = (row.id == pool.scope_id, row.decoy_shape.is_(None))
    await db.execute(update(row).where(*unshaped).values(decoy_shape=shape, updated_at=row.updated_at))


def _passkeys(pool: Pool) -> tuple[tuple[str, str], tuple[Any, ...]]:
    """The column and rows of the pool's unique index of credential ids, and the conditions that find its rows
    through it (a tenant's accounts' rows have no environment)."""
    if pool.environment_id is not None:
        return ENVIRONMENT_PASSKEYS, (Factor.account_type == pool.account_type,)
    return TENANT_PASSKEYS, (Factor.account_type == pool.account_type, Factor.environment_id.is_(None))


async def passkey_registered(db: AsyncSession, pool: Pool, credential_id: str) -> bool:
    """Whether any account of the pool holds a passkey of this credential id."""
    _, of_pool = _passkeys(pool)
    statement = pool.scope.select(Factor.id).where(*of_pool, Factor.credential_id == credential_id)
    return await db.scalar(statement.limit(1)) is not None


async def add_passkey(db: AsyncSession, pool: Pool, values: dict[str, Any]) -> Factor | None:
    """Inserts the passkey of `values` (its tenant, environment and account among them), unless an account of
    the pool holds its credential id: a registration the check before could not see, committed since (on
    PostgreSQL the insert waits for one still in progress). None then, and the transaction goes on: the unique
    index's conflict is no error."""
    (column, where), _ = _passkeys(pool)
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(Factor)
        .values(values)
        .on_conflict_do_nothing(index_elements=[column, "credential_id"], index_where=text(where))
        .returning(Factor)
    )
    return await db.scalar(statement)


async def locked_passkey(db: AsyncSession, pool: Pool, account_id: uuid.UUID, credential_id: str) -> Factor | None:
    """The account's confirmed passkey of this credential id, read afresh, its row locked until the transaction
    ends (on PostgreSQL; SQLite writes one at a time), so concurrent uses of it are checked one after the
    other."""
    statement = pool.scope.select(Factor).where(
        *pool.owns(Factor, account_id), Factor.credential_id == credential_id, Factor.confirmed_at.is_not(None)
    )
    return await db.scalar(statement.with_for_update().execution_options(populate_existing=True))


async def factor(db: AsyncSession, pool: Pool, account_id: uuid.UUID, factor_id: uuid.UUID) -> Factor | None:
    return await db.scalar(pool.scope.select(Factor).where(*pool.owns(Factor, account_id), Factor.id == factor_id))


async def claim_step(db: AsyncSession, factor_id: uuid.UUID, step: int, now: datetime) -> bool:
    """Records `step` as the factor's last used one, unless that step (or a later one) was used already: of
    concurrent uses of one code exactly one gets True. (By the id of a factor found through its scope.)"""
    result = await db.execute(
        update(Factor)
        .where(Factor.id == factor_id, or_(Factor.last_step.is_(None), Factor.last_step < step))
        .values(last_step=step, last_used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_factor(db: AsyncSession, pool: Pool, account_id: uuid.UUID, factor_id: uuid.UUID) -> bool:
    result = await db.execute(pool.scope.delete(Factor).where(*pool.owns(Factor, account_id), Factor.id == factor_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_codes(db: AsyncSession, pool: Pool, account_id: uuid.UUID) -> None:
    await db.execute(pool.scope.delete(RecoveryCode).where(*pool.owns(RecoveryCode, account_id)))


async def unused_codes(db: AsyncSession, pool: Pool, account_id: uuid.UUID) -> int:
    statement = pool.scope.count(RecoveryCode).where(
        *pool.owns(RecoveryCode, account_id), RecoveryCode.used_at.is_(None)
    )
    return int(await db.scalar(statement) or 0)


async def use_code(db: AsyncSession, pool: Pool, account_id: uuid.UUID, digest: bytes, now: datetime) -> bool:
    """Marks the account's unused code of this digest used: of concurrent uses exactly one gets True."""
    result = await db.execute(
        pool.scope.update(RecoveryCode)
        .where(*pool.owns(RecoveryCode, account_id), RecoveryCode.code_hash == digest, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def find_challenge(db: AsyncSession, pool: Pool, digest: bytes, now: datetime) -> FactorChallenge | None:
    """The pool's live challenge of this digest (another pool's, or one of the other account family, is not
    found), its row held until the transaction ends: a sign-in holds its challenge before the factor or code it
    answers with (`accounts.removal`), and concurrent answers of one challenge take turns."""
    return await db.scalar(
        pool.scope.select(FactorChallenge)
        .where(
            FactorChallenge.token_hash == digest,
            FactorChallenge.account_type == pool.account_type,
            FactorChallenge.expires_at > now,
        )
        .with_for_update()
    )


async def consume_challenge(db: AsyncSession, challenge_id: uuid.UUID, now: datetime) -> bool:
    """Deletes the live challenge: of concurrent answers exactly one gets True. (By the id of a challenge found
    through its pool's scope.)"""
    result = await db.execute(
        delete(FactorChallenge).where(FactorChallenge.id == challenge_id, FactorChallenge.expires_at > now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_challenges(db: AsyncSession, now: datetime) -> int:
    # Not scoped: expired challenges are purged across all tenants.
    result = await db.execute(delete(FactorChallenge).where(FactorChallenge.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def confirmed_count(db: AsyncSession, pool: Pool, account_id: uuid.UUID) -> int:
    statement = pool.scope.count(Factor).where(*pool.owns(Factor, account_id), Factor.confirmed_at.is_not(None))
    return int(await db.scalar(statement) or 0)
