"""Sign-in. Every failure, whether the account is unknown, has no password, is disabled or the password is
wrong, costs one full hash verification and answers the same 401."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.auth.schemas import Login
from sump.config import Settings
from sump.kit.deps import Client
from sump.kit.errors import Problem, not_found
from sump.kit.passwords import PasswordHasher
from sump.sessions import service as sessions
from sump.tenant_accounts import repository as accounts
from sump.tenant_accounts.models import TenantAccount
from sump.tenants import repository as tenants


def invalid_credentials() -> Problem:
    return Problem(401, "invalid_credentials", "Invalid credentials.")


async def _find_tenant_account(db: AsyncSession, tenant_id: uuid.UUID, body: Login) -> TenantAccount | None:
    if body.email is not None:
        return await accounts.find(db, tenant_id, email=body.email)
    if body.phone is not None:
        return await accounts.find(db, tenant_id, phone=body.phone)
    return await accounts.find(db, tenant_id, username=body.username)


async def login_tenant_account(
    db: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    tenant_id: uuid.UUID,
    body: Login,
    client: Client,
) -> tuple[TenantAccount, sessions.Issued]:
    if await tenants.get(db, tenant_id) is None:
        raise not_found("tenant")
    account = await _find_tenant_account(db, tenant_id, body)
    ok, upgraded = await hasher.verify(account.password_hash if account else None, body.password)
    if account is None or not ok or account.disabled:
        raise invalid_credentials()
    if upgraded:
        account.password_hash = upgraded
    return account, await sessions.issue_for_tenant_account(db, settings, account, client)
