"""Creating a tenant with its owner and first environment, in one transaction: by anyone, with the owner's
session (the API and the console's setup wizard), while `SUMP_TENANT_SIGNUP` is on; by the operator, from the
command line (`sump tenants create`), always."""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.pools import tenant_pool
from sump.accounts import verification
from sump.config import Settings
from sump.db.engine import one_transaction
from sump.db.tables.environments import Environment
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.db.tables.tenants import Tenant
from sump.environments import service as environments
from sump.kit import audit, custom_properties
from sump.kit.audit import OPERATOR, Ref, ref
from sump.kit.call import Call
from sump.kit.errors import Problem
from sump.kit.passwords import PasswordHasher
from sump.onboarding.schemas import TenantCreate
from sump.sessions import service as sessions
from sump.tenant_accounts import service as accounts
from sump.tenant_accounts.schemas import AccountCreate
from sump.tenants import service as tenants

CREATE_PER_IP = parse("10/minute")  # per address, shared by the API and the console
DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True)
class Added:
    tenant: Tenant
    owner: TenantAccount
    environment: Environment


@dataclass(frozen=True)
class NewTenant(Added):
    session: sessions.Issued


def ensure_signup_open(settings: Settings) -> None:
    """403 `tenant_signup_closed` while `SUMP_TENANT_SIGNUP` is off."""
    if not settings.tenant_signup:
        raise Problem(403, "tenant_signup_closed", "New tenants are not created here: ask this Sump's operator.")


async def create(call: Call, body: TenantCreate) -> NewTenant:
    """The tenant, its owner, a first environment (`default` unless named) and the owner's session, in one
    transaction; 403 `tenant_signup_closed` while `SUMP_TENANT_SIGNUP` is off. (Adapters count every request,
    well-formed or not, against `CREATE_PER_IP` first.)"""
    ensure_signup_open(call.settings)
    added = await _add(call.db, call.hasher, body)
    issued = await sessions.issue(call.db, call.settings, added.owner, call.client)
    await _audit(call.db, added, ref(added.owner))
    # The owner's address is verified by its link, as an end user's at sign-up: until it is, a password reset
    # by whoever reads that mailbox also removes the owner's second factors (`accounts.reset`).
    await verification.send_link(call, tenant_pool(added.tenant.id), added.owner)
    return NewTenant(added.tenant, added.owner, added.environment, issued)


async def create_by_operator(settings: Settings, body: TenantCreate) -> Added:
    """The same rows, made from the command line whether sign-up is open or not, with no session: the owner
    signs in with the password given. Raises `Problem` for what the API would refuse (a weak password)."""
    hasher = PasswordHasher(1)
    try:
        async with one_transaction(settings.database_url) as db:
            added = await _add(db, hasher, body)
            await _audit(db, added, OPERATOR)
    finally:
        hasher.close()
    return added


async def _add(db: AsyncSession, hasher: PasswordHasher, body: TenantCreate) -> Added:
    tenant = await tenants.add(
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
        first.settings if first else None,
    )
    return Added(tenant, owner, environment)


async def _audit(db: AsyncSession, added: Added, actor: Ref) -> None:
    await audit.record(
        db, "tenant.created", tenant_id=added.tenant.id, actor=actor, target=Ref("tenant", added.tenant.id)
    )
