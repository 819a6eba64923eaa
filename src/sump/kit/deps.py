"""Route dependencies for the application-wide objects kept on `app.state`, and the `Call` every service
use case takes.

All are `async def`: FastAPI would run a plain `def` dependency in a thread, a hand-off per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request

from sump.config import Settings
from sump.kit.call import Call, Client, Runtime
from sump.kit.devices import known_accounts
from sump.kit.middleware import client_ip
from sump.kit.passwords import PasswordHasher
from sump.kit.ratelimit import RateLimiter
from sump.kit.transactions import DbSession, hooks


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


async def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def _hash_slot(request: Request) -> AsyncIterator[None]:
    """A place in the password hasher's pool, taken before the request touches the database."""
    hasher: PasswordHasher = request.app.state.hasher
    async with hasher.slot():
        yield


def client_of(request: Request) -> Client:
    """Where a request comes from, as sessions, audit events and the lockout see it."""
    agent = request.headers.get("user-agent")
    settings: Settings = request.app.state.settings
    return Client(
        ip=client_ip(request.scope),
        user_agent=agent[:512] if agent else None,
        devices=known_accounts(request.cookies, settings),
    )


async def _client(request: Request) -> Client:
    return client_of(request)


async def _call(request: Request, db: DbSession) -> Call:
    runtime: Runtime = request.app.state.runtime
    return Call(db, runtime, client_of(request), hooks(request))


SettingsDep = Annotated[Settings, Depends(_settings)]
HasherDep = Annotated[PasswordHasher, Depends(_hasher)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
ClientDep = Annotated[Client, Depends(_client)]
CallDep = Annotated[Call, Depends(_call)]
HashSlot: Any = Depends(_hash_slot, scope="function")
"""In a route's `dependencies=[…]` when it always hashes a password: a full pool answers 503 at once."""
