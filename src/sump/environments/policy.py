"""Who may do what to environments: any tenant account reads them, owners and admins create, change and
delete them."""

from __future__ import annotations

from sump.access.actors import TenantActor
from sump.access.policy import Verdict, admin


def manage(actor: TenantActor) -> Verdict:
    return admin(actor)
