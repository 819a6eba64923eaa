"""Who reads the audit log: a tenant's owners and admins read all of it; end users holding `audit:read` in
an organization read that organization's events (the organization feature checks the permission)."""

from __future__ import annotations

from sump.access.actors import EnvironmentActor, TenantActor
from sump.access.policy import Refusal, Verdict, admin


def read_tenant_log(actor: TenantActor) -> Verdict:
    return admin(actor)


def read_environment_log(actor: EnvironmentActor) -> Verdict:
    """Tenant accounts need admin; end users are checked against their organization's permissions."""
    if actor.manager is not None:
        return admin(actor.manager)
    return None


__all__ = ["Refusal", "read_environment_log", "read_tenant_log"]
