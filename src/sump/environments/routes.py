from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request, Response

from sump.access.actors import TenantActor
from sump.access.dependencies import TenantMember, allowed
from sump.environments import policy, service
from sump.environments.schemas import EnvironmentCreate, EnvironmentUpdate, EnvironmentView
from sump.kit.custom_properties import CustomProperties, CustomPropertyKey
from sump.kit.errors import problem_responses
from sump.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, link_next
from sump.kit.schemas import Created
from sump.kit.transactions import DbSession

router = APIRouter(
    prefix="/tenants/{tenantId}/environments",
    tags=["environments"],
    responses=problem_responses(400, 401, 403, 404),
)
EnvironmentId = Annotated[uuid.UUID, Path(alias="environmentId")]
PropertyChanges = Annotated[CustomProperties, Body(description="Every key is set; keys are literal.")]
Manager = Annotated[TenantActor, allowed(policy.manage)]


@router.post("", status_code=201, response_model=Created, responses=problem_responses(409, 413))
async def create_environment(body: EnvironmentCreate, actor: Manager, db: DbSession) -> Created:
    environment = await service.create(db, actor, body)
    return Created(id=environment.id)


@router.get("", response_model=list[EnvironmentView])
async def list_environments(
    request: Request,
    response: Response,
    actor: TenantMember,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> list[EnvironmentView]:
    """Environments of the tenant, oldest first. The next page, if any, is in the `Link` header."""
    environments = await service.page(db, actor, decode_cursor(cursor), limit)
    link_next(request, response, environments, limit)
    return [EnvironmentView.of(environment) for environment in environments]


@router.get("/{environmentId}", response_model=EnvironmentView)
async def get_environment(environment_id: EnvironmentId, actor: TenantMember, db: DbSession) -> EnvironmentView:
    return EnvironmentView.of(await service.get(db, actor, environment_id))


@router.patch("/{environmentId}", status_code=204, responses=problem_responses(409))
async def update_environment(
    environment_id: EnvironmentId, body: EnvironmentUpdate, actor: Manager, db: DbSession
) -> None:
    await service.update(db, actor, environment_id, body)


@router.delete("/{environmentId}", status_code=204)
async def delete_environment(environment_id: EnvironmentId, actor: Manager, db: DbSession) -> None:
    """Deletes the environment with all its end users, and revokes their sessions."""
    await service.delete(db, actor, environment_id)


@router.patch("/{environmentId}/custom-property", status_code=204, responses=problem_responses(413))
async def set_custom_properties(
    environment_id: EnvironmentId, changes: PropertyChanges, actor: Manager, db: DbSession
) -> None:
    """Sets every key of the body. At most 64 keys of 64 characters and 16 KiB in all."""
    await service.set_properties(db, actor, environment_id, changes)


@router.delete("/{environmentId}/custom-property", status_code=204)
async def delete_custom_property(
    environment_id: EnvironmentId, body: CustomPropertyKey, actor: Manager, db: DbSession
) -> None:
    await service.delete_property(db, actor, environment_id, body.custom_property)
