"""Who may do what with second factors. The factor policy of a pool (off / optional / required) is data of its
environment's or tenant's settings; these rules read it."""

from __future__ import annotations

from sump.access.actors import EnvironmentActor, TenantActor
from sump.access.policy import Refusal, Verdict
from sump.access.pools import Pool
from sump.db.tables.factors import FactorPolicy
from sump.db.tables.tenant_accounts import TenantAccount
from sump.environment_accounts import policy as end_user_rules
from sump.tenant_accounts import policy as account_rules


def enrol(pool: Pool) -> Verdict:
    """Enrolling a factor: refused where the policy is `off` (factors enrolled before still count)."""
    if pool.factor_policy is FactorPolicy.OFF:
        return Refusal("factors_off", "Second factors are turned off here.")
    return None


def reset_tenant_account(actor: TenantActor, target: TenantAccount) -> Verdict:
    """Resetting a tenant account's factors: as for disabling it (owners anyone, admins users only)."""
    return account_rules.manage(actor, target)


def reset_end_user(actor: EnvironmentActor) -> Verdict:
    """Resetting an end user's factors: the tenant's owners and admins."""
    return end_user_rules.manage(actor)
