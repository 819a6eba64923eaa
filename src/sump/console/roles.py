"""Console pages for an environment's roles and permission catalog: the catalog with custom permissions created
and deleted when no role grants them, and roles created, edited and deleted when no member holds them.

Everything goes through `sump.organizations.service.catalog`, as the API's catalog routes do: any tenant account
reads, owners and admins change (403), another tenant's environment answers 404. A control is shown enabled when
`sump.organizations.policy` allows it, or disabled with the refusal's sentence (the built-in ones, a permission a
role grants, a role members hold).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import ImmutableMultiDict

from sump.access.actors import TenantActor
from sump.console.web import Actor, FormErrors, problem_errors, read_form, redirect, render, roll_back, validated
from sump.db.tables.organizations import BUILTIN_ROLES, Role
from sump.environments import service as environments
from sump.kit.deps import SettingsDep
from sump.kit.errors import Problem, not_found
from sump.kit.transactions import DbSession
from sump.organizations import policy
from sump.organizations.schemas import PermissionCreate, RoleCreate, RoleUpdate
from sump.organizations.service import catalog

router = APIRouter(prefix="/environments/{environment_id}")
RoleName = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
PermissionName = Annotated[str, Path(max_length=100, pattern=r"^[a-z][a-z0-9_.-]*(:[a-z][a-z0-9_.-]*)+$")]


def roles_path(environment_id: uuid.UUID) -> str:
    return f"/console/environments/{environment_id}/roles"


def _role_fields(form: ImmutableMultiDict[str, str], prefix: str = "") -> dict[str, Any]:
    """The role form's fields by their wire names; the create form names them `roleName`, `roleDescription`."""
    return {
        "name": form.get(f"{prefix}Name" if prefix else "name", "").strip(),
        "description": form.get(f"{prefix}Description" if prefix else "description", "").strip(),
        "permissions": [name for name in form.getlist("permissions") if name.strip()],
    }


def _form_errors(failed: FormErrors | Problem, prefix: str = "") -> tuple[int, dict[str, str]]:
    """The refusal's status and messages by field, the fields named as on the page (`name` of the role form is
    `roleName` there: two forms share the page)."""
    if isinstance(failed, Problem):
        if failed.status == 404:
            raise failed
        status, failed = failed.status, problem_errors(failed)
    else:
        status = 400
    errors = {}
    for field, message in failed.errors.items():
        field = field.split(".")[0]
        errors[f"{prefix}{field.title()}" if prefix and field != "permissions" else field] = message
    return status, errors or {"form": failed.message or "The form has errors."}


# ------------------------------------------------------------------------------------------ the catalog


async def _index(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    environment_id: uuid.UUID,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    environment = await environments.get(db, actor, environment_id)
    permissions = await catalog.permissions(db, actor, environment.id)
    roles = await catalog.roles(db, actor, environment.id)
    holders = await catalog.role_holders(db, actor, environment.id)
    edit = policy.edit_catalog(actor)
    granted = {permission.name: catalog.granted_by(roles, permission.name) for permission in permissions}
    return render(
        request,
        "roles/index.html",
        status,
        actor=actor,
        section="environments",
        environment=environment,
        permissions=permissions,
        roles=roles,
        holders=holders,
        granted=granted,
        builtin_permissions={p.name for p in permissions if catalog.builtin_permission(p.name)},
        edit=edit,
        permission_refusals={
            p.name: edit or policy.delete_permission(p.name, catalog.builtin_permission(p.name), granted[p.name])
            for p in permissions
        },
        role_refusals={
            role.name: edit or policy.delete_role(role.name, role.builtin, holders.get(role.name, 0)) for role in roles
        },
        errors=errors,
        values={"permissions": [], **(values or {})},
    )


@router.get("/roles")
async def roles_page(request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession) -> Response:
    return await _index(request, db, actor, environment_id)


async def _refused(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    environment_id: uuid.UUID,
    failed: FormErrors | Problem,
    prefix: str,
    values: dict[str, Any] | None = None,
) -> Response:
    status, errors = _form_errors(failed, prefix)
    await roll_back(db, actor)
    return await _index(request, db, actor, environment_id, status, errors, values)


@router.post("/permissions/new")
async def create_permission(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    values = {
        "permissionName": form.get("permissionName", "").strip(),
        "permissionDescription": form.get("permissionDescription", "").strip(),
    }
    try:
        body = validated(
            PermissionCreate, {"name": values["permissionName"], "description": values["permissionDescription"]}
        )
        permission = await catalog.create_permission(db, actor, environment_id, body)
    except (FormErrors, Problem) as failed:
        return await _refused(request, db, actor, environment_id, failed, "permission", values)
    return redirect(request, roles_path(environment_id), f"Permission {permission.name} created.")


@router.post("/permissions/{permission_name}/delete")
async def delete_permission(
    request: Request,
    environment_id: uuid.UUID,
    permission_name: PermissionName,
    actor: Actor,
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    await read_form(request, settings)
    try:
        await catalog.delete_permission(db, actor, environment_id, permission_name)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _refused(request, db, actor, environment_id, problem, "")
    return redirect(request, roles_path(environment_id), f"Permission {permission_name} deleted.")


@router.post("/roles/new")
async def create_role(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    fields = _role_fields(form, "role")
    values = {
        "roleName": fields["name"],
        "roleDescription": fields["description"],
        "permissions": fields["permissions"],
    }
    try:
        role = await catalog.create_role(db, actor, environment_id, validated(RoleCreate, fields))
    except (FormErrors, Problem) as failed:
        return await _refused(request, db, actor, environment_id, failed, "role", values)
    return redirect(request, role_path(environment_id, role.name), f"Role {role.name} created.")


# --------------------------------------------------------------------------------------------- one role


def role_path(environment_id: uuid.UUID, name: str) -> str:
    return f"{roles_path(environment_id)}/{name}"


async def _role_page(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    environment_id: uuid.UUID,
    name: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    environment = await environments.get(db, actor, environment_id)
    role: Role | None = next((one for one in await catalog.roles(db, actor, environment.id) if one.name == name), None)
    if role is None:
        raise not_found("role")
    holders = (await catalog.role_holders(db, actor, environment.id)).get(role.name, 0)
    edit = policy.edit_catalog(actor)
    return render(
        request,
        "roles/edit.html",
        status,
        actor=actor,
        section="environments",
        environment=environment,
        role=role,
        holders=holders,
        permissions=await catalog.permissions(db, actor, environment.id),
        edit=edit,
        delete=edit or policy.delete_role(role.name, role.name in BUILTIN_ROLES, holders),
        errors=errors,
        values={"description": role.description, "permissions": role.permissions, **(values or {})},
    )


@router.get("/roles/{role_name}")
async def role_page(
    request: Request, environment_id: uuid.UUID, role_name: RoleName, actor: Actor, db: DbSession
) -> Response:
    return await _role_page(request, db, actor, environment_id, role_name)


@router.post("/roles/{role_name}")
async def save_role(
    request: Request,
    environment_id: uuid.UUID,
    role_name: RoleName,
    actor: Actor,
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    form = await read_form(request, settings)
    fields = _role_fields(form)
    values = {"description": fields["description"], "permissions": fields["permissions"]}
    try:
        body = validated(RoleUpdate, values)
        await catalog.update_role(db, actor, environment_id, role_name, body)
    except (FormErrors, Problem) as failed:
        status, errors = _form_errors(failed, "")
        await roll_back(db, actor)
        return await _role_page(request, db, actor, environment_id, role_name, status, errors, values)
    return redirect(request, role_path(environment_id, role_name), f"Role {role_name} saved.")


@router.post("/roles/{role_name}/delete")
async def delete_role(
    request: Request,
    environment_id: uuid.UUID,
    role_name: RoleName,
    actor: Actor,
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    await read_form(request, settings)
    try:
        await catalog.delete_role(db, actor, environment_id, role_name)
    except Problem as problem:
        if problem.status == 404:
            raise
        await roll_back(db, actor)
        errors = {"form": problem.detail}
        return await _role_page(request, db, actor, environment_id, role_name, problem.status, errors)
    return redirect(request, roles_path(environment_id), f"Role {role_name} deleted.")
