"""What a tenant's automation client may do: the one table of the admin API's routes it may call, each with the
permission it needs. Any other route (tenant accounts and their roles, one's own sessions and factors, clients,
signing keys, the tenant itself) needs a human and answers 403 `client_not_allowed`.

A client that passes acts through a stand-in tenant account of the `admin` role (never `owner`), made here and
never stored, so the features' own policies and services apply to it unchanged; its id is the client's, and the
audit log names the client as the actor."""

from __future__ import annotations

import uuid

from sump.access.actors import ClientActor, TenantActor
from sump.access.policy import Refusal, Verdict
from sump.db.base import utcnow
from sump.db.tables.sessions import AccountType, Session
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.kit.context import acting_client_var

# Permission, method and path (under /api/v1; `{env}` is `/environments/{environmentId}`).
TABLE = """
environments:read    GET     /tenants/{tenantId}/environments
environments:read    GET     /tenants/{tenantId}{env}
environments:read    GET     /tenants/{tenantId}{env}/permissions
environments:read    GET     /tenants/{tenantId}{env}/roles
environments:write   POST    /tenants/{tenantId}/environments
environments:write   PATCH   /tenants/{tenantId}{env}
environments:write   DELETE  /tenants/{tenantId}{env}
environments:write   PATCH   /tenants/{tenantId}{env}/custom-property
environments:write   DELETE  /tenants/{tenantId}{env}/custom-property
environments:write   POST    /tenants/{tenantId}{env}/permissions
environments:write   DELETE  /tenants/{tenantId}{env}/permissions/{permissionName}
environments:write   POST    /tenants/{tenantId}{env}/roles
environments:write   PATCH   /tenants/{tenantId}{env}/roles/{roleName}
environments:write   DELETE  /tenants/{tenantId}{env}/roles/{roleName}
end_users:read       GET     {env}/accounts
end_users:read       GET     {env}/accounts/{accountId}
end_users:write      POST    {env}/accounts
end_users:write      PATCH   {env}/accounts/{accountId}
end_users:write      DELETE  {env}/accounts/{accountId}
end_users:write      PATCH   {env}/accounts/{accountId}/email
end_users:write      PATCH   {env}/accounts/{accountId}/phone
end_users:write      PATCH   {env}/accounts/{accountId}/username
end_users:write      PATCH   {env}/accounts/{accountId}/custom-property
end_users:write      DELETE  {env}/accounts/{accountId}/custom-property
end_users:write      PATCH   {env}/accounts/{accountId}/disable
end_users:write      PATCH   {env}/accounts/{accountId}/enable
end_users:write      DELETE  {env}/accounts/{accountId}/sessions
end_users:write      POST    {env}/accounts/{accountId}/password-reset
end_users:write      POST    {env}/accounts/{accountId}/invitation
end_users:write      POST    {env}/accounts/{accountId}/email-verified
organizations:read   GET     {env}/organizations
organizations:read   GET     {env}/organizations/{organizationId}
organizations:read   GET     {env}/organizations/{organizationId}/members
organizations:read   GET     {env}/organizations/{organizationId}/invitations
organizations:write  POST    {env}/organizations
organizations:write  PATCH   {env}/organizations/{organizationId}
organizations:write  DELETE  {env}/organizations/{organizationId}
organizations:write  POST    {env}/organizations/{organizationId}/members
organizations:write  PATCH   {env}/organizations/{organizationId}/members/{accountId}
organizations:write  DELETE  {env}/organizations/{organizationId}/members/{accountId}
organizations:write  POST    {env}/organizations/{organizationId}/invitations
organizations:write  POST    {env}/organizations/{organizationId}/invitations/{invitationId}/resend
organizations:write  DELETE  {env}/organizations/{organizationId}/invitations/{invitationId}
audit:read           GET     /tenants/{tenantId}/audit-events
audit:read           GET     {env}/audit-events
"""


def _parse(table: str) -> dict[tuple[str, str], str]:
    routes: dict[tuple[str, str], str] = {}
    for line in table.strip().splitlines():
        permission, method, path = line.split()
        routes[method, path.replace("{env}", "/environments/{environmentId}")] = permission
    return routes


ROUTES = _parse(TABLE)


def may_call(actor: ClientActor, method: str, path: str) -> Verdict:
    """Whether the client may call the route `method path` (its path template, with or without `/api/v1`)."""
    needed = ROUTES.get((method, path.removeprefix("/api/v1")))
    if needed is None:
        return Refusal("client_not_allowed", "An automation client cannot use this route.")
    if needed not in actor.permissions:
        return Refusal("missing_permission", f"This needs the {needed} permission.")
    return None


def stand_in(actor: ClientActor) -> TenantActor:
    """The tenant actor the client acts as (never stored); the audit log names the client."""
    acting_client_var.set(actor.pk)
    # No second factor: a client has none to step up with (`sessions.require_step_up` asks only those who do).
    account = TenantAccount(
        id=actor.pk,
        tenant_id=actor.tenant_id,
        role=TenantRole.ADMIN,
        name=actor.name,
        disabled=False,
        has_factors=False,
    )
    session = Session(
        id=uuid.UUID(int=0),
        tenant_id=actor.tenant_id,
        account_type=AccountType.TENANT_ACCOUNT,
        account_id=actor.pk,
        expires_at=utcnow(),
        amr=[],
        elevated_until=None,
    )
    return TenantActor(session, account)
