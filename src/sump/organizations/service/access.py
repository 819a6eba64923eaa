"""Who may do what in an organization, shared by the organization and member rules: the organization as the
actor sees it, the fixed ORG_ADMIN rule, permissions of the member's role, and the audit of their changes.

- For an end user, an organization exists only if they are a member of it (else 404). Every tenant account of
  the tenant reads every organization of its environments; the owners and admins manage them.
- The ORG_ADMIN role renames and deletes the organization and manages its members. This is a fixed rule, not a
  permission, so that no edit of a role's permissions lets another role grant ORG_ADMIN or locks an
  organization out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import EnvironmentActor, TenantActor
from sump.access.policy import require
from sump.db.tables.organizations import Membership, Organization
from sump.kit import audit
from sump.kit.audit import Ref, ref
from sump.kit.errors import bad_request, not_found
from sump.organizations import policy, repository


@dataclass(frozen=True)
class Place:
    """An organization as the actor sees it: with the acting end user's membership (None for tenant accounts)."""

    organization: Organization
    membership: Membership | None


async def place_of(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> Place:
    organization = await repository.get(db, actor.environment.id, organization_id)
    if organization is None:
        raise not_found("organization")
    if actor.end_user is None:
        return Place(organization, None)
    membership = await repository.membership(db, actor.environment.id, organization.id, actor.end_user.account.id)
    if membership is None:
        raise not_found("organization")
    return Place(organization, membership)


def manager(actor: EnvironmentActor) -> TenantActor:
    assert actor.manager is not None
    return actor.manager


def ensure_admin(actor: EnvironmentActor, place: Place, admins: list[uuid.UUID] | None = None) -> None:
    require(policy.administer(actor, place.membership, admins))


async def ensure_permission(db: AsyncSession, actor: EnvironmentActor, place: Place, permission: str) -> None:
    role = await repository.role(db, actor.environment.id, place.membership.role) if place.membership else None
    require(policy.permitted(place.membership, role.permissions if role else None, permission))


async def record(
    db: AsyncSession, actor: EnvironmentActor, action: str, organization_id: uuid.UUID, target: Ref, **details: str
) -> None:
    await audit.record(
        db,
        action,
        tenant_id=actor.environment.tenant_id,
        environment_id=actor.environment.id,
        organization_id=organization_id,
        actor=ref(actor.account),
        target=target,
        details=details,
    )


async def ensure_audit_reader(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID | None) -> None:
    """End users read their organization's audit events with the `audit:read` permission."""
    if actor.end_user is None:
        return
    if organization_id is None:
        raise bad_request("organization_required", "Name the organization whose events to read.", "organizationId")
    await ensure_permission(db, actor, await place_of(db, actor, organization_id), "audit:read")
