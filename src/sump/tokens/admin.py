"""Signing-key administration by a tenant's admins."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.audit import service as audit
from sump.audit.service import ref
from sump.auth.dependencies import TenantActor
from sump.config import Settings
from sump.environments import service as environments
from sump.tokens import service
from sump.tokens.models import SigningKey


async def rotate_now(db: AsyncSession, settings: Settings, actor: TenantActor, environment_id: uuid.UUID) -> SigningKey:
    """Promotes the environment's next key (another tenant's environment answers 404)."""
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
