"""What access tokens say about the active organization: the membership's role and that role's permissions, read
at issue and at every refresh."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.organizations import Membership
from sump.kit.errors import bad_request, not_found
from sump.organizations import repository


@dataclass(frozen=True)
class Grant:
    """What an access token says about its active organization."""

    organization_id: uuid.UUID
    roles: list[str]
    permissions: list[str]


async def _grant(db: AsyncSession, environment_id: uuid.UUID, membership: Membership) -> Grant:
    role = await repository.role(db, environment_id, membership.role)
    permissions = sorted(role.permissions) if role is not None else []
    return Grant(membership.organization_id, [membership.role], permissions)


async def token_grant(
    db: AsyncSession, environment_id: uuid.UUID, account_id: uuid.UUID, organization_id: uuid.UUID | None
) -> Grant | None:
    """The organization a new token acts in: the one named (a membership, else 404); with none named, the only
    membership, none without memberships, and 400 with several."""
    if organization_id is not None:
        membership = await repository.membership(db, environment_id, organization_id, account_id)
        if membership is None:
            raise not_found("organization")
        return await _grant(db, environment_id, membership)
    memberships = await repository.memberships_of(db, environment_id, account_id, limit=2)
    if not memberships:
        return None
    if len(memberships) > 1:
        raise bad_request(
            "organization_required",
            "The account belongs to several organizations: name one in organizationId.",
            "organizationId",
        )
    return await _grant(db, environment_id, memberships[0])


async def current_grant(
    db: AsyncSession, environment_id: uuid.UUID, organization_id: uuid.UUID, account_id: uuid.UUID
) -> Grant | None:
    """The account's current role and permissions in the organization; None once it is no longer a member."""
    membership = await repository.membership(db, environment_id, organization_id, account_id)
    return await _grant(db, environment_id, membership) if membership is not None else None
