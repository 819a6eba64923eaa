"""An environment's permission catalog and roles (name → permission names), seeded on first use with the
reference system's nine permissions and its three roles, managed by the tenant's owners and admins, every
change audited. The built-in roles can be edited but not deleted; a role that members hold cannot be deleted."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.db.base import utcnow, uuid7
from sump.db.tables.environments import Environment
from sump.db.tables.organizations import BUILTIN_ROLES, ORG_ADMIN, ORG_USER, READ_ONLY, Permission, Role
from sump.environments import service as environments
from sump.kit import audit
from sump.kit.audit import Ref, ref
from sump.kit.errors import bad_request, conflict, not_found
from sump.organizations import policy, repository
from sump.organizations.schemas import PermissionCreate, RoleCreate, RoleUpdate

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


async def _environment(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> Environment:
    environment = await environments.get(db, actor, environment_id)
    await ensure_seeded(db, environment.id)
    return environment


async def permissions(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> list[Permission]:
    environment = await _environment(db, actor, environment_id)
    return await repository.permissions(db, environment.id)


async def create_permission(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, body: PermissionCreate
) -> Permission:
    require(policy.edit_catalog(actor))
    environment = await _environment(db, actor, environment_id)
    if await repository.permission_names(db, environment.id, [body.name]):
        raise conflict("permission_exists", "The catalog already has this permission.", "name")
    permission = Permission(environment_id=environment.id, name=body.name, description=body.description)
    await repository.add(db, permission)
    await _audit(db, actor, "permission.created", environment.id, Ref("permission", permission.id), body.name)
    return permission


async def roles(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> list[Role]:
    environment = await _environment(db, actor, environment_id)
    return await repository.roles(db, environment.id)


async def _known_permissions(db: AsyncSession, environment_id: uuid.UUID, names: list[str]) -> list[str]:
    wanted = sorted(set(names))
    if len(await repository.permission_names(db, environment_id, wanted, share=True)) != len(wanted):
        raise bad_request("unknown_permission", "Every permission must be in the environment's catalog.", "permissions")
    return wanted


async def create_role(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, body: RoleCreate) -> Role:
    require(policy.edit_catalog(actor))
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
    await _audit(
        db, actor, "role.created", environment.id, Ref("role", role.id), role.name, permissions=role.permissions
    )
    return role


async def update_role(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, name: str, body: RoleUpdate
) -> Role:
    """Changes a role's description or permission set (built-in roles too). Tokens show the change from their
    next refresh."""
    require(policy.edit_catalog(actor))
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
        await _audit(db, actor, "role.updated", environment.id, Ref("role", role.id), role.name, **changes)
    return role


async def delete_role(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, name: str) -> None:
    """Deletes a custom role that no member holds. The row is deleted first, so a concurrent grant of the role
    either waits and fails or is seen here."""
    require(policy.edit_catalog(actor))
    environment = await _environment(db, actor, environment_id)
    require(policy.delete_role(name, name in BUILTIN_ROLES, 0))
    role_id = await repository.delete_role(db, environment.id, name)
    if role_id is None:
        raise not_found("role")
    require(policy.delete_role(name, False, await repository.count_with_role(db, environment.id, name)))
    await _audit(db, actor, "role.deleted", environment.id, Ref("role", role_id), name)


async def role_holders(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> dict[str, int]:
    """How many members hold each role of the environment (0 for roles nobody holds)."""
    environment = await _environment(db, actor, environment_id)
    held = await repository.holders_by_role(db, environment.id)
    return {role.name: held.get(role.name, 0) for role in await repository.roles(db, environment.id)}


def builtin_permission(name: str) -> bool:
    return name in DEFAULT_PERMISSIONS


def granted_by(roles: list[Role], name: str) -> list[str]:
    """The names of the roles that grant the permission `name`."""
    return [role.name for role in roles if name in role.permissions]


async def delete_permission(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, name: str) -> None:
    """Deletes a custom permission that no role grants. The row is deleted first, and roles given a permission
    hold it with a shared lock (`_known_permissions`), so a concurrent grant either waits and fails or is seen
    here."""
    require(policy.edit_catalog(actor))
    environment = await _environment(db, actor, environment_id)
    require(policy.delete_permission(name, builtin_permission(name), []))
    permission_id = await repository.delete_permission(db, environment.id, name)
    if permission_id is None:
        raise not_found("permission")
    used_by = granted_by(await repository.roles(db, environment.id), name)
    require(policy.delete_permission(name, False, used_by))
    await _audit(db, actor, "permission.deleted", environment.id, Ref("permission", permission_id), name)


async def _audit(
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
