"""Account pools: a tenant's accounts, or the end users of one environment. Sign-in, sessions and password
reset work the same way for both; a pool says where to look and which rules apply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select

from sump.access.actors import Account
from sump.db.scope import Scope, environment, tenant
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.factors import FactorPolicy
from sump.db.tables.sessions import AccountType
from sump.db.tables.tenant_accounts import TenantAccount
from sump.kit.password_policy import DEFAULT_POLICY, PasswordPolicy


@dataclass(frozen=True)
class Pool:
    account_type: AccountType
    tenant_id: uuid.UUID
    environment_id: uuid.UUID | None = None
    policy: PasswordPolicy = DEFAULT_POLICY
    signup_enabled: bool = False
    factor_policy: FactorPolicy = FactorPolicy.OPTIONAL
    verify_email_on_signup: bool = False  # a sign-up emails a verification link
    require_verified_email: bool = False  # a sign-in needs a verified email (403 `email_unverified`)
    magic_links: bool = False  # a sign-in may begin with an emailed link instead of the password
    passkey_rp_id: str | None = None  # the WebAuthn relying party of an environment's passkeys (None: off)
    passkey_origins: tuple[str, ...] = ()
    legacy_hash_cost: int | None = None  # imported bcrypt hashes' cost: every password check costs as theirs

    @property
    def model(self) -> type[Account]:
        return TenantAccount if self.account_type is AccountType.TENANT_ACCOUNT else EnvironmentAccount

    @property
    def scope(self) -> Scope:
        """Where the pool's rows live: its environment, or the tenant for tenant accounts."""
        return environment(self.environment_id) if self.environment_id else tenant(self.tenant_id)

    def select_accounts(self) -> Select[tuple[Account]]:
        """The pool's accounts: every query of a pool starts here."""
        return cast(Select[tuple[Account]], self.scope.select(self.model))

    @property
    def scope_id(self) -> uuid.UUID:
        return self.environment_id or self.tenant_id

    def owns(self, model: Any, account_id: uuid.UUID) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """That a row of `model` (a factor, a recovery code, a challenge, a link, a reset token) is of this pool's
        account `account_id`: its account family, and its account (a statement starts from `scope` too)."""
        return (model.account_type == self.account_type, model.account_id == account_id)


def tenant_pool(
    tenant_id: uuid.UUID, factor_policy: FactorPolicy = FactorPolicy.OPTIONAL, legacy_hash_cost: int | None = None
) -> Pool:
    return Pool(AccountType.TENANT_ACCOUNT, tenant_id, factor_policy=factor_policy, legacy_hash_cost=legacy_hash_cost)
