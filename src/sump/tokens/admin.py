"""Signing-key administration by a tenant's admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.config import Settings
from sump.db.base import utcnow
from sump.db.tables.tokens import KeyStatus, SigningKey
from sump.environments import service as environments
from sump.kit import audit
from sump.kit.audit import ref
from sump.sessions import service as sessions
from sump.tokens import policy, repository, service

SHOWN = 20  # keys listed at most, newest first: the current ones and the latest retired


@dataclass(frozen=True)
class ShownKey:
    """A signing key as its admins see it: never its private part."""

    kid: str
    status: KeyStatus
    algorithm: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    published_until: datetime | None
    published: bool


@dataclass(frozen=True)
class KeyRing:
    """An environment's signing keys, newest first, and its rotation schedule."""

    keys: list[ShownKey]
    rotation_days: int
    next_rotation: datetime | None


async def key_ring(db: AsyncSession, settings: Settings, actor: TenantActor, environment_id: uuid.UUID) -> KeyRing:
    """Any account of the tenant may read the keys' public facts (they are in the JWKS); another tenant's
    environment answers 404."""
    environment = await environments.get(db, actor, environment_id)
    now = utcnow()
    shown = []
    next_rotation = None
    for key in await repository.keys(db, environment.id, SHOWN):
        until = service.published_until(key, settings)
        next_rotation = next_rotation or service.rotation_due(key, settings)
        shown.append(
            ShownKey(
                kid=key.kid,
                status=key.status,
                algorithm=key.algorithm,
                created_at=key.created_at,
                activated_at=key.activated_at,
                retired_at=key.retired_at,
                published_until=until,
                published=until is None or now <= until,
            )
        )
    return KeyRing(shown, settings.key_rotation_days, next_rotation)


async def rotate_now(db: AsyncSession, settings: Settings, actor: TenantActor, environment_id: uuid.UUID) -> SigningKey:
    """Promotes the environment's next key (another tenant's environment answers 404)."""
    require(policy.rotate_keys(actor))
    sessions.require_step_up(actor.session, actor.account)
    environment = await environments.get(db, actor, environment_id)
    key = await service.rotate(db, settings, environment, on_demand=True)
    await audit.record(
        db,
        "signing_key.rotated",
        tenant_id=environment.tenant_id,
        environment_id=environment.id,
        actor=ref(actor.account),
        details={"kid": key.kid},
    )
    return key
