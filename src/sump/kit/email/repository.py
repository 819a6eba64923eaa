"""SQL for the email outbox."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.outbox import OutboxKind, OutboxMessage, OutboxStatus


async def add(db: AsyncSession, kind: OutboxKind, payload: dict[str, Any], template: str | None = None) -> None:
    db.add(OutboxMessage(kind=kind, payload=payload, template=template))
    await db.flush()


async def claim_due(
    db: AsyncSession, now: datetime, limit: int, lease: timedelta, claim_id: uuid.UUID
) -> list[uuid.UUID]:
    """Claims, under `claim_id` until `now + lease`, queued messages that are due and processing ones whose lease
    has run out (their worker died or lost touch), in one statement: two workers never claim the same row."""
    lapsed = or_(
        OutboxMessage.lease_expires_at <= now,
        # claimed before claims were leases: the lease they would have had
        and_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.claimed_at <= now - lease),
    )
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.PROCESSING, lapsed),
    )
    candidates = (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), due)
        .values(status=OutboxStatus.PROCESSING, claimed_at=now, claim_id=claim_id, lease_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return list(
        await db.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.claim_id == claim_id, OutboxMessage.status == OutboxStatus.PROCESSING)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        )
    )


async def renew(db: AsyncSession, claim_id: uuid.UUID, until: datetime) -> set[uuid.UUID]:
    """Extends the lease of the claim's messages still in progress; returns which ones those are."""
    held = OutboxMessage.claim_id == claim_id, OutboxMessage.status == OutboxStatus.PROCESSING
    await db.execute(
        update(OutboxMessage).where(*held).values(lease_expires_at=until).execution_options(synchronize_session=False)
    )
    return set(await db.scalars(select(OutboxMessage.id).where(*held)))


async def release(db: AsyncSession, claim_id: uuid.UUID) -> None:
    """Hands the claim's unfinished messages back to the queue, due now, for any worker to take."""
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.claim_id == claim_id, OutboxMessage.status == OutboxStatus.PROCESSING)
        .values(status=OutboxStatus.QUEUED, claim_id=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


async def get(db: AsyncSession, message_id: uuid.UUID) -> OutboxMessage | None:
    return await db.get(OutboxMessage, message_id)


async def get_claimed(db: AsyncSession, message_id: uuid.UUID, claim_id: uuid.UUID) -> OutboxMessage | None:
    """The message, locked, if it is still in progress under this claim (not taken over, not finished)."""
    return await db.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.claim_id == claim_id,
            OutboxMessage.status == OutboxStatus.PROCESSING,
        )
        .with_for_update()
    )


async def backlog(db: AsyncSession) -> int:
    """Messages not finished yet: queued (due or backing off) and being delivered."""
    unfinished = OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.PROCESSING])
    return int(await db.scalar(select(func.count()).select_from(OutboxMessage).where(unfinished)) or 0)
