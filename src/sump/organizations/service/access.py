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

from sump.audit import service as audit
from sump.audit.service import Ref, ref
from sump.auth.dependencies import EnvironmentActor, TenantActor, ensure_role
from sump.kit.errors import bad_request, forbidden, not_found
from sump.organizations import repository
from sump.organizations.models import ORG_ADMIN, Membership, Organization
from sump.tenant_accounts.models import TenantRole


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
    """ORG_ADMIN of the organization (checked against `admins` when they were read under lock), or an owner or
    admin of the tenant."""
    if place.membership is None:
        ensure_role(manager(actor), TenantRole.ADMIN)
        return
    admin = place.membership.role == ORG_ADMIN
    if admins is not None:
        admin = place.membership.environment_account_id in admins
    if not admin:
        raise forbidden("insufficient_org_role", "This needs the ORG_ADMIN role in the organization.")


async def ensure_permission(db: AsyncSession, actor: EnvironmentActor, place: Place, permission: str) -> None:
    if place.membership is None:
        return
    role = await repository.role(db, actor.environment.id, place.membership.role)
    if role is None or permission not in role.permissions:
        raise forbidden("missing_permission", f"This needs the {permission} permission in the organization.")


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
