"""Who may do what to an environment's end users: any account of the tenant reads them, owners and admins
change them; an end user reads and changes their own account only (others do not exist for them)."""

from __future__ import annotations

from sump.access.actors import EnvironmentActor
from sump.access.policy import Refusal, Verdict, at_least
from sump.db.tables.tenant_accounts import TenantRole


def manage(actor: EnvironmentActor, role: TenantRole = TenantRole.ADMIN) -> Verdict:
    """A tenant account of the environment's tenant holding `role` (owners and admins change, anyone reads)."""
    if actor.manager is None:
        return Refusal("tenant_account_required", "This needs a tenant account of this environment's tenant.")
    return at_least(actor.manager, role)


def read(actor: EnvironmentActor) -> Verdict:
    return manage(actor, TenantRole.USER)
