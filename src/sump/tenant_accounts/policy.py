"""Who may do what to a tenant's accounts. Roles rank owner > admin > user: only an owner grants owner, an
admin manages users only, nobody acts above their own rank, and owners may act on themselves (the last
owner's guard is a rule of the service, since it needs the other owners)."""

from __future__ import annotations

from sump.access.actors import TenantActor
from sump.access.policy import Refusal, Verdict, admin
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole


def manage_accounts(actor: TenantActor) -> Verdict:
    """Invite, create, disable, enable and delete accounts, and change roles: owners and admins."""
    return admin(actor)


def grants(granter: TenantRole, role: TenantRole) -> bool:
    """Whether an account holding `granter` may give `role`: owners any, admins user."""
    return granter is TenantRole.OWNER or (granter is TenantRole.ADMIN and role is TenantRole.USER)


def grant(actor: TenantActor, role: TenantRole) -> Verdict:
    if grants(actor.role, role):
        return None
    return Refusal("role_not_grantable", f"Your role cannot grant the {role.value} role.")


def grantable_roles(actor: TenantActor) -> list[TenantRole]:
    """The roles `actor` may give, highest first (none for a user)."""
    return [role for role in TenantRole if grant(actor, role) is None]


def manage(actor: TenantActor, target: TenantAccount) -> Verdict:
    """Owners act on anyone (themselves included); admins on users only; nobody else on anyone."""
    if actor.role is TenantRole.OWNER:
        return None
    if target.id == actor.account.id:
        return Refusal("cannot_act_on_self", "Only an owner can do this to their own account.")
    if actor.role.rank <= target.role.rank:
        return Refusal("insufficient_role", "Your role does not allow acting on this account.")
    return None


def edit(actor: TenantActor, target: TenantAccount) -> Verdict:
    """Profile and identifier changes: oneself, or an account one manages."""
    return None if target.id == actor.account.id else manage(actor, target)
