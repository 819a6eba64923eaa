"""`/environments/{environmentId}/organizations…`: organizations of end users and their members; and
`/tenants/{tenantId}/environments/{environmentId}/permissions|roles`: the environment's catalog and roles,
managed by the tenant's owners and admins."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from sump.access.actors import TenantActor
from sump.access.dependencies import EnvironmentActorDep, EnvironmentId, TenantMember, allowed
from sump.kit.errors import problem_responses
from sump.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, link_next
from sump.kit.schemas import Created
from sump.kit.transactions import DbSession
from sump.organizations import policy
from sump.organizations.schemas import (
    MemberAdd,
    MemberRoleChange,
    MemberView,
    OrganizationCreate,
    OrganizationUpdate,
    OrganizationView,
    PermissionCreate,
    PermissionView,
    RoleCreate,
    RoleUpdate,
    RoleView,
)
from sump.organizations.service import catalog, members, organizations

router = APIRouter(
    prefix="/environments/{environmentId}/organizations",
    tags=["organizations"],
    responses=problem_responses(400, 401, 403, 404),
)
catalog_router = APIRouter(
    prefix="/tenants/{tenantId}/environments/{environmentId}",
    tags=["roles and permissions"],
    responses=problem_responses(400, 401, 403, 404),
)
OrganizationId = Annotated[uuid.UUID, Path(alias="organizationId")]
AccountId = Annotated[uuid.UUID, Path(alias="accountId")]
# The names a role can have (`RoleCreate`): anything else, a NUL or a space included, is a 400 before any lookup.
RoleName = Annotated[str, Path(alias="roleName", max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
# The names a permission can have (`PermissionCreate`); anything else is a 400 before any lookup.
PermissionPathName = Annotated[
    str, Path(alias="permissionName", max_length=100, pattern=r"^[a-z][a-z0-9_.-]*(:[a-z][a-z0-9_.-]*)+$")
]
CatalogEditor = Annotated[TenantActor, allowed(policy.edit_catalog)]


def _first_id(row: Any) -> uuid.UUID:
    """The cursor of a page of (entity, …) rows: its entity's id."""
    entity_id: uuid.UUID = row[0].id
    return entity_id


@router.post("", status_code=201, response_model=Created, responses=problem_responses(409))
async def create_organization(body: OrganizationCreate, actor: EnvironmentActorDep, db: DbSession) -> Created:
    """Creates an organization. An end user who creates one becomes its ORG_ADMIN; a tenant owner or admin
    names the end user who does (`adminAccountId`). Names are unique per environment."""
    organization = await organizations.create(db, actor, body)
    return Created(id=organization.id)


@router.get("", response_model=list[OrganizationView])
async def list_organizations(
    request: Request,
    response: Response,
    actor: EnvironmentActorDep,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> list[OrganizationView]:
    """An end user's own organizations, with their role; for tenant accounts, all of the environment's.
    Oldest first; the next page, if any, is in the `Link` header."""
    rows = await organizations.page(db, actor, decode_cursor(cursor), limit)
    link_next(request, response, rows, limit, _first_id)
    return [OrganizationView.of(organization, role) for organization, role in rows]


@router.get("/{organizationId}", response_model=OrganizationView)
async def get_organization(
    organization_id: OrganizationId, actor: EnvironmentActorDep, db: DbSession
) -> OrganizationView:
    """Members and tenant accounts only; for anyone else the organization does not exist."""
    return OrganizationView.of(*await organizations.get(db, actor, organization_id))


@router.patch("/{organizationId}", status_code=204, responses=problem_responses(409))
async def rename_organization(
    organization_id: OrganizationId, body: OrganizationUpdate, actor: EnvironmentActorDep, db: DbSession
) -> None:
    """ORG_ADMIN, or a tenant owner or admin."""
    await organizations.rename(db, actor, organization_id, body.name)


@router.delete("/{organizationId}", status_code=204)
async def delete_organization(organization_id: OrganizationId, actor: EnvironmentActorDep, db: DbSession) -> None:
    """ORG_ADMIN, or a tenant owner or admin. Memberships go with it; refresh tokens issued for it are revoked."""
    await organizations.delete(db, actor, organization_id)


@router.get("/{organizationId}/members", response_model=list[MemberView])
async def list_members(
    request: Request,
    response: Response,
    organization_id: OrganizationId,
    actor: EnvironmentActorDep,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> list[MemberView]:
    """Members in the order they joined (needs `users:read`). The next page, if any, is in the `Link` header."""
    rows = await members.members(db, actor, organization_id, decode_cursor(cursor), limit)
    link_next(request, response, rows, limit, _first_id)
    return [MemberView.of(membership, account) for membership, account in rows]


@router.post("/{organizationId}/members", status_code=201, response_model=MemberView, responses=problem_responses(409))
async def add_member(
    organization_id: OrganizationId, body: MemberAdd, actor: EnvironmentActorDep, db: DbSession
) -> MemberView:
    """Adds an end user of the same environment with a role of the environment (ORG_USER by default): the
    tenant's owners and admins and its automation clients. An ORG_ADMIN who is an end user gets 403
    `invitation_required`: end users join by accepting an invitation (`…/invitations`)."""
    return MemberView.of(*await members.add_member(db, actor, organization_id, body))


@router.patch("/{organizationId}/members/{accountId}", status_code=204, responses=problem_responses(409))
async def change_member_role(
    organization_id: OrganizationId,
    account_id: AccountId,
    body: MemberRoleChange,
    actor: EnvironmentActorDep,
    db: DbSession,
) -> None:
    """The last ORG_ADMIN cannot be demoted (409). Tokens carry the new role from their next refresh."""
    await members.change_role(db, actor, organization_id, account_id, body.role)


@router.delete("/{organizationId}/members/{accountId}", status_code=204, responses=problem_responses(409))
async def remove_member(
    organization_id: OrganizationId, account_id: AccountId, actor: EnvironmentActorDep, db: DbSession
) -> None:
    """ORG_ADMIN, a tenant owner or admin, or the member leaving. The last ORG_ADMIN cannot be removed (409).
    The member's refresh tokens for this organization are revoked."""
    await members.remove_member(db, actor, organization_id, account_id)


@catalog_router.get("/permissions", response_model=list[PermissionView])
async def list_permissions(environment_id: EnvironmentId, actor: TenantMember, db: DbSession) -> list[PermissionView]:
    """The environment's permission catalog, by name."""
    return [PermissionView.of(permission) for permission in await catalog.permissions(db, actor, environment_id)]


@catalog_router.post("/permissions", status_code=201, response_model=PermissionView, responses=problem_responses(409))
async def create_permission(
    environment_id: EnvironmentId, body: PermissionCreate, actor: CatalogEditor, db: DbSession
) -> PermissionView:
    return PermissionView.of(await catalog.create_permission(db, actor, environment_id, body))


@catalog_router.delete("/permissions/{permissionName}", status_code=204, responses=problem_responses(409))
async def delete_permission(
    environment_id: EnvironmentId, permission_name: PermissionPathName, actor: CatalogEditor, db: DbSession
) -> None:
    """Deletes a custom permission that no role grants (409 `permission_in_use` naming the roles that do); the
    nine built-in permissions cannot be deleted (409 `builtin_permission`)."""
    await catalog.delete_permission(db, actor, environment_id, permission_name)


@catalog_router.get("/roles", response_model=list[RoleView])
async def list_roles(environment_id: EnvironmentId, actor: TenantMember, db: DbSession) -> list[RoleView]:
    """The roles of the environment's organizations with their permissions, by name."""
    return [RoleView.of(role) for role in await catalog.roles(db, actor, environment_id)]


@catalog_router.post("/roles", status_code=201, response_model=RoleView, responses=problem_responses(409))
async def create_role(environment_id: EnvironmentId, body: RoleCreate, actor: CatalogEditor, db: DbSession) -> RoleView:
    return RoleView.of(await catalog.create_role(db, actor, environment_id, body))


@catalog_router.patch("/roles/{roleName}", response_model=RoleView)
async def update_role(
    environment_id: EnvironmentId, role_name: RoleName, body: RoleUpdate, actor: CatalogEditor, db: DbSession
) -> RoleView:
    """Changes a role's description or permissions, built-in roles included."""
    return RoleView.of(await catalog.update_role(db, actor, environment_id, role_name, body))


@catalog_router.delete("/roles/{roleName}", status_code=204, responses=problem_responses(409))
async def delete_role(environment_id: EnvironmentId, role_name: RoleName, actor: CatalogEditor, db: DbSession) -> None:
    """Deletes a custom role no member holds; the built-in roles cannot be deleted (409)."""
    await catalog.delete_role(db, actor, environment_id, role_name)
