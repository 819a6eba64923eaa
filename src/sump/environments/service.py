"""Rules for environments: any tenant account reads them, owners and admins change them; names unique per tenant,
bounded custom properties, deletion takes its users along."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import TenantActor
from sump.access.policy import require
from sump.access.pools import Pool
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType
from sump.environments import policy, repository
from sump.environments.schemas import EnvironmentCreate, EnvironmentSettings, EnvironmentUpdate
from sump.kit import audit, custom_properties
from sump.kit.audit import Ref, ref
from sump.kit.errors import Problem, conflict, not_found
from sump.kit.password_policy import PasswordPolicy
from sump.sessions import service as sessions


async def get(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> Environment:
    environment = await repository.get(db, actor.tenant_id, environment_id)
    if environment is None:
        raise not_found("environment")
    return environment


async def find(db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID) -> Environment | None:
    return await repository.get(db, tenant_id, environment_id)


async def named(db: AsyncSession, environment_id: uuid.UUID) -> Environment:
    """The environment a public route's path names (sign-in, keys, tokens): 404 when there is none."""
    environment = await repository.get_by_id(db, environment_id)
    if environment is None:
        raise not_found("environment")
    return environment


def pool(environment: Environment) -> Pool:
    """The environment's end users, with its password policy, sign-up, factor, email verification and magic
    link settings."""
    settings = EnvironmentSettings.model_validate(environment.settings)
    return Pool(
        AccountType.ENVIRONMENT_ACCOUNT,
        environment.tenant_id,
        environment.id,
        PasswordPolicy(settings.password_min_length, settings.password_max_length),
        settings.signup_enabled,
        settings.factor_policy,
        verify_email_on_signup=settings.email_verification,
        require_verified_email=settings.require_verified_email,
        magic_links=settings.magic_links_enabled,
        passkey_rp_id=settings.passkey_rp_id,
        passkey_origins=tuple(settings.passkey_origins),
        legacy_hash_cost=environment.legacy_hash_cost,
    )


async def page(db: AsyncSession, actor: TenantActor, after: uuid.UUID | None, limit: int) -> list[Environment]:
    return await repository.page(db, actor.tenant_id, after, limit)


async def new_environment(
    db: AsyncSession,
    tenant_id: uuid.UUID,
    name: str,
    properties: dict[str, Any] | None,
    settings: EnvironmentSettings | None = None,
) -> Environment:
    if await repository.name_taken(db, tenant_id, name):
        raise conflict("environment_name_taken", "An environment with this name already exists.", "name")
    environment = Environment(
        tenant_id=tenant_id,
        name=name,
        custom_properties=custom_properties.check_limits(properties or {}),
        settings=(settings or EnvironmentSettings()).model_dump(by_alias=True),
    )
    return await repository.add(db, environment)


async def create(db: AsyncSession, actor: TenantActor, body: EnvironmentCreate) -> Environment:
    require(policy.manage(actor))
    environment = await new_environment(db, actor.tenant_id, body.name, body.custom_properties, body.settings)
    await _audit(db, actor, "environment.created", environment)
    return environment


async def update(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, body: EnvironmentUpdate) -> None:
    require(policy.manage(actor))
    environment = await get(db, actor, environment_id)
    before = _described(environment)
    if body.name is not None and body.name != environment.name:
        if await repository.name_taken(db, actor.tenant_id, body.name, exclude=environment.id):
            raise conflict("environment_name_taken", "An environment with this name already exists.", "name")
        environment.name = body.name
    if body.settings is not None:
        current = EnvironmentSettings.model_validate(environment.settings)
        try:
            merged = body.settings.applied_to(current)
        except ValueError as invalid:
            raise Problem(
                400, "validation_failed", "The request is not valid.", errors={"settings": f"{invalid}."}
            ) from None
        environment.settings = merged.model_dump(by_alias=True)
    await _audit(db, actor, "environment.updated", environment, changed=audit.changed(before, _described(environment)))


def _described(environment: Environment) -> dict[str, Any]:
    """What an update's event compares: the name and every setting, defaults included."""
    settings = EnvironmentSettings.model_validate(environment.settings).model_dump(mode="json", by_alias=True)
    return {"name": environment.name, **settings}


async def set_properties(
    db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    require(policy.manage(actor))
    environment = await get(db, actor, environment_id)
    environment.custom_properties = custom_properties.merged(environment.custom_properties, changes)
    await _audit(db, actor, "environment.custom_properties_set", environment)


async def delete_property(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID, key: str) -> None:
    require(policy.manage(actor))
    environment = await get(db, actor, environment_id)
    environment.custom_properties = custom_properties.without(environment.custom_properties, key)
    await _audit(db, actor, "environment.custom_property_deleted", environment)


async def delete(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> None:
    """Deletes the environment; its end users and their sessions go with it (foreign keys cascade). Like deleting
    one of them, it needs a step-up of an actor with a second factor."""
    require(policy.manage(actor))
    sessions.require_step_up(actor.session, actor.account)
    environment = await get(db, actor, environment_id)
    await repository.remove(db, environment)
    await _audit(db, actor, "environment.deleted", environment)


async def _audit(db: AsyncSession, actor: TenantActor, action: str, environment: Environment, **details: Any) -> None:
    await audit.record(
        db,
        action,
        tenant_id=actor.tenant_id,
        environment_id=environment.id,
        actor=ref(actor.account),
        target=Ref("environment", environment.id),
        details=details,
    )
