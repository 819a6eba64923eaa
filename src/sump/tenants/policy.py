"""Who may do what to a tenant: any of its accounts reads it, owners and admins rename it and set its custom
properties, owners change its settings (how its accounts sign in) and delete it."""

from __future__ import annotations

from sump.access.actors import TenantActor
from sump.access.policy import Verdict, admin, owner


def edit(actor: TenantActor) -> Verdict:
    """Rename the tenant and change its custom properties."""
    return admin(actor)


def change_settings(actor: TenantActor) -> Verdict:
    """The settings say how every tenant account signs in, the owners' own included: no admin loosens them."""
    return owner(actor)


def delete(actor: TenantActor) -> Verdict:
    return owner(actor)
