"""An admin's reset of another account's second factors: for a user who lost their authenticator and their
recovery codes. Audited, and the account is told by email (the outbox, in the same transaction). The admin's
own session must be stepped up when the admin has a factor, as for any change of factors."""

from __future__ import annotations

import uuid

from sump.access.actors import Account, EnvironmentActor, TenantActor
from sump.access.policy import require
from sump.access.pools import Pool, tenant_pool
from sump.db.tables.factors import FactorPolicy
from sump.db.tables.sessions import Session
from sump.environment_accounts import service as end_users
from sump.environments import service as environments
from sump.factors import enrolment, policy
from sump.kit import audit
from sump.kit.audit import ref
from sump.kit.call import Call
from sump.sessions import service as sessions
from sump.tenant_accounts import service as tenant_accounts
from sump.tenants import service as tenants


async def reset_tenant_account(call: Call, actor: TenantActor, account_id: uuid.UUID) -> int:
    """Owners reset anyone's factors, admins users' only; another tenant's account answers 404."""
    account = await tenant_accounts.get(call.db, actor, account_id)
    require(policy.reset_tenant_account(actor, account))
    pool = tenant_pool(actor.tenant_id, await tenants.factor_policy(call.db, actor.tenant_id) or FactorPolicy.OPTIONAL)
    return await _reset(call, pool, actor.session, actor.account, account, "tenant_account.factors_reset")


async def reset_end_user(call: Call, actor: EnvironmentActor, account_id: uuid.UUID) -> int:
    """The tenant's owners and admins reset an end user's factors."""
    require(policy.reset_end_user(actor))
    account = await end_users.get(call.db, actor, account_id, write=True)
    assert actor.manager is not None
    pool = environments.pool(actor.environment)
    return await _reset(call, pool, actor.manager.session, actor.manager.account, account, "end_user.factors_reset")


async def _reset(call: Call, pool: Pool, session: Session, admin: Account, account: Account, action: str) -> int:
    sessions.require_step_up(session, admin)
    removed = await enrolment.reset(call, pool, account)
    await enrolment.tell_reset(call, pool, account, by_reset=False)
    await audit.record(
        call.db,
        action,
        tenant_id=pool.tenant_id,
        environment_id=pool.environment_id,
        actor=ref(admin),
        target=ref(account),
        details={"factors": removed},
    )
    return removed
