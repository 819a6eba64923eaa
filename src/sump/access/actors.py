"""The actors services work with. Plain data, nothing of HTTP: the API, the console and tests build them
through the same resolver (`sump.access.dependencies`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol, TypeGuard

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.environments import Environment
from sump.db.tables.sessions import AccountType, Session
from sump.db.tables.tenant_accounts import TenantAccount, TenantRole

Account = TenantAccount | EnvironmentAccount
SignedIn = tuple[Session, Account]


@dataclass(frozen=True)
class TenantActor:
    """A signed-in tenant account acting inside its own tenant."""

    session: Session
    account: TenantAccount

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.account.tenant_id

    @property
    def role(self) -> TenantRole:
        return self.account.role


@dataclass(frozen=True)
class EndUser:
    """A signed-in end user acting inside their own environment."""

    session: Session
    account: EnvironmentAccount


@dataclass(frozen=True)
class EnvironmentActor:
    """Who acts on an environment's end users: a tenant account of its tenant, or one of the end users."""

    environment: Environment
    manager: TenantActor | None = None
    end_user: EndUser | None = None

    @property
    def session(self) -> Session:
        """The session of the signed-in account, of whichever family."""
        if self.manager is not None:
            return self.manager.session
        assert self.end_user is not None
        return self.end_user.session

    @property
    def account(self) -> Account:
        """The signed-in account, of whichever family."""
        if self.manager is not None:
            return self.manager.account
        assert self.end_user is not None
        return self.end_user.account


@dataclass(frozen=True)
class ClientActor:
    """A tenant's automation client, by a live bearer token of its, with the permissions that token carries."""

    tenant_id: uuid.UUID
    pk: uuid.UUID
    client_id: str
    name: str
    permissions: frozenset[str]


def tenant_account_of(account: Account, tenant_id: uuid.UUID) -> TypeGuard[TenantAccount]:
    """A session of this account counts in this tenant's routes."""
    return isinstance(account, TenantAccount) and account.tenant_id == tenant_id


def end_user_of(account: Account, environment_id: uuid.UUID) -> TypeGuard[EnvironmentAccount]:
    """A session or token of this account counts in this environment's routes."""
    return isinstance(account, EnvironmentAccount) and account.environment_id == environment_id


def in_context(account: Account, account_type: AccountType, context_id: uuid.UUID) -> bool:
    """Whether `account` belongs to the tenant (`context_id`) or environment of `account_type`'s routes: the
    one answer to "is this session valid here"."""
    if account_type is AccountType.TENANT_ACCOUNT:
        return tenant_account_of(account, context_id)
    return end_user_of(account, context_id)


class Credentials(Protocol):
    """The one resolver of credentials (see `sump.auth.credentials`), given to the application at start-up so
    that this layer needs no feature."""

    async def signed_in(self, db: AsyncSession, token: str) -> SignedIn | None:
        """The live session of a session token (bearer or cookie) with its enabled account."""

    async def signed_in_with_environment(
        self, db: AsyncSession, token: str, environment_id: uuid.UUID
    ) -> tuple[SignedIn, Environment | None] | None:
        """`signed_in`, and the environment of the session's tenant with this id (None if it has none)."""

    async def environment(
        self, db: AsyncSession, tenant_id: uuid.UUID, environment_id: uuid.UUID
    ) -> Environment | None:
        """The tenant's environment, or None."""

    async def automation(self, db: AsyncSession, token: str) -> ClientActor | None:
        """The automation client whose live bearer token this is, or None."""

    async def session_view(
        self, conn: AsyncConnection, token: str, account_type: AccountType, context_id: uuid.UUID
    ) -> bytes | None:
        """The JSON body of `GET …/session` when the token's session is live in this context, else None."""
