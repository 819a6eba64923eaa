"""Rules for tenants. Creation makes tenant, owner, first environment and session in one transaction; any member
reads the tenant, admins change it, only owners delete it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.audit import service as audit
from sump.audit.service import Ref, ref
from sump.auth.dependencies import TenantActor, ensure_role
from sump.config import Settings
from sump.environments import service as environments
from sump.environments.models import Environment
from sump.kit import custom_properties
from sump.kit.call import Client
from sump.kit.errors import not_found
from sump.kit.passwords import PasswordHasher
from sump.sessions import service as sessions
from sump.tenant_accounts import service as accounts
from sump.tenant_accounts.models import TenantAccount, TenantRole
from sump.tenant_accounts.schemas import AccountCreate
from sump.tenants import repository
from sump.tenants.models import Tenant
from sump.tenants.schemas import TenantCreate, TenantUpdate

DEFAULT_ENVIRONMENT = "default"
MAX_EMBEDDED_ENVIRONMENTS = 1000


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    owner: TenantAccount
    environment: Environment
    session: sessions.Issued


async def create(
    db: AsyncSession, hasher: PasswordHasher, settings: Settings, body: TenantCreate, client: Client
) -> NewTenant:
    tenant = await repository.add(
        db,
        Tenant(
            name=body.tenant.name,
            custom_properties=custom_properties.check_limits(body.tenant.custom_properties or {}),
        ),
    )
    owner_fields = body.account.model_dump(exclude={"roles"})
    owner = await accounts.new_account(
        db, hasher, tenant.id, AccountCreate.model_construct(**owner_fields), TenantRole.OWNER
    )
    first = body.environment
    environment = await environments.new_environment(
        db,
        tenant.id,
        first.name if first else DEFAULT_ENVIRONMENT,
        first.custom_properties if first else None,
    )
    issued = await sessions.issue(db, settings, owner, client)
    await audit.record(db, "tenant.created", tenant_id=tenant.id, actor=ref(owner), target=Ref("tenant", tenant.id))
    return NewTenant(tenant, owner, environment, issued)


async def _tenant(db: AsyncSession, actor: TenantActor) -> Tenant:
    tenant = await repository.get(db, actor.tenant_id)
    if tenant is None:
        raise not_found("tenant")
    return tenant


async def get(db: AsyncSession, actor: TenantActor) -> tuple[Tenant, list[Environment]]:
    tenant = await _tenant(db, actor)
    return tenant, await repository.environments(db, tenant.id, MAX_EMBEDDED_ENVIRONMENTS)


@dataclass(frozen=True)
class Overview:
    tenant: Tenant
    environments: int
    accounts: int
    end_users: int


async def overview(db: AsyncSession, actor: TenantActor) -> Overview:
    """The tenant with how many environments, tenant accounts and end users it holds."""
    tenant = await _tenant(db, actor)
    return Overview(tenant, *await repository.counts(db, tenant.id))


async def update(db: AsyncSession, actor: TenantActor, body: TenantUpdate) -> None:
    ensure_role(actor, TenantRole.ADMIN)
    tenant = await _tenant(db, actor)
    if body.name is not None:
        tenant.name = body.name
    await _audit(db, actor, "tenant.updated")


async def set_properties(db: AsyncSession, actor: TenantActor, changes: dict[str, Any]) -> None:
    ensure_role(actor, TenantRole.ADMIN)
    tenant = await _tenant(db, actor)
    tenant.custom_properties = custom_properties.merged(tenant.custom_properties, changes)
    await _audit(db, actor, "tenant.custom_properties_set", keys=sorted(changes))


async def delete_property(db: AsyncSession, actor: TenantActor, key: str) -> None:
    ensure_role(actor, TenantRole.ADMIN)
    tenant = await _tenant(db, actor)
    tenant.custom_properties = custom_properties.without(tenant.custom_properties, key)
    await _audit(db, actor, "tenant.custom_property_deleted", key=key)


async def delete(db: AsyncSession, actor: TenantActor) -> None:
    """Deletes the tenant (owners only); accounts, environments, end users and every session go with it."""
    ensure_role(actor, TenantRole.OWNER)
    await repository.remove(db, await _tenant(db, actor))
    await _audit(db, actor, "tenant.deleted")


async def _audit(db: AsyncSession, actor: TenantActor, action: str, **details: Any) -> None:
    target = Ref("tenant", actor.tenant_id)
    await audit.record(db, action, tenant_id=actor.tenant_id, actor=ref(actor.account), target=target, details=details)
