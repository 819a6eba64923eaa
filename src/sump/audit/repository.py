"""SQL for audit events: every statement starts from `scope.tenant` (an environment is only a filter)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.scope import tenant
from sump.db.tables.audit import AuditEvent


@dataclass(frozen=True)
class Filters:
    action: str | None = None
    actor_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None
    environment_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


async def page(
    db: AsyncSession, tenant_id: uuid.UUID, filters: Filters, before: uuid.UUID | None, limit: int
) -> list[AuditEvent]:
    """Newest first; the cursor is the last id seen."""
    statement = tenant(tenant_id).select(AuditEvent)
    for column, value in (
        (AuditEvent.action, filters.action),
        (AuditEvent.actor_id, filters.actor_id),
        (AuditEvent.target_id, filters.target_id),
        (AuditEvent.environment_id, filters.environment_id),
        (AuditEvent.organization_id, filters.organization_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.since is not None:
        statement = statement.where(AuditEvent.created_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditEvent.created_at < filters.until)
    if before is not None:
        statement = statement.where(AuditEvent.id < before)
    return list(await db.scalars(statement.order_by(AuditEvent.id.desc()).limit(limit)))
