"""SQL for invitations: every statement starts from the tenant's scope (`sump.db.scope`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.scope import tenant
from sump.db.tables.links import Invitation, InvitationKind


async def add(db: AsyncSession, invitation: Invitation) -> Invitation:
    db.add(invitation)
    await db.flush()
    return invitation


async def get(db: AsyncSession, tenant_id: uuid.UUID, invitation_id: uuid.UUID) -> Invitation | None:
    return await db.scalar(tenant(tenant_id).select(Invitation).where(Invitation.id == invitation_id))


async def pending(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    kind: InvitationKind,
    *,
    environment_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    email: str | None = None,
) -> list[Invitation]:
    """Invitations of this kind neither accepted nor revoked (expired ones included), oldest first."""
    statement = (
        tenant(tenant_id)
        .select(Invitation)
        .where(Invitation.kind == kind, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
    )
    for column, value in (
        (Invitation.environment_id, environment_id),
        (Invitation.organization_id, organization_id),
        (Invitation.email, email),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return list(await db.scalars(statement.order_by(Invitation.id)))


async def live(
    db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID | None, digest: bytes, now: datetime
) -> Invitation | None:
    """The live invitation of this token, in this tenant and (for end users) this environment."""
    statement = (
        tenant(tenant_id)
        .select(Invitation)
        .where(
            Invitation.token_hash == digest,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
    )
    if environment_id is None:
        statement = statement.where(Invitation.environment_id.is_(None))
    else:
        statement = statement.where(Invitation.environment_id == environment_id)
    return await db.scalar(statement)


async def accept(db: AsyncSession, invitation_id: uuid.UUID, account_id: uuid.UUID, now: datetime) -> bool:
    """Marks the invitation accepted, atomically: of concurrent acceptances exactly one gets True. (By the id of
    an invitation found through its tenant's scope.)"""
    result = await db.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now, accepted_by=account_id, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
