"""SQL for signing keys and refresh tokens: every statement on an environment's rows starts from
`scope.environment`; the two by a token's own id or family say why they need none."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db import inserts
from sump.db.scope import environment
from sump.db.tables.sessions import Session
from sump.db.tables.tokens import KeyStatus, RefreshToken, SigningKey

# The statements of every refresh and every access token's check, built once (bound parameters): neither they nor
# their cache keys are made again at each call.
_BY_KID = environment(bindparam("environment_id")).select(SigningKey).where(SigningKey.kid == bindparam("kid"))
_ACTIVE_KEY = (
    environment(bindparam("environment_id"))
    .select(SigningKey)
    .where(SigningKey.algorithm == bindparam("algorithm"), SigningKey.status == KeyStatus.ACTIVE)
)
_REFRESH_BY_DIGEST = (
    environment(bindparam("environment_id")).select(RefreshToken).where(RefreshToken.token_hash == bindparam("digest"))
)
# Not scoped: by the primary key of a token the caller just found through its environment's scope.
_ROTATE = (
    update(RefreshToken)
    .where(
        RefreshToken.id == bindparam("token_id"), RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None)
    )
    .values(rotated_at=bindparam("now"))
    .execution_options(synchronize_session=False)  # the caller reads the token again when it lost the race
)


# The first key of PostgreSQL's two-key advisory locks that serialise changes to an environment's signing keys
# ("skey"); the second is drawn from the environment's id.
_KEYS_LOCK = 0x736B6579


async def keys(db: AsyncSession, environment_id: uuid.UUID, limit: int) -> list[SigningKey]:
    """The environment's newest `limit` keys, newest first."""
    statement = environment(environment_id).select(SigningKey).order_by(SigningKey.id.desc()).limit(limit)
    return list(await db.scalars(statement))


async def published_keys(db: AsyncSession, environment_id: uuid.UUID, retired_since: datetime) -> list[SigningKey]:
    """The keys a JWKS may hold, newest first: the next and active ones, and those retired since `retired_since`."""
    statement = (
        environment(environment_id)
        .select(SigningKey)
        .where(or_(SigningKey.status != KeyStatus.RETIRED, SigningKey.retired_at >= retired_since))
        .order_by(SigningKey.id.desc())
    )
    return list(await db.scalars(statement))


async def purge_retired(db: AsyncSession, retired_before: datetime) -> int:
    """Deletes the keys of every environment retired before `retired_before` (the hourly purge: a key that has
    left the JWKS long since)."""
    statement = delete(SigningKey).where(SigningKey.status == KeyStatus.RETIRED, SigningKey.retired_at < retired_before)
    return int((await db.execute(statement)).rowcount or 0)  # type: ignore[attr-defined]


async def locked_keys(db: AsyncSession, environment_id: uuid.UUID) -> list[SigningKey]:
    """The environment's next and active keys, read after taking the environment's key lock, held until the
    transaction ends: of two rotations at once, the second reads what the first wrote. On PostgreSQL a
    transaction-scoped advisory lock on the environment (row locks would not cover the keys the first inserts, nor
    an environment with no key yet). SQLite has no row locks, and its driver opens a transaction only at the first
    write: a no-op write comes first, it takes the database's write lock."""
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(environment(environment_id).update(SigningKey).values(kid=SigningKey.kid))
    else:
        second = int.from_bytes(environment_id.bytes[-4:], "big", signed=True)
        await db.execute(select(func.pg_advisory_xact_lock(_KEYS_LOCK, second)))
    statement = environment(environment_id).select(SigningKey).where(SigningKey.status != KeyStatus.RETIRED)
    return list(await db.scalars(statement.order_by(SigningKey.id.desc())))


async def key_by_kid(db: AsyncSession, environment_id: uuid.UUID, kid: str) -> SigningKey | None:
    return await db.scalar(_BY_KID, {"environment_id": environment_id, "kid": kid})


async def active_key(db: AsyncSession, environment_id: uuid.UUID, algorithm: str) -> SigningKey | None:
    return await db.scalar(_ACTIVE_KEY, {"environment_id": environment_id, "algorithm": algorithm})


async def newest_key(db: AsyncSession) -> SigningKey | None:
    """The newest key of any environment (unscoped: the server's start-up check of its own secret, which sealed
    every environment's keys)."""
    return await db.scalar(select(SigningKey).order_by(SigningKey.id.desc()).limit(1))


async def add(db: AsyncSession, row: SigningKey) -> None:
    db.add(row)  # an insert: the row carries its environment_id
    await db.flush()


async def add_refresh_token(db: AsyncSession, row: RefreshToken) -> None:
    """Written with the transaction's next statement or its commit, with the rows held then (`db.inserts`): a
    refresh's successor goes with its audit row. The row carries its environment_id."""
    await inserts.insert_now(db, row)


async def refresh_by_digest(db: AsyncSession, environment_id: uuid.UUID, digest: bytes) -> RefreshToken | None:
    return await db.scalar(_REFRESH_BY_DIGEST, {"environment_id": environment_id, "digest": digest})


async def mark_rotated(db: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """One atomic statement: of concurrent rotations of one token exactly one gets True."""
    result = await db.execute(_ROTATE, {"token_id": token_id, "now": now})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_family(db: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    # Not scoped: a family id is a random id of one sign-in, read from a token found through its environment.
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_for_session(db: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    # Not scoped: by the id of the signed-in account's own session, which its environment's scope found.
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == session_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def same_accounts_session(db: AsyncSession, digest: bytes, successor: Session) -> uuid.UUID | None:
    """The id of the session of `digest` when it is `successor`'s account's. Not scoped: the digest is globally
    unique and names its session (the browser's own cookie)."""
    return await db.scalar(
        select(Session.id).where(
            Session.token_hash == digest,
            Session.account_type == successor.account_type,
            Session.account_id == successor.account_id,
        )
    )


async def move_refresh_tokens(db: AsyncSession, replaced_id: uuid.UUID, successor_id: uuid.UUID) -> None:
    await db.execute(update(RefreshToken).where(RefreshToken.session_id == replaced_id).values(session_id=successor_id))


async def revoke_for_organization(
    db: AsyncSession,
    environment_id: uuid.UUID,
    organization_id: uuid.UUID,
    account_id: uuid.UUID | None,
    now: datetime,
) -> None:
    """Revokes the refresh tokens issued for the organization (to one account, or to everyone)."""
    statement = (
        environment(environment_id)
        .update(RefreshToken)
        .where(RefreshToken.organization_id == organization_id, RefreshToken.revoked_at.is_(None))
    )
    if account_id is not None:
        statement = statement.where(RefreshToken.account_id == account_id)
    await db.execute(statement.values(revoked_at=now))


async def revoke_for_client(
    db: AsyncSession, environment_id: uuid.UUID, client_pk: uuid.UUID, now: datetime, session_id: uuid.UUID | None
) -> None:
    """Revokes the refresh tokens one client holds: of one session, or (None) of every one."""
    statement = environment(environment_id).update(RefreshToken).where(RefreshToken.client_pk == client_pk)
    if session_id is not None:
        statement = statement.where(RefreshToken.session_id == session_id)
    await db.execute(statement.where(RefreshToken.revoked_at.is_(None)).values(revoked_at=now))
