"""Turning a request into an actor, and the one dependency each route declares for its policy.

- no live session valid here: 401
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
from sump.environment_accounts.models import EnvironmentAccount
from sump.environments import repository as environments
from sump.environments.models import Environment
from sump.kit.deps import SettingsDep
from sump.kit.errors import forbidden, not_found, unauthenticated
from sump.sessions import service as sessions
from sump.sessions.models import Session
from sump.sessions.repository import Account
from sump.tenant_accounts.models import TenantAccount, TenantRole

TenantId = Annotated[uuid.UUID, Path(alias="tenantId", description="Tenant id.")]
EnvironmentId = Annotated[uuid.UUID, Path(alias="environmentId", description="Environment id.")]


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


@dataclass(frozen=True)
class EndUser:
    """A signed-in end user acting inside their own environment."""

    session: Session
    account: EnvironmentAccount


async def _signed_in(request: Request, db: DbSession, settings: SettingsDep) -> tuple[Session, Account] | None:
    token = session_token(request, settings)
    return await sessions.resolve(db, settings, token) if token else None


SignedIn = Annotated[tuple[Session, Account] | None, Depends(_signed_in)]


async def tenant_session(tenant_id: TenantId, found: SignedIn) -> TenantActor:
    """For `/auth/tenants/{tenantId}/…`: a session counts only in its own tenant (else 401)."""
    if found is None or not isinstance(found[1], TenantAccount) or found[1].tenant_id != tenant_id:
        raise unauthenticated()
    return TenantActor(found[0], found[1])


async def end_user_session(environment_id: EnvironmentId, found: SignedIn) -> EndUser:
    """For `/auth/environments/{environmentId}/…`: a session counts only in its own environment (else 401)."""
    if found is None or not isinstance(found[1], EnvironmentAccount) or found[1].environment_id != environment_id:
        raise unauthenticated()
    return EndUser(found[0], found[1])


async def tenant_member(tenant_id: TenantId, found: SignedIn) -> TenantActor:
    """For `/tenants/{tenantId}/…`: another tenant's objects answer 404."""
    if found is None or not isinstance(found[1], TenantAccount):
        raise unauthenticated()
    if found[1].tenant_id != tenant_id:
        raise not_found("tenant")
    return TenantActor(found[0], found[1])


def require(role: TenantRole) -> object:
    """`Depends(require(TenantRole.ADMIN))`: a member of the path's tenant holding at least `role`."""

    async def dependency(actor: TenantActor = Depends(tenant_member)) -> TenantActor:
        ensure_role(actor, role)
        return actor

    return Depends(dependency)


def ensure_role(actor: TenantActor, role: TenantRole) -> None:
    if actor.role.rank < role.rank:
        raise forbidden("insufficient_role", f"This needs the {role.value} role or higher.")


@dataclass(frozen=True)
class EnvironmentActor:
    """Who acts on an environment's end users: a tenant account of its tenant, or one of the end users."""

    environment: Environment
    manager: TenantActor | None = None
    end_user: EndUser | None = None

    @property
    def account(self) -> Account:
        """The signed-in account, of whichever family."""
        if self.manager is not None:
            return self.manager.account
        assert self.end_user is not None
        return self.end_user.account


async def environment_actor(environment_id: EnvironmentId, found: SignedIn, db: DbSession) -> EnvironmentActor:
    """For `/environments/{environmentId}/…`: tenant accounts of another tenant get 404, end users of
    another environment 401."""
    if found is None:
        raise unauthenticated()
    session, account = found
    if isinstance(account, TenantAccount):
        environment = await environments.get(db, account.tenant_id, environment_id)
        if environment is None:
            raise not_found("environment")
        return EnvironmentActor(environment, manager=TenantActor(session, account))
    if account.environment_id != environment_id:
        raise unauthenticated()
    environment = await environments.get(db, account.tenant_id, environment_id)
    if environment is None:
        raise unauthenticated()
    return EnvironmentActor(environment, end_user=EndUser(session, account))


CurrentTenantSession = Annotated[TenantActor, Depends(tenant_session)]
CurrentEndUser = Annotated[EndUser, Depends(end_user_session)]
TenantMember = Annotated[TenantActor, Depends(tenant_member)]
TenantAdmin = Annotated[TenantActor, require(TenantRole.ADMIN)]
TenantOwner = Annotated[TenantActor, require(TenantRole.OWNER)]
EnvironmentActorDep = Annotated[EnvironmentActor, Depends(environment_actor)]
