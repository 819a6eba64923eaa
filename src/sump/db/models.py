"""Every table of Sump, imported in one place so the metadata is complete (migrations, tests)."""

from sump.audit.models import AuditEvent
from sump.auth.models import PasswordResetToken
from sump.db.base import Base
from sump.environment_accounts.models import EnvironmentAccount
from sump.environments.models import Environment
from sump.kit.email.models import OutboxMessage
from sump.organizations.models import Membership, Organization, Permission, Role
from sump.sessions.models import Session
from sump.tenant_accounts.models import TenantAccount
from sump.tenants.models import Tenant
from sump.tokens.models import RefreshToken, SigningKey

metadata = Base.metadata

__all__ = [
    "AuditEvent",
    "Environment",
    "EnvironmentAccount",
    "Membership",
    "Organization",
    "OutboxMessage",
    "PasswordResetToken",
    "Permission",
    "RefreshToken",
    "Role",
    "Session",
    "SigningKey",
    "Tenant",
    "TenantAccount",
    "metadata",
]
