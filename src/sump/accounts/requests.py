"""Emails asked for by identifier (a password reset link, a magic sign-in link), which must not tell whether an
account holds the identifier: the request records only who asked, under a limit per address (429) and a cap per
identifier (past it, nothing more is sent, and the answer is the same); the outbox worker resolves it (see
`account_preparer`), making the link and its email, or nothing, under a cap per account (whatever identifier
named it). So the answer, its cost and its limits are the same whether or not the account exists."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncSession

from sump.access.actors import Account
from sump.access.pools import Pool
from sump.accounts import passwords, repository
from sump.accounts.pools import load_pool
from sump.accounts.schemas import Identifier
from sump.db.tables.outbox import OutboxKind
from sump.db.tables.sessions import AccountType
from sump.kit import audit
from sump.kit.call import Call
from sump.kit.email.mailers import Email
from sump.kit.email.outbox import Preparer, enqueue
from sump.kit.errors import Problem
from sump.kit.ratelimit import RateLimiter

AccountEmail = Callable[[AsyncSession, Pool, Account, datetime], Awaitable[Email | None]]


def family(pool: Pool) -> str:
    return "environment" if pool.environment_id else "tenant"


async def enqueue_request(db: AsyncSession, kind: OutboxKind, pool: Pool, identifier: str, value: str) -> None:
    """Records who asked for the outbox worker, which finds the account (if any) and sends the email."""
    payload = {
        "accountType": pool.account_type.value,
        "contextId": str(pool.scope_id),
        "kind": identifier,
        "value": value,
    }
    await enqueue(db, kind, payload)


async def ask(
    call: Call,
    pool: Pool,
    body: Identifier,
    kind: OutboxKind,
    *,
    name: str,
    per_ip: RateLimitItem,
    per_identifier: RateLimitItem,
    action: str,
) -> None:
    """One request by identifier: 429 past `per_ip` for the address; past `per_identifier` nothing more is
    recorded (and the caller answers the same); otherwise the request is queued and audited (`action`)."""
    await call.limiter.hit(per_ip, f"{family(pool)}-{name}", call.client.ip)
    identifier, value = body.chosen()
    typed = passwords.identifier_digest(call.settings.secret_key, pool, identifier, value)
    if not await call.limiter.allow(per_identifier, f"{family(pool)}-{name}", str(pool.scope_id), typed):
        return
    await enqueue_request(call.db, kind, pool, identifier, value)
    await audit.record(
        call.db,
        action,
        tenant_id=pool.tenant_id,
        environment_id=pool.environment_id,
        details={"identifier_kind": identifier},
    )


def account_preparer(make: AccountEmail, limiter: RateLimiter, per_account: RateLimitItem, name: str) -> Preparer:
    """The outbox step of a request by identifier: the pool's account it names, if any, handed to `make`,
    which makes its link and email (or nothing). Past `per_account` for that account, nothing: its email,
    username and phone share one count, kept where the per-address limits are (shared by every worker)."""

    async def prepare(db: AsyncSession, payload: dict[str, str], now: datetime) -> Email | None:
        try:
            pool = await load_pool(db, AccountType(payload["accountType"]), uuid.UUID(payload["contextId"]))
        except Problem:
            return None
        account = await repository.find_account(db, pool, **{payload["kind"]: payload["value"]})
        if account is None:
            return None
        key = (f"{family(pool)}-{name}-account", str(pool.scope_id), str(account.id))
        if not await limiter.allow(per_account, *key):
            return None  # before `make`, which would replace the link sent last
        return await make(db, pool, account, now)

    return prepare
