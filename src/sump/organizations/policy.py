"""Who may do what in an environment's organizations.

Tenant owners and admins manage every organization and the environment's catalog of roles and permissions;
inside an organization, its ORG_ADMINs manage members and the organization itself, and a member's role
grants the permissions that reading needs (`users:read`, `audit:read`). An organization keeps at least one
ORG_ADMIN. An end user joins an organization only by consent: its ORG_ADMINs invite, the invited accept; the
tenant's owners and admins and its automation clients (the application's backend) also add members directly."""

from __future__ import annotations

import uuid

from sump.access.actors import EnvironmentActor, TenantActor
from sump.access.policy import Refusal, Verdict, admin
from sump.db.tables.organizations import ORG_ADMIN, Membership


def edit_catalog(actor: TenantActor) -> Verdict:
    """Create, change and delete the environment's custom roles and permissions."""
    return admin(actor)


def delete_role(name: str, builtin: bool, holders: int) -> Verdict:
    """A custom role that no member holds can be deleted (who may edit the catalog is `edit_catalog`)."""
    if builtin:
        return Refusal("builtin_role", "The built-in roles cannot be deleted.", 409)
    if holders:
        return Refusal("role_in_use", "Members hold this role: give them another role first.", 409)
    return None


def delete_permission(name: str, builtin: bool, used_by: list[str]) -> Verdict:
    """A custom permission that no role grants can be deleted."""
    if builtin:
        return Refusal("builtin_permission", "The built-in permissions cannot be deleted.", 409)
    if used_by:
        roles = ", ".join(sorted(used_by))
        return Refusal("permission_in_use", f"Roles grant this permission ({roles}): remove it from them first.", 409)
    return None


def administer(
    actor: EnvironmentActor, membership: Membership | None, admins: list[uuid.UUID] | None = None
) -> Verdict:
    """Change an organization or its members: its ORG_ADMIN (checked against `admins` when they were read
    under lock), or an owner or admin of the tenant (`membership` is None for tenant accounts)."""
    if membership is None:
        assert actor.manager is not None
        return admin(actor.manager)
    is_admin = membership.role == ORG_ADMIN if admins is None else membership.environment_account_id in admins
    return None if is_admin else Refusal("insufficient_org_role", "This needs the ORG_ADMIN role in the organization.")


def permitted(membership: Membership | None, role_permissions: list[str] | None, permission: str) -> Verdict:
    """A member whose role grants `permission` (tenant accounts, without a membership, always may)."""
    if membership is None or (role_permissions is not None and permission in role_permissions):
        return None
    return Refusal("missing_permission", f"This needs the {permission} permission in the organization.")


def add_directly(actor: EnvironmentActor, membership: Membership | None) -> Verdict:
    """Make an end user a member without their consent: the tenant's owners and admins (and automation clients),
    never another end user. A membership taken by default (a token's only organization) would otherwise carry
    its holder into an organization an end user chose for them, with what they then write there."""
    verdict = administer(actor, membership)
    if verdict is not None or membership is None:
        return verdict
    return Refusal(
        "invitation_required", "End users join an organization by accepting an invitation: send one instead."
    )


def keeps_an_admin(admins: list[uuid.UUID], target: Membership) -> Verdict:
    """Removing or demoting `target` leaves the organization another ORG_ADMIN who can act (`admins`: the enabled
    ones). A disabled one is none: removing it, where no other is left, takes nothing the organization had."""
    if target.role == ORG_ADMIN and admins == [target.environment_account_id]:
        return Refusal("last_org_admin", "The organization must keep at least one ORG_ADMIN.", 409)
    return None
