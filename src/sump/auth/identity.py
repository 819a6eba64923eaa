"""Rules shared by both account families when an account is created or its identifiers change."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.auth import repository
from sump.auth.pools import Pool
from sump.kit.email.models import OutboxKind
from sump.kit.email.outbox import enqueue
from sump.kit.errors import Problem


async def ensure_identifiers_free(
    db: AsyncSession, pool: Pool, exclude: uuid.UUID | None = None, **values: str | None
) -> None:
    """409 naming each identifier (email, phone, username) that another account of the pool holds."""
    taken = await repository.taken_identifiers(db, pool, values, exclude)
    if taken:
        where = "environment" if pool.environment_id else "tenant"
        errors = {name: f"This {name} is already in use in this {where}." for name in sorted(taken)}
        raise Problem(409, "identifier_taken", "An account with this identification already exists.", errors=errors)


async def enqueue_reset(db: AsyncSession, pool: Pool, kind: str, value: str) -> None:
    """Records a reset request for the outbox worker, which finds the account (if any) and sends the email."""
    payload = {"accountType": pool.account_type.value, "contextId": str(pool.scope_id), "kind": kind, "value": value}
    await enqueue(db, OutboxKind.PASSWORD_RESET, payload)
