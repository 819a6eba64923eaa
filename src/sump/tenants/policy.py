"""Who may do what to a tenant: any of its accounts reads it, owners and admins change it, owners delete it."""

from __future__ import annotations

from sump.access.actors import TenantActor
from sump.access.policy import Verdict, admin, owner


def edit(actor: TenantActor) -> Verdict:
    """Rename the tenant and change its custom properties."""
    return admin(actor)


def delete(actor: TenantActor) -> Verdict:
    return owner(actor)
