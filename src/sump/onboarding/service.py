"""Creating a tenant with its owner, first environment and session: one transaction, for the API and the
console's setup wizard alike."""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse

from sump.db.tables.environments import Environment
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole
from sump.db.tables.tenants import Tenant
from sump.environments import service as environments
from sump.kit import audit, custom_properties
from sump.kit.audit import Ref, ref
from sump.kit.call import Call
from sump.onboarding.schemas import TenantCreate
from sump.sessions import service as sessions
from sump.tenant_accounts import service as accounts
from sump.tenant_accounts.schemas import AccountCreate
from sump.tenants import service as tenants

CREATE_PER_IP = parse("10/minute")  # per address, shared by the API and the console
DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    owner: TenantAccount
    environment: Environment
    session: sessions.Issued


async def create(call: Call, body: TenantCreate) -> NewTenant:
    """The tenant, its owner, a first environment (`default` unless named) and the owner's session, in one
    transaction. (Adapters count every request, well-formed or not, against `CREATE_PER_IP` first.)"""
    db = call.db
    tenant = await tenants.add(
        db,
        Tenant(
            name=body.tenant.name,
            custom_properties=custom_properties.check_limits(body.tenant.custom_properties or {}),
        ),
    )
    owner_fields = body.account.model_dump(exclude={"roles"})
    owner = await accounts.new_account(
        db, call.hasher, tenant.id, AccountCreate.model_construct(**owner_fields), TenantRole.OWNER
    )
    first = body.environment
    environment = await environments.new_environment(
        db,
        tenant.id,
        first.name if first else DEFAULT_ENVIRONMENT,
        first.custom_properties if first else None,
        first.settings if first else None,
    )
    issued = await sessions.issue(db, call.settings, owner, call.client)
    await audit.record(db, "tenant.created", tenant_id=tenant.id, actor=ref(owner), target=Ref("tenant", tenant.id))
    return NewTenant(tenant, owner, environment, issued)
