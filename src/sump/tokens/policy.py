"""Who may administer an environment's signing keys: the tenant's owners and admins."""

from __future__ import annotations

from sump.access.actors import TenantActor
from sump.access.policy import Verdict, admin


def rotate_keys(actor: TenantActor) -> Verdict:
    return admin(actor)
