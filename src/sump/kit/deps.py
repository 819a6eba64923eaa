"""Route dependencies for the application-wide objects kept on `app.state`.

All are `async def`: FastAPI would run a plain `def` dependency in a thread, a hand-off per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from sump.config import Settings
from sump.kit.lockout import Lockout
from sump.kit.middleware import client_ip
from sump.kit.passwords import PasswordHasher
from sump.kit.ratelimit import RateLimiter


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


async def _lockout(request: Request) -> Lockout:
    lockout: Lockout = request.app.state.lockout
    return lockout


async def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def _hash_slot(request: Request) -> AsyncIterator[None]:
    """A place in the password hasher's pool, taken before the request touches the database."""
    hasher: PasswordHasher = request.app.state.hasher
    async with hasher.slot():
        yield


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as recorded on sessions."""

    ip: str
    user_agent: str | None


async def _client(request: Request) -> Client:
    agent = request.headers.get("user-agent")
    return Client(ip=client_ip(request.scope), user_agent=agent[:512] if agent else None)


SettingsDep = Annotated[Settings, Depends(_settings)]
HasherDep = Annotated[PasswordHasher, Depends(_hasher)]
LockoutDep = Annotated[Lockout, Depends(_lockout)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
ClientDep = Annotated[Client, Depends(_client)]
HashSlot: Any = Depends(_hash_slot, scope="function")
"""In a route's `dependencies=[…]` when it always hashes a password: a full pool answers 503 at once."""
