"""Per-IP request limits on public routes (the `limits` library, on the storage `sump.kit.shared_counters`
chooses: Redis when configured, a file shared by the workers of one `sump serve`, or memory).

The same storage keeps the per-identifier lockout counters (`sump.kit.lockout`)."""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from sump.kit.errors import Problem
from sump.kit.middleware import client_ip
from sump.kit.shared_counters import counter_storage


class RateLimiter:
    def __init__(self, redis_url: str | None, enabled: bool) -> None:
        self.storage = counter_storage(redis_url)
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self.enabled = enabled

    async def allow(self, item: RateLimitItem, *keys: str) -> bool:
        """Counts one hit against a per-account limit, which stays on even when per-IP limits are off."""
        return await self.strategy.hit(item, *keys)

    async def hit(self, item: RateLimitItem, name: str, ip: str) -> None:
        """Counts one hit of the client address `ip` against the per-IP limit `name` (off with the per-IP
        limits); over it, 429 with `Retry-After`."""
        if self.enabled:
            await self.enforce(item, name, address_key(ip))

    async def enforce(self, item: RateLimitItem, *keys: str) -> None:
        """Counts one hit against a limit of an account's own, which stays on when per-IP limits are off; over
        it, 429 with `Retry-After`."""
        if not await self.strategy.hit(item, *keys):
            raise await self._refusal(item, *keys)

    async def refuse_if_spent(self, item: RateLimitItem, name: str, ip: str) -> None:
        """429 with `Retry-After` while `ip` is past the per-IP limit `name`, counting nothing (off with the per-IP
        limits): for budgets that count only what the route refused (`count`)."""
        if self.enabled and not await self.strategy.test(item, name, address_key(ip)):
            raise await self._refusal(item, name, address_key(ip))

    async def count(self, item: RateLimitItem, name: str, ip: str) -> None:
        """Counts one hit of `ip` against the per-IP limit `name`, refusing nothing."""
        if self.enabled:
            await self.strategy.hit(item, name, address_key(ip))

    async def _refusal(self, item: RateLimitItem, *keys: str) -> Problem:
        stats = await self.strategy.get_window_stats(item, *keys)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Problem(
            429,
            "rate_limited",
            "Too many requests. Try again later.",
            headers={"Retry-After": str(retry_after)},
        )


@functools.lru_cache(maxsize=4096)
def address_key(ip: str) -> str:
    """What a per-IP limit counts an address under: an IPv6 address by its /64, since one host is given a whole
    /64 and could take a new address of it for every request; an IPv4 address (written as IPv6 too) by itself."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv4Address):
        return ip
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


async def hit_per_ip(request: Request, name: str, item: RateLimitItem) -> None:
    """Counts one request of the client's IP under `name`; 429 once it is past `item`."""
    limiter: RateLimiter = request.app.state.limiter
    await limiter.hit(item, name, client_ip(request.scope))


def per_ip(name: str, limit: str) -> Callable[[Request], Awaitable[None]]:
    """A route dependency limiting one client IP to `limit` (for example `10/minute`) on this route."""
    item = parse(limit)

    async def dependency(request: Request) -> None:
        await hit_per_ip(request, name, item)

    return dependency
