"""Per-identifier protection against password guessing: after a few failures every further attempt is slowed
down, then the identifier is locked for a while. A lock answers exactly like a wrong password (and costs the
same hash), a success clears the count, and a password reset lifts the lock, so nobody is locked out for good.

It counts by identifier, whether or not an account holds it, so the lock reveals nothing either.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class LockoutPolicy:
    free_attempts: int = 5
    lock_after: int = 10
    window_minutes: int = 15
    max_delay_seconds: float = 4.0


class Lockout:
    def __init__(self, storage: Storage, policy: LockoutPolicy) -> None:
        self.policy = policy
        self.item = RateLimitItemPerMinute(policy.lock_after, policy.window_minutes)
        self.strategy = MovingWindowRateLimiter(storage)

    async def failures(self, key: str) -> int:
        stats = await self.strategy.get_window_stats(self.item, "lockout", key)
        return self.policy.lock_after - stats.remaining

    async def before_attempt(self, key: str) -> bool:
        """Waits out the progressive delay; True when the identifier is locked."""
        failures = await self.failures(key)
        if failures >= self.policy.lock_after:
            return True
        beyond = failures - self.policy.free_attempts
        if beyond >= 0:
            await asyncio.sleep(min(2.0**beyond * 0.5, self.policy.max_delay_seconds))
        return False

    async def failed(self, key: str) -> None:
        await self.strategy.hit(self.item, "lockout", key)

    async def clear(self, key: str) -> None:
        await self.strategy.clear(self.item, "lockout", key)
