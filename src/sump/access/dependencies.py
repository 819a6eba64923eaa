"""Turning a request into an actor: the route dependencies every API route declares.

The credential is read once (`Authorization: Bearer`, else the signed `sump_session` cookie) and resolved by
the application's one `Credentials` resolver; then:
- no live session valid here: 401
- a session of another tenant on a tenant's objects: 404, as if they did not exist
- a rule of the feature's policy refuses: 403 (only within one's own tenant)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from sump.access import automation
from sump.access.actors import (
    ClientActor,
    Credentials,
    EndUser,
    EnvironmentActor,
    SignedIn,
    TenantActor,
    end_user_of,
    tenant_account_of,
)
from sump.access.cookies import session_token
from sump.access.policy import Verdict, require
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.deps import SettingsDep
from sump.kit.errors import not_found, unauthenticated
from sump.kit.transactions import DbSession

TenantId = Annotated[uuid.UUID, Path(alias="tenantId", description="Tenant id.")]
EnvironmentId = Annotated[uuid.UUID, Path(alias="environmentId", description="Environment id.")]


def credentials(request: Request) -> Credentials:
    resolver: Credentials = request.app.state.credentials
    return resolver


async def _signed_in(request: Request, db: DbSession, settings: SettingsDep) -> SignedIn | None:
    token = session_token(request, settings)
    return await credentials(request).signed_in(db, token) if token else None


SignedInDep = Annotated[SignedIn | None, Depends(_signed_in)]


async def tenant_session(tenant_id: TenantId, found: SignedInDep) -> TenantActor:
    """For `/auth/tenants/{tenantId}/…`: a session counts only in its own tenant (else 401)."""
    if found is None or not tenant_account_of(found[1], tenant_id):
        raise unauthenticated()
    return TenantActor(found[0], found[1])


async def end_user_session(environment_id: EnvironmentId, found: SignedInDep) -> EndUser:
    """For `/auth/environments/{environmentId}/…`: a session counts only in its own environment (else 401)."""
    if found is None or not end_user_of(found[1], environment_id):
        raise unauthenticated()
    return EndUser(found[0], found[1])


async def _automation(request: Request, db: DbSession, settings: SettingsDep, found: SignedInDep) -> ClientActor | None:
    """The tenant's automation client whose bearer token the request carries, if that is what it carries.
    Looked up only when the credential is no live session: a person's admin request costs no second lookup."""
    if found is not None:
        return None
    token = session_token(request, settings)
    return await credentials(request).automation(db, token) if token else None


AutomationDep = Annotated[ClientActor | None, Depends(_automation)]


def _as_client(request: Request, client: ClientActor) -> TenantActor:
    """The one place that decides what an automation client may do on the route it calls (`access.automation`):
    403 with the refusal's code otherwise."""
    route = request.scope.get("route")
    require(automation.may_call(client, request.method, getattr(route, "path", "")))
    return automation.stand_in(client)


async def tenant_member(
    request: Request, tenant_id: TenantId, found: SignedInDep, client: AutomationDep
) -> TenantActor:
    """For `/tenants/{tenantId}/…`: another tenant's objects answer 404. An automation client of the tenant
    counts on the routes its permissions name."""
    if found is None and client is not None:
        if client.tenant_id != tenant_id:
            raise not_found("tenant")
        return _as_client(request, client)
    if found is None or not isinstance(found[1], TenantAccount):
        raise unauthenticated()
    if found[1].tenant_id != tenant_id:
        raise not_found("tenant")
    return TenantActor(found[0], found[1])


def allowed(rule: Callable[[TenantActor], Verdict]) -> Any:
    """`Annotated[TenantActor, allowed(policy.manage)]`: a member of the path's tenant whom the feature's rule
    allows (the same rule its service enforces and its console pages show)."""

    async def dependency(actor: TenantActor = Depends(tenant_member)) -> TenantActor:
        require(rule(actor))
        return actor

    return Depends(dependency)


async def environment_actor(
    request: Request, environment_id: EnvironmentId, db: DbSession, settings: SettingsDep
) -> EnvironmentActor:
    """For `/environments/{environmentId}/…`: tenant accounts of another tenant get 404, end users of
    another environment 401; an automation client of another tenant 404. A session, its account and the path's
    environment are read in one statement."""
    token = session_token(request, settings)
    found = await credentials(request).signed_in_with_environment(db, token, environment_id) if token else None
    if found is None:
        client = await credentials(request).automation(db, token) if token else None
        if client is None:
            raise unauthenticated()
        environment = await credentials(request).environment(db, client.tenant_id, environment_id)
        if environment is None:
            raise not_found("environment")
        return EnvironmentActor(environment, manager=_as_client(request, client))
    (session, account), environment = found
    if isinstance(account, TenantAccount):
        if environment is None:
            raise not_found("environment")
        return EnvironmentActor(environment, manager=TenantActor(session, account))
    if account.environment_id != environment_id or environment is None:
        raise unauthenticated()
    return EnvironmentActor(environment, end_user=EndUser(session, account))


CurrentTenantSession = Annotated[TenantActor, Depends(tenant_session)]
CurrentEndUser = Annotated[EndUser, Depends(end_user_session)]
TenantMember = Annotated[TenantActor, Depends(tenant_member)]
EnvironmentActorDep = Annotated[EnvironmentActor, Depends(environment_actor)]
