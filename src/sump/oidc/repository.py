"""SQL for the authorization flow: requests waiting for their end user, codes and consents. Every statement
starts from `scope.environment`; the ones by a row's own primary key say why they need no other scope."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.scope import environment
from sump.db.tables.clients import AuthorizationCode, AuthorizationRequest, Consent


async def add(db: AsyncSession, row: AuthorizationRequest | AuthorizationCode | Consent) -> None:
    db.add(row)  # an insert: the row carries its environment_id
    await db.flush()


async def request_by_digest(db: AsyncSession, environment_id: uuid.UUID, digest: bytes) -> AuthorizationRequest | None:
    return await db.scalar(
        environment(environment_id).select(AuthorizationRequest).where(AuthorizationRequest.token_hash == digest)
    )


async def use_request(db: AsyncSession, environment_id: uuid.UUID, request_id: uuid.UUID, now: datetime) -> bool:
    """One conditional UPDATE: of concurrent uses of one request exactly one gets True."""
    result = await db.execute(
        environment(environment_id)
        .update(AuthorizationRequest)
        .where(AuthorizationRequest.id == request_id, AuthorizationRequest.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def save_parameters(
    db: AsyncSession, environment_id: uuid.UUID, request_id: uuid.UUID, parameters: dict[str, object]
) -> None:
    await db.execute(
        environment(environment_id)
        .update(AuthorizationRequest)
        .where(AuthorizationRequest.id == request_id, AuthorizationRequest.used_at.is_(None))
        .values(parameters=parameters)
    )


async def code_by_digest(db: AsyncSession, environment_id: uuid.UUID, digest: bytes) -> AuthorizationCode | None:
    return await db.scalar(
        environment(environment_id).select(AuthorizationCode).where(AuthorizationCode.code_hash == digest)
    )


async def use_code(db: AsyncSession, environment_id: uuid.UUID, code_id: uuid.UUID, now: datetime) -> bool:
    """One conditional UPDATE: of concurrent redemptions of one code exactly one gets True."""
    result = await db.execute(
        environment(environment_id)
        .update(AuthorizationCode)
        .where(AuthorizationCode.id == code_id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_code_family(db: AsyncSession, code_id: uuid.UUID, family_id: uuid.UUID) -> None:
    # Not scoped: by the primary key of a code the caller just redeemed through its environment's scope.
    await db.execute(update(AuthorizationCode).where(AuthorizationCode.id == code_id).values(family_id=family_id))


async def consent(
    db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID, client_pk: uuid.UUID
) -> Consent | None:
    return await db.scalar(
        environment(environment_id)
        .select(Consent)
        .where(Consent.account_id == account_id, Consent.client_pk == client_pk)
    )


async def purge_expired(db: AsyncSession, requests_before: datetime, codes_before: datetime) -> int:
    """Deletes waiting requests and codes past their time, of every environment (the hourly purge's)."""
    # Not scoped: a deletion of expired rows only, across environments by design.
    requests = await db.execute(delete(AuthorizationRequest).where(AuthorizationRequest.expires_at <= requests_before))
    issued = await db.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at <= codes_before))
    return int(requests.rowcount) + int(issued.rowcount)  # type: ignore[attr-defined]
