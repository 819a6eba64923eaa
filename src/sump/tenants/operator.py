"""What the operator does to tenants from the command line (`sump tenants list`, `sump tenants delete`), outside
any tenant's own accounts and roles. Creating one is `onboarding.service.create_by_operator`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sump.config import Settings
from sump.db.engine import one_transaction
from sump.db.tables.tenants import Tenant
from sump.kit import audit
from sump.kit.audit import OPERATOR, Ref
from sump.tenants import repository


@dataclass(frozen=True)
class Listed:
    tenant: Tenant
    environments: int
    accounts: int  # tenant accounts
    end_users: int


async def listing(settings: Settings) -> list[Listed]:
    """Every tenant, oldest first, with what it holds."""
    async with one_transaction(settings.database_url) as db:
        return [Listed(*row) for row in await repository.every_tenant(db)]


async def find(settings: Settings, tenant_id: uuid.UUID) -> Listed | None:
    """The tenant with what it holds, or None."""
    async with one_transaction(settings.database_url) as db:
        tenant = await repository.get(db, tenant_id)
        return Listed(tenant, *await repository.counts(db, tenant_id)) if tenant is not None else None


async def delete(settings: Settings, tenant_id: uuid.UUID) -> Tenant | None:
    """Deletes the tenant with everything in it, as its owner would (`tenants.service.delete`), audited as the
    operator's; None when there is no such tenant."""
    async with one_transaction(settings.database_url) as db:
        tenant = await repository.get(db, tenant_id)
        if tenant is not None:
            await repository.remove(db, tenant)
            await audit.record(
                db, "tenant.deleted", tenant_id=tenant_id, actor=OPERATOR, target=Ref("tenant", tenant_id)
            )
        return tenant
