"""Turning a request into an actor, and the one dependency each route declares for its policy.

- no live session for this tenant: 401
- a session of another tenant on a tenant's objects: 404, as if they did not exist
- a role too low within one's own tenant: 403
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from sump.auth.cookies import session_token
from sump.db.deps import DbSession
from sump.kit.deps import SettingsDep
from sump.kit.errors import forbidden, not_found, unauthenticated
from sump.sessions import service as sessions
from sump.sessions.models import Session
from sump.tenant_accounts.models import TenantAccount, TenantRole

TenantId = Annotated[uuid.UUID, Path(alias="tenantId", description="Tenant id.")]


@dataclass(frozen=True)
class TenantActor:
    """A signed-in tenant account acting inside its own tenant."""

    session: Session
    account: TenantAccount

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.account.tenant_id

    @property
    def role(self) -> TenantRole:
        return self.account.role


async def _signed_in(request: Request, db: DbSession, settings: SettingsDep) -> TenantActor | None:
    token = session_token(request, settings)
    if not token or len(token) > 256:
        return None
    found = await sessions.resolve_tenant_session(db, settings, token)
    return TenantActor(*found) if found else None


async def tenant_session(tenant_id: TenantId, actor: TenantActor | None = Depends(_signed_in)) -> TenantActor:
    """For `/auth/tenants/{tenantId}/…`: a session counts only in its own tenant (else 401)."""
    if actor is None or actor.tenant_id != tenant_id:
        raise unauthenticated()
    return actor


async def tenant_member(tenant_id: TenantId, actor: TenantActor | None = Depends(_signed_in)) -> TenantActor:
    """For `/tenants/{tenantId}/…`: another tenant's objects answer 404."""
    if actor is None:
        raise unauthenticated()
    if actor.tenant_id != tenant_id:
        raise not_found("tenant")
    return actor


def require(role: TenantRole) -> object:
    """`Depends(require(TenantRole.ADMIN))`: a member of the path's tenant holding at least `role`."""

    async def dependency(actor: TenantActor = Depends(tenant_member)) -> TenantActor:
        if actor.role.rank < role.rank:
            raise forbidden("insufficient_role", f"This needs the {role.value} role or higher.")
        return actor

    return Depends(dependency)


CurrentTenantSession = Annotated[TenantActor, Depends(tenant_session)]
TenantMember = Annotated[TenantActor, Depends(tenant_member)]
TenantAdmin = Annotated[TenantActor, require(TenantRole.ADMIN)]
TenantOwner = Annotated[TenantActor, require(TenantRole.OWNER)]
