from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from sump.access.actors import TenantActor
from sump.access.dependencies import TenantMember, allowed
from sump.environments.schemas import EnvironmentView
from sump.kit.custom_properties import CustomProperties, CustomPropertyKey, readable
from sump.kit.errors import problem_responses
from sump.kit.transactions import DbSession
from sump.tenants import policy, service
from sump.tenants.schemas import TenantUpdate, TenantView

router = APIRouter(prefix="/tenants", tags=["tenants"], responses=problem_responses(400, 401, 403, 404))
PropertyChanges = Annotated[CustomProperties, Body(description="Every key is set; keys are literal.")]
Editor = Annotated[TenantActor, allowed(policy.edit)]
Deleter = Annotated[TenantActor, allowed(policy.delete)]


@router.get("/{tenantId}", response_model=TenantView)
async def get_tenant(actor: TenantMember, db: DbSession) -> TenantView:
    tenant, environments = await service.get(db, actor)
    return TenantView(
        id=tenant.id,
        name=tenant.name,
        custom_properties=readable(tenant.custom_properties),
        settings=service.settings_of(tenant),
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
        environments=[EnvironmentView.of(environment) for environment in environments],
    )


@router.patch("/{tenantId}", status_code=204)
async def update_tenant(body: TenantUpdate, actor: Editor, db: DbSession) -> None:
    await service.update(db, actor, body)


@router.delete("/{tenantId}", status_code=204)
async def delete_tenant(actor: Deleter, db: DbSession) -> None:
    """Deletes the tenant with everything in it and revokes every session of it. Owners only."""
    await service.delete(db, actor)


@router.patch("/{tenantId}/custom-property", status_code=204, responses=problem_responses(413))
async def set_custom_properties(changes: PropertyChanges, actor: Editor, db: DbSession) -> None:
    """Sets every key of the body. At most 64 keys of 64 characters and 16 KiB in all."""
    await service.set_properties(db, actor, changes)


@router.delete("/{tenantId}/custom-property", status_code=204)
async def delete_custom_property(body: CustomPropertyKey, actor: Editor, db: DbSession) -> None:
    await service.delete_property(db, actor, body.custom_property)
