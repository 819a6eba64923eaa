"""SQL for the email outbox."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.outbox import OutboxKind, OutboxMessage, OutboxStatus

STALE_CLAIM = timedelta(minutes=5)


async def add(db: AsyncSession, kind: OutboxKind, payload: dict[str, Any], template: str | None = None) -> None:
    db.add(OutboxMessage(kind=kind, payload=payload, template=template))
    await db.flush()


async def claim_due(db: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    """Claims queued messages that are due, and processing ones whose worker died (claimed long ago)."""
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.PROCESSING, OutboxMessage.claimed_at < now - STALE_CLAIM),
    )
    ids = list(
        await db.scalars(
            select(OutboxMessage.id)
            .where(due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status=OutboxStatus.PROCESSING, claimed_at=now)
        )
    return ids


async def get(db: AsyncSession, message_id: uuid.UUID) -> OutboxMessage | None:
    return await db.get(OutboxMessage, message_id)
