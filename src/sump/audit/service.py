"""Reading the audit log, for those its policy allows."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.audit import policy, repository
from sump.audit.repository import Filters
from sump.db.tables.audit import AuditEvent

__all__ = ["Filters", "page", "tenant_page"]


async def page(
    db: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filters: Filters,
    before: uuid.UUID | None,
    limit: int,
) -> list[AuditEvent]:
    return await repository.page(db, tenant_id, filters, before, limit)


async def tenant_page(
    db: AsyncSession, actor: TenantActor, filters: Filters, before: uuid.UUID | None, limit: int
) -> list[AuditEvent]:
    """The actor's tenant's events, newest first, for those the audit policy lets read them."""
    require(policy.read_tenant_log(actor))
    return await repository.page(db, actor.tenant_id, filters, before, limit)
