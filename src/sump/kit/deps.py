"""Route dependencies for the application-wide objects kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from sump.config import Settings
from sump.kit.lockout import Lockout
from sump.kit.middleware import client_ip
from sump.kit.passwords import PasswordHasher
from sump.kit.ratelimit import RateLimiter


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


def _lockout(request: Request) -> Lockout:
    lockout: Lockout = request.app.state.lockout
    return lockout


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as recorded on sessions."""

    ip: str
    user_agent: str | None


def _client(request: Request) -> Client:
    agent = request.headers.get("user-agent")
    return Client(ip=client_ip(request.scope), user_agent=agent[:512] if agent else None)


SettingsDep = Annotated[Settings, Depends(_settings)]
HasherDep = Annotated[PasswordHasher, Depends(_hasher)]
LockoutDep = Annotated[Lockout, Depends(_lockout)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
ClientDep = Annotated[Client, Depends(_client)]
