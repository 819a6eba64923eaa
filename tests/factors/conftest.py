"""Second factors: a TOTP clock that tests move (no sleeps), and end users and tenant accounts with a factor."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import httpx
import pyotp
import pytest

from sump.factors import totp
from tests.support import PASSWORD, EndUser, Member, TenantWorld, bearer


class Clock:
    """The clock of TOTP checks, frozen ten seconds into a time step; `tick` moves it whole steps."""

    def __init__(self) -> None:
        self.t = float(int(time.time()) // 30 * 30 + 10)

    def __call__(self) -> float:
        return self.t

    def tick(self, steps: int = 1) -> None:
        self.t += 30 * steps

    def code(self, seed: str, offset: int = 0) -> str:
        """The code of the step `offset` steps from now."""
        return pyotp.TOTP(seed).at(self.t + 30 * offset)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(totp, "now", frozen)
    return frozen


@dataclass
class Enrolled:
    """An account with a confirmed TOTP factor: where it signs in, how, its seed and recovery codes."""

    base: str  # /api/v1/auth/{tenants|environments}/{id}
    login: dict[str, str]
    token: str  # a session signed in before the factor, stepped up by the enrolment
    seed: str
    factor_id: str
    recovery_codes: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def enrol_totp(client: httpx.AsyncClient, base: str, token: str, clock: Clock) -> tuple[str, str, list[str]]:
    """Enrols TOTP for the session's account: (seed, factor id, recovery codes). The clock moves past the step
    used, so the next code is fresh."""
    started = await client.post(f"{base}/me/factors/totp", json={"label": "phone"}, headers=bearer(token))
    assert started.status_code == 201, started.text
    setup = started.json()
    confirmed = await client.post(
        f"{base}/me/factors/{setup['factorId']}/confirm",
        json={"code": clock.code(setup["secret"])},
        headers=bearer(token),
    )
    assert confirmed.status_code == 200, confirmed.text
    clock.tick()
    return setup["secret"], setup["factorId"], confirmed.json().get("recoveryCodes") or []


async def end_user_with_totp(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, environment_id: str | None = None
) -> tuple[EndUser, Enrolled]:
    user = await world.add_end_user(environment_id or world.environment_id)
    seed, factor_id, codes = await enrol_totp(client, user.auth_base, user.token, clock)
    enrolled = Enrolled(user.auth_base, user.credentials, user.token, seed, factor_id, codes)
    return user, enrolled


async def member_with_totp(
    client: httpx.AsyncClient, world: TenantWorld, clock: Clock, role: str = "admin"
) -> tuple[Member, Enrolled]:
    member = await world.add_member(role)
    base = f"/api/v1/auth/tenants/{world.tenant_id}"
    seed, factor_id, codes = await enrol_totp(client, base, member.token, clock)
    login = {"username": member.username, "password": PASSWORD}
    return member, Enrolled(base, login, member.token, seed, factor_id, codes)


async def challenge_of(client: httpx.AsyncClient, enrolled: Enrolled) -> str:
    """Signs in with the password: the challenge of the 202."""
    response = await client.post(f"{enrolled.base}/login", json=enrolled.login)
    assert response.status_code == 202, response.text
    challenge: str = response.json()["challenge"]
    return challenge


def tag() -> str:
    return uuid.uuid4().hex[:8]
