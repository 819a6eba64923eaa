"""Rules for tenants: any member reads the tenant, admins change it, only owners delete it (see `policy`).
Creating one, with its owner, is `sump.onboarding`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.access.pools import Pool, tenant_pool
from sump.db.tables.environments import Environment
from sump.db.tables.factors import FactorPolicy
from sump.db.tables.tenants import Tenant
from sump.kit import audit, custom_properties
from sump.kit.audit import Ref, ref
from sump.kit.errors import not_found
from sump.sessions import service as sessions
from sump.tenants import policy, repository
from sump.tenants.schemas import TenantSettings, TenantUpdate

MAX_EMBEDDED_ENVIRONMENTS = 1000


async def add(db: AsyncSession, tenant: Tenant) -> Tenant:
    """A new tenant (its owner and first environment are the onboarding's)."""
    return await repository.add(db, tenant)


async def exists(db: AsyncSession, tenant_id: uuid.UUID) -> bool:
    return await repository.get(db, tenant_id) is not None


def settings_of(tenant: Tenant) -> TenantSettings:
    return TenantSettings.model_validate(tenant.settings or {})


async def sign_in_pool(db: AsyncSession, tenant_id: uuid.UUID) -> Pool | None:
    """The pool its accounts sign in to (its factor policy, the cost of its imported hashes); None when there is
    no such tenant."""
    tenant = await repository.get(db, tenant_id)
    if tenant is None:
        return None
    return tenant_pool(tenant_id, settings_of(tenant).factor_policy, tenant.legacy_hash_cost)


async def factor_policy(db: AsyncSession, tenant_id: uuid.UUID) -> FactorPolicy | None:
    """The factor policy of the tenant's accounts; None when there is no such tenant."""
    tenant = await repository.get(db, tenant_id)
    return settings_of(tenant).factor_policy if tenant is not None else None


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
    require(policy.edit(actor))
    tenant = await _tenant(db, actor)
    before = _described(tenant)
    if body.name is not None:
        tenant.name = body.name
    if body.settings is not None:
        require(policy.change_settings(actor))
        sessions.require_step_up(actor.session, actor.account)
        changes = body.settings.model_dump(exclude_unset=True)
        merged = settings_of(tenant).model_copy(update=changes)
        tenant.settings = merged.model_dump(mode="json", by_alias=True)
    await _audit(db, actor, "tenant.updated", changed=audit.changed(before, _described(tenant)))


def _described(tenant: Tenant) -> dict[str, Any]:
    """What an update's event compares: the name and every setting, defaults included."""
    return {"name": tenant.name, **settings_of(tenant).model_dump(mode="json", by_alias=True)}


async def set_properties(db: AsyncSession, actor: TenantActor, changes: dict[str, Any]) -> None:
    require(policy.edit(actor))
    tenant = await _tenant(db, actor)
    tenant.custom_properties = custom_properties.merged(tenant.custom_properties, changes)
    await _audit(db, actor, "tenant.custom_properties_set", keys=sorted(changes))


async def delete_property(db: AsyncSession, actor: TenantActor, key: str) -> None:
    require(policy.edit(actor))
    tenant = await _tenant(db, actor)
    tenant.custom_properties = custom_properties.without(tenant.custom_properties, key)
    await _audit(db, actor, "tenant.custom_property_deleted", key=key)


async def delete(db: AsyncSession, actor: TenantActor) -> None:
    """Deletes the tenant (owners only); accounts, environments, end users and every session go with it. The
    owner's own account goes too: fresh proof, as for deleting it alone (`require_recent_proof`)."""
    require(policy.delete(actor))
    sessions.require_recent_proof(actor.session, actor.account)
    await repository.remove(db, await _tenant(db, actor))
    await _audit(db, actor, "tenant.deleted")


async def _audit(db: AsyncSession, actor: TenantActor, action: str, **details: Any) -> None:
    target = Ref("tenant", actor.tenant_id)
    await audit.record(db, action, tenant_id=actor.tenant_id, actor=ref(actor.account), target=target, details=details)
