"""Account pools: a tenant's accounts, or the end users of one environment. Sign-in, sessions and password
reset work the same way for both; a pool says where to look and which rules apply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.environment_accounts.models import EnvironmentAccount
from sump.environments import repository as environments
from sump.environments.models import Environment
from sump.environments.schemas import EnvironmentSettings
from sump.kit.errors import not_found
from sump.kit.password_policy import DEFAULT_POLICY, PasswordPolicy
from sump.sessions.models import AccountType
from sump.sessions.repository import Account
from sump.tenant_accounts.models import TenantAccount
from sump.tenants import repository as tenants
from sump.tenants.models import Tenant


@dataclass(frozen=True)
class Pool:
    account_type: AccountType
    tenant_id: uuid.UUID
    environment_id: uuid.UUID | None = None
    policy: PasswordPolicy = DEFAULT_POLICY
    signup_enabled: bool = False

    @property
    def model(self) -> type[Account]:
        return TenantAccount if self.account_type is AccountType.TENANT_ACCOUNT else EnvironmentAccount

    def select_accounts(self) -> Select[tuple[Account]]:
        """The pool's accounts: every query of a pool starts here."""
        if self.account_type is AccountType.TENANT_ACCOUNT:
            return cast(Select[tuple[Account]], select(TenantAccount).where(TenantAccount.tenant_id == self.tenant_id))
        statement = select(EnvironmentAccount).where(EnvironmentAccount.environment_id == self.scope_id)
        return cast(Select[tuple[Account]], statement)

    @property
    def scope_id(self) -> uuid.UUID:
        return self.environment_id or self.tenant_id

    def holds(self, account: Account) -> bool:
        return isinstance(account, self.model) and _scope_of(account) == self.scope_id


def _scope_of(account: Account) -> uuid.UUID:
    return account.environment_id if isinstance(account, EnvironmentAccount) else account.tenant_id


def tenant_pool(tenant: Tenant) -> Pool:
    return Pool(AccountType.TENANT_ACCOUNT, tenant.id)


def environment_pool(environment: Environment) -> Pool:
    settings = EnvironmentSettings.model_validate(environment.settings)
    return Pool(
        AccountType.ENVIRONMENT_ACCOUNT,
        environment.tenant_id,
        environment.id,
        PasswordPolicy(settings.password_min_length, settings.password_max_length),
        settings.signup_enabled,
    )


async def load_pool(db: AsyncSession, account_type: AccountType, context_id: uuid.UUID) -> Pool:
    """The pool of a tenant or environment id from the path; 404 when it does not exist."""
    if account_type is AccountType.TENANT_ACCOUNT:
        tenant = await tenants.get(db, context_id)
        if tenant is None:
            raise not_found("tenant")
        return tenant_pool(tenant)
    environment = await environments.get_by_id(db, context_id)
    if environment is None:
        raise not_found("environment")
    return environment_pool(environment)
