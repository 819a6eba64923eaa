"""Rules for organizations, their members, and an environment's roles and permission catalog.

- Any end user of the environment creates an organization and becomes its ORG_ADMIN; the tenant's owners and
  admins create one naming the end user who becomes its first ORG_ADMIN.
- For an end user, an organization exists only if they are a member of it (else 404). Every tenant account of
  the tenant reads every organization of its environments; the owners and admins manage them.
- The ORG_ADMIN role renames and deletes the organization and manages its members. This is a fixed rule, not a
  permission, so that no edit of a role's permissions lets another role grant ORG_ADMIN or locks an
  organization out. Reading the member list takes the `users:read` permission. Any member may leave.
- An organization keeps at least one ORG_ADMIN: the demotion or removal that would end the last answers 409.
  The ORG_ADMIN memberships are locked first, so concurrent changes cannot both pass.
- Each environment has a permission catalog and roles (name → permission names), seeded on first use with the
  reference system's nine permissions and its three roles, managed by the tenant's owners and admins. The
  built-in roles can be edited but not deleted; a role that members hold cannot be deleted.
- Access tokens carry the active organization's role and its permissions, read at issue and at every refresh.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.audit import service as audit
from sump.audit.service import Ref, ref
from sump.auth.dependencies import EnvironmentActor, TenantActor, ensure_role
from sump.db.base import utcnow, uuid7
from sump.environment_accounts import repository as end_users
from sump.environment_accounts.models import EnvironmentAccount
from sump.environments import repository as environments
from sump.environments.models import Environment
from sump.kit.errors import bad_request, conflict, forbidden, not_found
from sump.organizations import repository
from sump.organizations.models import (
    BUILTIN_ROLES,
    ORG_ADMIN,
    ORG_USER,
    READ_ONLY,
    Membership,
    Organization,
    Permission,
    Role,
)
from sump.organizations.schemas import MemberAdd, OrganizationCreate, PermissionCreate, RoleCreate, RoleUpdate
from sump.tenant_accounts.models import TenantRole
from sump.tokens import service as tokens

DEFAULT_PERMISSIONS = {
    "tenant:read": "Read the active organization's metadata",
    "users:read": "Read the organization's members and memberships",
    "users:manage": "Add members and manage memberships",
    "roles:read": "Read the roles and their permissions",
    "permissions:read": "Read the permission catalog",
    "projects:read": "Read organization-owned projects",
    "projects:write": "Create and update organization-owned projects",
    "projects:delete": "Delete organization-owned projects",
    "audit:read": "Read security audit events of the active organization",
}
DEFAULT_ROLES = {
    ORG_ADMIN: ("Administrator", list(DEFAULT_PERMISSIONS)),
    ORG_USER: (
        "Member",
        ["tenant:read", "users:read", "roles:read", "permissions:read", "projects:read", "projects:write"],
    ),
    READ_ONLY: ("Viewer", ["tenant:read", "roles:read", "permissions:read", "projects:read"]),
}


async def ensure_seeded(db: AsyncSession, environment_id: uuid.UUID) -> None:
    """Gives the environment the default catalog and roles, once (concurrent first uses do not collide)."""
    if await repository.seeded(db, environment_id):
        return
    now = utcnow()
    await repository.insert_missing(
        db,
        Permission,
        [
            {"id": uuid7(), "environment_id": environment_id, "name": name, "description": text, "created_at": now}
            for name, text in DEFAULT_PERMISSIONS.items()
        ],
    )
    await repository.insert_missing(
        db,
        Role,
        [
            {
                "id": uuid7(),
                "environment_id": environment_id,
                "name": name,
                "description": text,
                "permissions": sorted(permissions),
                "builtin": True,
                "created_at": now,
                "updated_at": now,
            }
            for name, (text, permissions) in DEFAULT_ROLES.items()
        ],
    )


# --- organizations ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """An organization as the actor sees it: with the acting end user's membership (None for tenant accounts)."""

    organization: Organization
    membership: Membership | None


async def _place(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> Place:
    organization = await repository.get(db, actor.environment.id, organization_id)
    if organization is None:
        raise not_found("organization")
    if actor.end_user is None:
        return Place(organization, None)
    membership = await repository.membership(db, actor.environment.id, organization.id, actor.end_user.account.id)
    if membership is None:
        raise not_found("organization")
    return Place(organization, membership)


def _manager(actor: EnvironmentActor) -> TenantActor:
    assert actor.manager is not None
    return actor.manager


def _ensure_admin(actor: EnvironmentActor, place: Place, admins: list[uuid.UUID] | None = None) -> None:
    """ORG_ADMIN of the organization (checked against `admins` when they were read under lock), or an owner or
    admin of the tenant."""
    if place.membership is None:
        ensure_role(_manager(actor), TenantRole.ADMIN)
        return
    admin = place.membership.role == ORG_ADMIN
    if admins is not None:
        admin = place.membership.environment_account_id in admins
    if not admin:
        raise forbidden("insufficient_org_role", "This needs the ORG_ADMIN role in the organization.")


async def _ensure_permission(db: AsyncSession, actor: EnvironmentActor, place: Place, permission: str) -> None:
    if place.membership is None:
        return
    role = await repository.role(db, actor.environment.id, place.membership.role)
    if role is None or permission not in role.permissions:
        raise forbidden("missing_permission", f"This needs the {permission} permission in the organization.")


async def _ensure_name_free(
    db: AsyncSession, environment_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> None:
    if await repository.name_taken(db, environment_id, name, exclude):
        raise conflict("organization_name_taken", "Another organization of this environment has this name.", "name")


async def create(db: AsyncSession, actor: EnvironmentActor, body: OrganizationCreate) -> Organization:
    environment = actor.environment
    if actor.end_user is not None:
        if body.admin_account_id not in (None, actor.end_user.account.id):
            raise bad_request(
                "admin_account_not_allowed",
                "An end user who creates an organization becomes its ORG_ADMIN.",
                "adminAccountId",
            )
        admin_id = actor.end_user.account.id
    else:
        ensure_role(_manager(actor), TenantRole.ADMIN)
        if body.admin_account_id is None:
            raise bad_request(
                "admin_account_required", "Name the end user who becomes the first ORG_ADMIN.", "adminAccountId"
            )
        account = await end_users.get(db, environment.id, body.admin_account_id)
        if account is None:
            raise not_found("account")
        admin_id = account.id
    await ensure_seeded(db, environment.id)
    await _ensure_name_free(db, environment.id, body.name)
    organization = Organization(tenant_id=environment.tenant_id, environment_id=environment.id, name=body.name)
    await repository.add(db, organization)
    await repository.add(
        db,
        Membership(
            environment_id=environment.id,
            organization_id=organization.id,
            environment_account_id=admin_id,
            role=ORG_ADMIN,
        ),
    )
    await _audit(db, actor, "organization.created", organization.id, Ref("organization", organization.id))
    return organization


async def page(
    db: AsyncSession, actor: EnvironmentActor, after: uuid.UUID | None, limit: int
) -> list[tuple[Organization, str | None]]:
    """An end user's own organizations with their role in each; for tenant accounts, all of them."""
    if actor.end_user is not None:
        mine = await repository.page_of_member(db, actor.environment.id, actor.end_user.account.id, after, limit)
        return [(organization, role) for organization, role in mine]
    return [(organization, None) for organization in await repository.page(db, actor.environment.id, after, limit)]


async def get(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> tuple[Organization, str | None]:
    place = await _place(db, actor, organization_id)
    return place.organization, place.membership.role if place.membership else None


async def rename(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, name: str) -> None:
    place = await _place(db, actor, organization_id)
    _ensure_admin(actor, place)
    organization = place.organization
    if organization.name == name:
        return
    await _ensure_name_free(db, actor.environment.id, name, organization.id)
    organization.name = name
    await _audit(db, actor, "organization.renamed", organization.id, Ref("organization", organization.id))


async def delete(db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID) -> None:
    """Deletes the organization with its memberships, and revokes the refresh tokens issued for it."""
    place = await _place(db, actor, organization_id)
    _ensure_admin(actor, place)
    await tokens.revoke_for_organization(db, actor.environment.id, place.organization.id, None)
    await repository.remove(db, place.organization)
    organization_id = place.organization.id
    await _audit(db, actor, "organization.deleted", organization_id, Ref("organization", organization_id))


# --- members ------------------------------------------------------------------------------------------------


async def members(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[tuple[Membership, EnvironmentAccount]]:
    place = await _place(db, actor, organization_id)
    await _ensure_permission(db, actor, place, "users:read")
    return await repository.members(db, actor.environment.id, place.organization.id, after, limit)


async def _role(db: AsyncSession, environment_id: uuid.UUID, name: str) -> Role:
    """The role, kept from deletion until the transaction ends."""
    role = await repository.role(db, environment_id, name, share=True)
    if role is None:
        raise bad_request("unknown_role", "There is no such role in this environment.", "role")
    return role


async def add_member(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, body: MemberAdd
) -> tuple[Membership, EnvironmentAccount]:
    """Adds an existing end user of the same environment."""
    place = await _place(db, actor, organization_id)
    _ensure_admin(actor, place)
    environment_id = actor.environment.id
    account = await end_users.get(db, environment_id, body.account_id)
    if account is None:
        raise not_found("account")
    await _role(db, environment_id, body.role)
    if await repository.membership(db, environment_id, place.organization.id, account.id) is not None:
        raise conflict("already_member", "This account is already a member of the organization.", "accountId")
    membership = Membership(
        environment_id=environment_id,
        organization_id=place.organization.id,
        environment_account_id=account.id,
        role=body.role,
    )
    await repository.add(db, membership)
    await _audit(db, actor, "membership.added", membership.organization_id, ref(account), role=body.role)
    return membership, account


def _ensure_admin_remains(admins: list[uuid.UUID], target: Membership) -> None:
    if target.role == ORG_ADMIN and not [admin for admin in admins if admin != target.environment_account_id]:
        raise conflict("last_org_admin", "The organization must keep at least one ORG_ADMIN.")


async def change_role(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, account_id: uuid.UUID, role: str
) -> None:
    place = await _place(db, actor, organization_id)
    _ensure_admin(actor, place)
    environment_id = actor.environment.id
    await _role(db, environment_id, role)
    admins = await repository.lock_admins(db, environment_id, place.organization.id)
    _ensure_admin(actor, place, admins)  # again, now that concurrent changes are settled
    target = await repository.membership(db, environment_id, place.organization.id, account_id)
    if target is None:
        raise not_found("member")
    if target.role == role:
        return
    _ensure_admin_remains(admins, target)
    previous, target.role = target.role, role
    member = Ref("environment_account", account_id)
    await _audit(db, actor, "membership.role_changed", target.organization_id, member, previous=previous, role=role)


async def remove_member(
    db: AsyncSession, actor: EnvironmentActor, organization_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """Removes a member (an ORG_ADMIN, or the member themselves leaving) and revokes the refresh tokens issued
    to them for this organization."""
    place = await _place(db, actor, organization_id)
    leaving = place.membership is not None and place.membership.environment_account_id == account_id
    if not leaving:
        _ensure_admin(actor, place)
    environment_id = actor.environment.id
    admins = await repository.lock_admins(db, environment_id, place.organization.id)
    if not leaving:
        _ensure_admin(actor, place, admins)
    target = await repository.membership(db, environment_id, place.organization.id, account_id)
    if target is None:
        raise not_found("member")
    _ensure_admin_remains(admins, target)
    await tokens.revoke_for_organization(db, environment_id, place.organization.id, account_id)
    await repository.remove(db, target)
    member = Ref("environment_account", account_id)
    await _audit(db, actor, "membership.removed", place.organization.id, member)


async def _audit(
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
    await _ensure_permission(db, actor, await _place(db, actor, organization_id), "audit:read")


# --- access token claims ------------------------------------------------------------------------------------


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


# --- catalog and roles (tenant owners and admins) -----------------------------------------------------------


async def _environment(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> Environment:
    environment = await environments.get(db, actor.tenant_id, environment_id)
    if environment is None:
        raise not_found("environment")
    await ensure_seeded(db, environment.id)
    return environment


async def permissions(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> list[Permission]:
    environment = await _environment(db, actor, environment_id)
    return await repository.permissions(db, environment.id)


async def create_permission(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, body: PermissionCreate
) -> Permission:
    ensure_role(actor, TenantRole.ADMIN)
    environment = await _environment(db, actor, environment_id)
    if await repository.permission_names(db, environment.id, [body.name]):
        raise conflict("permission_exists", "The catalog already has this permission.", "name")
    permission = Permission(environment_id=environment.id, name=body.name, description=body.description)
    await repository.add(db, permission)
    await _audit_catalog(db, actor, "permission.created", environment.id, Ref("permission", permission.id), body.name)
    return permission


async def roles(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> list[Role]:
    environment = await _environment(db, actor, environment_id)
    return await repository.roles(db, environment.id)


async def _known_permissions(db: AsyncSession, environment_id: uuid.UUID, names: list[str]) -> list[str]:
    wanted = sorted(set(names))
    if len(await repository.permission_names(db, environment_id, wanted)) != len(wanted):
        raise bad_request("unknown_permission", "Every permission must be in the environment's catalog.", "permissions")
    return wanted


async def create_role(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, body: RoleCreate) -> Role:
    ensure_role(actor, TenantRole.ADMIN)
    environment = await _environment(db, actor, environment_id)
    if await repository.role(db, environment.id, body.name) is not None:
        raise conflict("role_exists", "The environment already has this role.", "name")
    role = Role(
        environment_id=environment.id,
        name=body.name,
        description=body.description,
        permissions=await _known_permissions(db, environment.id, body.permissions),
        builtin=False,
    )
    await repository.add(db, role)
    await _audit_catalog(
        db, actor, "role.created", environment.id, Ref("role", role.id), role.name, permissions=role.permissions
    )
    return role


async def update_role(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, name: str, body: RoleUpdate
) -> Role:
    """Changes a role's description or permission set (built-in roles too). Tokens show the change from their
    next refresh."""
    ensure_role(actor, TenantRole.ADMIN)
    environment = await _environment(db, actor, environment_id)
    role = await repository.role(db, environment.id, name)
    if role is None:
        raise not_found("role")
    changes: dict[str, Any] = {}
    if body.description is not None and body.description != role.description:
        role.description = changes["description"] = body.description
    if body.permissions is not None:
        permissions = await _known_permissions(db, environment.id, body.permissions)
        if permissions != role.permissions:
            changes["previousPermissions"] = role.permissions
            role.permissions = changes["permissions"] = permissions
    await db.flush()
    if changes:
        await _audit_catalog(db, actor, "role.updated", environment.id, Ref("role", role.id), role.name, **changes)
    return role


async def delete_role(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, name: str) -> None:
    """Deletes a custom role that no member holds. The row is deleted first, so a concurrent grant of the role
    either waits and fails or is seen here."""
    ensure_role(actor, TenantRole.ADMIN)
    environment = await _environment(db, actor, environment_id)
    if name in BUILTIN_ROLES:
        raise conflict("builtin_role", "The built-in roles cannot be deleted.")
    role_id = await repository.delete_role(db, environment.id, name)
    if role_id is None:
        raise not_found("role")
    if await repository.count_with_role(db, environment.id, name):
        raise conflict("role_in_use", "Members hold this role: give them another role first.")
    await _audit_catalog(db, actor, "role.deleted", environment.id, Ref("role", role_id), name)


async def _audit_catalog(
    db: AsyncSession,
    actor: TenantActor,
    action: str,
    environment_id: uuid.UUID,
    target: Ref,
    name: str,
    **details: Any,
) -> None:
    """A change of the environment's roles or permission catalog, by a tenant account, in its transaction."""
    await audit.record(
        db,
        action,
        tenant_id=actor.tenant_id,
        environment_id=environment_id,
        actor=ref(actor.account),
        target=target,
        details={"name": name, **details},
    )
