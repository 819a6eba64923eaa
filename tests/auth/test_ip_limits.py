"""Per-address limits on sign-in, forgotten-password and reset-password, for tenant accounts and end users,
with rate limits on and the clients behind a trusted proxy (their address comes from `X-Forwarded-For`).

Each attempt uses an identifier of its own, so that only the per-address budget can refuse it (never a
per-account counter).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from tests.support import PASSWORD, Database, make_settings, new_tenant, within_one_window_of_the_clock

PROXY = "192.0.2.10"
ATTACKER, NEIGHBOUR = "198.51.100.7", "198.51.100.8"
# Requests one address may make per minute, per route family.
LOGIN_BUDGET = 30
FORGOT_BUDGET = RESET_BUDGET = 10


@pytest.fixture
async def limited_app(database: Database) -> AsyncIterator[FastAPI]:
    """Rate limits on (counters in memory, fresh for each test), with one trusted proxy."""
    app = create_app(make_settings(database, rate_limits=True, trusted_proxies=["192.0.2.0/24"]))
    yield app
    await app.state.engine.dispose()
    app.state.hasher.close()


@pytest.fixture
async def http(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests arrive from the trusted proxy."""
    transport = httpx.ASGITransport(app=limited_app, raise_app_exceptions=False, client=(PROXY, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as client:
        yield client


def from_ip(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def nobody() -> str:
    return f"nobody-{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class Account:
    auth_base: str
    email: str


async def account_of(http: httpx.AsyncClient, family: str) -> Account:
    """A tenant's owner, or an end user of the tenant's environment, with password `PASSWORD`."""
    world = await new_tenant(http)
    if family == "tenant":
        return Account(f"/api/v1/auth/tenants/{world.tenant_id}", world.owner.email)
    user = await world.add_end_user(world.environment_id)
    return Account(user.auth_base, user.email)


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


@pytest.mark.asvs("AUTH-03", "AUTH-04", "VAL-08")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_login_past_the_per_address_budget_is_429(http: httpx.AsyncClient, family: str) -> None:
    account = await account_of(http, family)
    url = f"{account.auth_base}/login"

    await within_one_window_of_the_clock(40)
    for _ in range(LOGIN_BUDGET):
        failed = await http.post(url, json={"email": nobody(), "password": PASSWORD}, headers=from_ip(ATTACKER))
        assert (failed.status_code, failed.json()["code"]) == (401, "invalid_credentials")
    right_password = {"email": account.email, "password": PASSWORD}
    limited = await http.post(url, json=right_password, headers=from_ip(ATTACKER))

    assert_rate_limited(limited)
    assert "set-cookie" not in limited.headers
    elsewhere = await http.post(url, json=right_password, headers=from_ip(NEIGHBOUR))
    assert elsewhere.status_code == 200, elsewhere.text


@pytest.mark.asvs("RST-08", "VAL-08")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_forgot_password_past_the_per_address_budget_is_429(http: httpx.AsyncClient, family: str) -> None:
    account = await account_of(http, family)
    url = f"{account.auth_base}/forgot-password"

    await within_one_window_of_the_clock(40)
    for _ in range(FORGOT_BUDGET):
        answered = await http.post(url, json={"email": nobody()}, headers=from_ip(ATTACKER))
        assert answered.status_code == 200, answered.text
    limited = await http.post(url, json={"email": account.email}, headers=from_ip(ATTACKER))

    assert_rate_limited(limited)
    elsewhere = await http.post(url, json={"email": account.email}, headers=from_ip(NEIGHBOUR))
    assert elsewhere.status_code == 200, elsewhere.text


@pytest.mark.asvs("RST-08", "VAL-08")
@pytest.mark.parametrize("family", ["tenant", "environment"])
async def test_reset_password_past_the_per_address_budget_is_429(http: httpx.AsyncClient, family: str) -> None:
    account = await account_of(http, family)
    url = f"{account.auth_base}/reset-password"

    def attempt() -> dict[str, str]:
        return {"token": uuid.uuid4().hex * 2, "newPassword": "a brand new passphrase"}

    await within_one_window_of_the_clock(40)
    for _ in range(RESET_BUDGET):
        refused = await http.post(url, json=attempt(), headers=from_ip(ATTACKER))
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_token")
    limited = await http.post(url, json=attempt(), headers=from_ip(ATTACKER))

    assert_rate_limited(limited)
    elsewhere = await http.post(url, json=attempt(), headers=from_ip(NEIGHBOUR))
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (400, "invalid_token")
