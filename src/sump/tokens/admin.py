"""Signing-key administration by a tenant's admins."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.config import Settings
from sump.db.tables.tokens import SigningKey
from sump.environments import service as environments
from sump.kit import audit
from sump.kit.audit import ref
from sump.tokens import policy, service


async def rotate_now(db: AsyncSession, settings: Settings, actor: TenantActor, environment_id: uuid.UUID) -> SigningKey:
    """Promotes the environment's next key (another tenant's environment answers 404)."""
    require(policy.rotate_keys(actor))
    environment = await environments.get(db, actor, environment_id)
    key = await service.rotate(db, settings, environment)
    await audit.record(
        db,
        "signing_key.rotated",
        tenant_id=environment.tenant_id,
        environment_id=environment.id,
        actor=ref(actor.account),
        details={"kid": key.kid},
    )
    return key
