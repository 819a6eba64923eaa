"""Registering clients: an environment's applications and machine clients (owners and admins), and the
tenant's automation clients (owners). A secret is shown once, in the answer that creates it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from sump.access.actors import TenantActor
from sump.access.dependencies import EnvironmentId, TenantMember, allowed
from sump.clients import policy, service
from sump.clients.schemas import (
    AutomationClientCreate,
    AutomationClientUpdate,
    ClientCreate,
    ClientCreated,
    ClientUpdate,
    ClientView,
    NewSecret,
    SecretRotation,
)
from sump.db.tables.clients import Client
from sump.kit.deps import SettingsDep
from sump.kit.errors import problem_responses
from sump.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, link_next
from sump.kit.transactions import DbSession

router = APIRouter(tags=["clients"], responses=problem_responses(400, 401, 403, 404))
ClientPk = Annotated[uuid.UUID, Path(alias="id", description="The client's `id` (a UUID; not its public `clientId`).")]
Manager = Annotated[TenantActor, allowed(policy.manage)]
Owner = Annotated[TenantActor, allowed(policy.manage_automation)]
ENVIRONMENT = "/tenants/{tenantId}/environments/{environmentId}/clients"
AUTOMATION = "/tenants/{tenantId}/clients"
ONE = "/{id}"


def _created(client: Client, secret: str | None) -> ClientCreated:
    return ClientCreated(**ClientView.of(client).model_dump(), client_secret=secret)


def _secret(client: Client, secret: str, ends: datetime) -> NewSecret:
    return NewSecret.model_validate(
        {"client_id": client.client_id, "client_secret": secret, "previous_secrets_expire_at": ends}
    )


async def _page(
    request: Request,
    response: Response,
    actor: TenantActor,
    db: DbSession,
    environment_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> list[ClientView]:
    clients = await service.page(db, actor, environment_id, decode_cursor(cursor), limit)
    link_next(request, response, clients, limit)
    return [ClientView.of(client) for client in clients]


@router.post(ENVIRONMENT, status_code=201, response_model=ClientCreated)
async def create_client(
    environment_id: EnvironmentId, body: ClientCreate, actor: Manager, db: DbSession, settings: SettingsDep
) -> ClientCreated:
    """Registers an application or a machine client of the environment. The answer holds its secret, this once."""
    return _created(*await service.create(db, settings, actor, environment_id, body))


@router.get(ENVIRONMENT, response_model=list[ClientView])
async def list_clients(
    request: Request,
    response: Response,
    environment_id: EnvironmentId,
    actor: TenantMember,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> list[ClientView]:
    """The environment's clients, oldest first. The next page, if any, is in the `Link` header."""
    return await _page(request, response, actor, db, environment_id, limit, cursor)


@router.get(ENVIRONMENT + ONE, response_model=ClientView)
async def get_client(environment_id: EnvironmentId, pk: ClientPk, actor: TenantMember, db: DbSession) -> ClientView:
    return ClientView.of(await service.get(db, actor, environment_id, pk))


@router.patch(ENVIRONMENT + ONE, status_code=204)
async def update_client(
    environment_id: EnvironmentId,
    pk: ClientPk,
    body: ClientUpdate,
    actor: Manager,
    db: DbSession,
    settings: SettingsDep,
) -> None:
    """Changes what the client's purpose lets change (an application: redirect URIs, grant types, scopes, first
    party, ID tokens' algorithm; a machine client: audience and permissions)."""
    await service.update(db, settings, actor, environment_id, pk, body)


@router.delete(ENVIRONMENT + ONE, status_code=204)
async def delete_client(environment_id: EnvironmentId, pk: ClientPk, actor: Manager, db: DbSession) -> None:
    """Deletes the client; its secrets, codes and tokens stop working at once."""
    await service.delete(db, actor, environment_id, pk)


@router.post(
    ENVIRONMENT + ONE + "/secrets", status_code=201, response_model=NewSecret, responses=problem_responses(409)
)
async def rotate_client_secret(
    environment_id: EnvironmentId, pk: ClientPk, actor: Manager, db: DbSession, body: SecretRotation | None = None
) -> NewSecret:
    """A new secret, shown this once; the previous ones keep working for `overlapSeconds`."""
    return _secret(*await service.rotate(db, actor, environment_id, pk, (body or SecretRotation()).overlap_seconds))


@router.post(AUTOMATION, status_code=201, response_model=ClientCreated)
async def create_automation_client(body: AutomationClientCreate, actor: Owner, db: DbSession) -> ClientCreated:
    """Registers an automation client of the tenant (owners only), for Sump's admin API of this tenant with the
    permissions given. The answer holds its secret, this once."""
    return _created(*await service.create_automation(db, actor, body))


@router.get(AUTOMATION, response_model=list[ClientView])
async def list_automation_clients(
    request: Request,
    response: Response,
    actor: TenantMember,
    db: DbSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> list[ClientView]:
    """The tenant's automation clients, oldest first. The next page, if any, is in the `Link` header."""
    return await _page(request, response, actor, db, None, limit, cursor)


@router.get(AUTOMATION + ONE, response_model=ClientView)
async def get_automation_client(pk: ClientPk, actor: TenantMember, db: DbSession) -> ClientView:
    return ClientView.of(await service.get(db, actor, None, pk))


@router.patch(AUTOMATION + ONE, status_code=204)
async def update_automation_client(
    pk: ClientPk, body: AutomationClientUpdate, actor: Owner, db: DbSession, settings: SettingsDep
) -> None:
    await service.update(db, settings, actor, None, pk, body)


@router.delete(AUTOMATION + ONE, status_code=204)
async def delete_automation_client(pk: ClientPk, actor: Owner, db: DbSession) -> None:
    """Deletes the client; its tokens stop working at once."""
    await service.delete(db, actor, None, pk)


@router.post(AUTOMATION + ONE + "/secrets", status_code=201, response_model=NewSecret)
async def rotate_automation_client_secret(
    pk: ClientPk, actor: Owner, db: DbSession, body: SecretRotation | None = None
) -> NewSecret:
    """A new secret, shown this once; the previous ones (and the tokens they gave) keep working for
    `overlapSeconds`."""
    return _secret(*await service.rotate(db, actor, None, pk, (body or SecretRotation()).overlap_seconds))
