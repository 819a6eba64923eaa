"""Who may do what to clients: any tenant account reads them; owners and admins register, change and delete an
environment's clients; only owners those of the tenant's automation, which never hold a permission beyond the
role of the account that grants it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sump.access.actors import TenantActor
from sump.access.policy import Refusal, Verdict, admin, owner
from sump.db.tables.tenant_accounts import TenantRole


def manage(actor: TenantActor) -> Verdict:
    """Register, change, rotate and delete an environment's clients."""
    return admin(actor)


def manage_automation(actor: TenantActor) -> Verdict:
    """Register, change, rotate and delete the tenant's automation clients."""
    return owner(actor)


def grant(actor: TenantActor, permissions: Sequence[str], needs: dict[str, str]) -> Verdict:
    """An automation client gets only permissions that `actor`'s role holds itself (`needs`: permission →
    the least role that holds it)."""
    beyond = [name for name in permissions if actor.role.rank < TenantRole(needs[name]).rank]
    if beyond:
        return Refusal("permission_above_role", "A client cannot be granted permissions beyond your role.")
    return None


Rule = Callable[[TenantActor], Verdict]
