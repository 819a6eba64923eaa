"""Every table of Sump, imported in one place so the metadata is complete (migrations, tests)."""

from sump.db.base import Base
from sump.environments.models import Environment
from sump.sessions.models import Session
from sump.tenant_accounts.models import TenantAccount
from sump.tenants.models import Tenant

metadata = Base.metadata

__all__ = ["Environment", "Session", "Tenant", "TenantAccount", "metadata"]
