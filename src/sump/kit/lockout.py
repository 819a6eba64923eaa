"""Per-account protection against password guessing that does not lock the owner out.

Failures are counted per account (every identifier of it at once) and per source: the client's address, or
"a device this account signed in from before" (a signed device cookie). A source that keeps failing is first
paced (each attempt past `free_attempts` must wait longer: 1 s, 2 s, 4 s … up to `max_delay_seconds`), then
refused for the rest of the window after `lock_after` failures. Other sources are not held by its failures.
A ceiling across every source (`account_ceiling` failures in an hour from the first) still stops guesses
spread over many addresses; past it only known devices may try. No rolling hour overlaps more than two such
hours, so the default of 50 keeps an account under 100 failed attempts an hour (ASVS 2.2.1). Nothing here
sleeps: a refusal says how long to wait, and the caller answers 429 with `Retry-After` before it takes a hashing
slot or a transaction.

Identifiers without an account are counted under the identifier itself, with the same rules and answers,
so the throttle reveals nothing about which accounts exist. A password reset starts the account afresh.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits.aio.storage import Storage

KNOWN_DEVICE = "device"


@dataclass(frozen=True)
class LockoutPolicy:
    free_attempts: int = 5
    lock_after: int = 10
    window_minutes: int = 15
    max_delay_seconds: float = 30.0
    account_ceiling: int = 50


CEILING_WINDOW_SECONDS = 3600


class Lockout:
    def __init__(self, storage: Storage, policy: LockoutPolicy) -> None:
        self.storage = storage
        self.policy = policy
        self.window = policy.window_minutes * 60

    async def _base(self, subject: str) -> str:
        epoch = await self.storage.get(f"lockout-epoch:{subject}")
        return f"lockout:{epoch}:{subject}"

    async def check(self, subject: str, source: str) -> int | None:
        """Whole seconds this source must wait before it may try `subject` again, or None when it may now."""
        base = await self._base(subject)
        if source != KNOWN_DEVICE and await self.storage.get(f"{base}:all") >= self.policy.account_ceiling:
            return await self._seconds(f"{base}:all")
        bucket = f"{base}:{source}"
        if await self.storage.get(bucket) >= self.policy.lock_after:
            return await self._seconds(bucket)
        if await self.storage.get(f"{bucket}:pace"):
            return await self._seconds(f"{bucket}:pace")
        return None

    async def _seconds(self, key: str) -> int:
        return max(1, math.ceil(await self.storage.get_expiry(key) - time.time()))

    async def failed(self, subject: str, source: str) -> None:
        base = await self._base(subject)
        bucket = f"{base}:{source}"
        failures = await self.storage.incr(bucket, self.window)
        await self.storage.incr(f"{base}:all", CEILING_WINDOW_SECONDS)
        beyond = failures - self.policy.free_attempts
        if beyond > 0 and self.policy.max_delay_seconds > 0:
            delay = min(2.0 ** (beyond - 1), self.policy.max_delay_seconds)
            await self.storage.clear(f"{bucket}:pace")
            await self.storage.incr(f"{bucket}:pace", max(1, math.ceil(delay)))

    async def succeeded(self, subject: str, source: str) -> None:
        """The source proved itself: its own count starts again (the account's ceiling is left as it is)."""
        bucket = f"{await self._base(subject)}:{source}"
        await self.storage.clear(bucket)
        await self.storage.clear(f"{bucket}:pace")

    async def clear(self, subject: str) -> None:
        """Forgets every count of `subject` (after a password reset): a new epoch leaves the old keys to expire."""
        await self.storage.incr(f"lockout-epoch:{subject}", self.window)
