"""The pool named by a sign-in route's path: a tenant's accounts, or an environment's end users."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.pools import Pool, tenant_pool
from sump.db.tables.sessions import AccountType
from sump.environments import service as environments
from sump.kit.errors import not_found
from sump.tenants import service as tenants


async def load_pool(db: AsyncSession, account_type: AccountType, context_id: uuid.UUID) -> Pool:
    """The pool of a tenant or environment id from the path; 404 when it does not exist."""
    if account_type is AccountType.TENANT_ACCOUNT:
        policy = await tenants.factor_policy(db, context_id)
        if policy is None:
            raise not_found("tenant")
        return tenant_pool(context_id, policy)
    return environments.pool(await environments.named(db, context_id))
