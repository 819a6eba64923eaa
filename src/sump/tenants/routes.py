from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from sump.auth.cookies import set_session_cookie
from sump.auth.dependencies import TenantAdmin, TenantMember, TenantOwner
from sump.db.deps import DbSession
from sump.environments.schemas import EnvironmentView
from sump.kit.custom_properties import CustomProperties, CustomPropertyKey
from sump.kit.deps import ClientDep, HasherDep, SettingsDep
from sump.kit.errors import problem_responses
from sump.kit.ratelimit import per_ip
from sump.tenants import service
from sump.tenants.schemas import NewTenantSession, TenantCreate, TenantCreated, TenantUpdate, TenantView

router = APIRouter(prefix="/tenants", tags=["tenants"], responses=problem_responses(400, 401, 403, 404))
CREATE_PER_IP = "10/minute"
PropertyChanges = Annotated[CustomProperties, Body(description="Every key is set; keys are literal.")]


@router.post(
    "",
    status_code=201,
    response_model=TenantCreated,
    dependencies=[Depends(per_ip("tenant-create", CREATE_PER_IP))],
    responses=problem_responses(409, 413, 429, 503),
)
async def create_tenant(
    body: TenantCreate,
    response: Response,
    db: DbSession,
    hasher: HasherDep,
    settings: SettingsDep,
    client: ClientDep,
) -> TenantCreated:
    """Creates the tenant, its owner, a first environment (`default` unless named) and the owner's session."""
    created = await service.create(db, hasher, settings, body, client)
    set_session_cookie(response, settings, created.session.token)
    session = created.session.session
    return TenantCreated(
        tenant_id=created.tenant.id,
        account_id=created.owner.id,
        environment_id=created.environment.id,
        session=NewTenantSession(
            id=session.id,
            account_type=session.account_type.value,
            account_id=session.account_id,
            context_type="tenant",
            context_id=session.tenant_id,
            expires_at=session.expires_at,
        ),
        token=created.session.token,
    )


@router.get("/{tenantId}", response_model=TenantView)
async def get_tenant(actor: TenantMember, db: DbSession) -> TenantView:
    tenant, environments = await service.get(db, actor)
    return TenantView(
        id=tenant.id,
        name=tenant.name,
        custom_properties=tenant.custom_properties,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
        environments=[EnvironmentView.of(environment) for environment in environments],
    )


@router.patch("/{tenantId}", status_code=204)
async def update_tenant(body: TenantUpdate, actor: TenantAdmin, db: DbSession) -> None:
    await service.update(db, actor, body)


@router.delete("/{tenantId}", status_code=204)
async def delete_tenant(actor: TenantOwner, db: DbSession) -> None:
    """Deletes the tenant with everything in it and revokes every session of it. Owners only."""
    await service.delete(db, actor)


@router.patch("/{tenantId}/custom-property", status_code=204, responses=problem_responses(413))
async def set_custom_properties(changes: PropertyChanges, actor: TenantAdmin, db: DbSession) -> None:
    """Sets every key of the body. At most 64 keys of 64 characters and 16 KiB in all."""
    await service.set_properties(db, actor, changes)


@router.delete("/{tenantId}/custom-property", status_code=204)
async def delete_custom_property(body: CustomPropertyKey, actor: TenantAdmin, db: DbSession) -> None:
    await service.delete_property(db, actor, body.custom_property)
