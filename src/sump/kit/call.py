"""One request as the services see it, with no HTTP in it: its transaction, the application's shared parts,
where it comes from, and what must happen once its transaction has committed or rolled back.

API routes and console handlers build a `Call` (see `sump.kit.deps.CallDep`) and hand it to a service, which
does the whole use case: limits, lockout, hashing slot, writes, audit and the outbox's wake-up.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sump.config import Settings
from sump.kit.email.outbox import OutboxWorker
from sump.kit.lockout import Lockout
from sump.kit.passwords import PasswordHasher
from sump.kit.ratelimit import RateLimiter


@dataclass(frozen=True)
class Client:
    """Where a request comes from: its address, its user agent, and the accounts it signed in as before
    (the signed device cookie), whose owner the lockout does not hold back."""

    ip: str
    user_agent: str | None = None
    devices: frozenset[uuid.UUID] = frozenset()


@dataclass
class Hooks:
    """Work to run once the request's transaction has ended."""

    committed: list[Callable[[], None]] = field(default_factory=list)
    rolled_back: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def after_rollback(self) -> None:
        callbacks, self.rolled_back = self.rolled_back, []
        for callback in callbacks:
            await callback()

    def after_commit(self) -> None:
        callbacks, self.committed = self.committed, []
        for callback in callbacks:
            callback()


@dataclass(frozen=True)
class Runtime:
    """The application's shared parts, made once at start-up."""

    settings: Settings
    hasher: PasswordHasher
    limiter: RateLimiter
    lockout: Lockout
    outbox: OutboxWorker
    sessionmaker: async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Call:
    db: AsyncSession
    runtime: Runtime
    client: Client
    hooks: Hooks

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def hasher(self) -> PasswordHasher:
        return self.runtime.hasher

    @property
    def limiter(self) -> RateLimiter:
        return self.runtime.limiter

    @property
    def lockout(self) -> Lockout:
        return self.runtime.lockout

    def after_rollback(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Runs `callback` once this request's transaction has been rolled back (it holds no locks then)."""
        self.hooks.rolled_back.append(callback)

    async def end_reads(self) -> None:
        """Ends the request's transaction when it has only read so far (nothing added, changed or flushed by
        this call's caller, no rows locked), so that a wait that follows, for a hashing thread, holds no
        database connection; what is written afterwards begins a new transaction, committed as usual."""
        if self.db.in_transaction() and not (self.db.new or self.db.dirty or self.db.deleted):
            await self.db.commit()

    async def roll_back(self) -> None:
        """Undoes the request's writes now (a console page that shows a refusal) and runs the rollback work."""
        await self.db.rollback()
        await self.hooks.after_rollback()
