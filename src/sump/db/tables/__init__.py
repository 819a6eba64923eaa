"""Every table of Sump, shared by the features (a feature's SQL on them lives in its own repository) and
imported here in one place so the metadata is complete (migrations, tests)."""

from sump.db.base import Base
from sump.db.tables.audit import AuditEvent
from sump.db.tables.clients import (
    AuthorizationCode,
    AuthorizationRequest,
    Client,
    ClientSecret,
    ClientToken,
    Consent,
)
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.factors import Factor, FactorChallenge, RecoveryCode
from sump.db.tables.links import AccountToken, Invitation
from sump.db.tables.organizations import Membership, Organization, Permission, Role
from sump.db.tables.outbox import OutboxMessage
from sump.db.tables.reset_tokens import PasswordResetToken
from sump.db.tables.sessions import Session
from sump.db.tables.tenant_accounts import TenantAccount
from sump.db.tables.tenants import Tenant
from sump.db.tables.tokens import RefreshToken, SigningKey

metadata = Base.metadata

__all__ = [
    "AccountToken",
    "AuditEvent",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Client",
    "ClientSecret",
    "ClientToken",
    "Consent",
    "Environment",
    "EnvironmentAccount",
    "Factor",
    "FactorChallenge",
    "Invitation",
    "Membership",
    "Organization",
    "OutboxMessage",
    "PasswordResetToken",
    "Permission",
    "RecoveryCode",
    "RefreshToken",
    "Role",
    "Session",
    "SigningKey",
    "Tenant",
    "TenantAccount",
    "metadata",
]
