"""The account's ceiling of failures across every address is not lifted by the owner's own success: a known
device may still sign in past it, but a fresh address stays refused until the window ends or a reset."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from tests.support import PASSWORD, Database, make_settings, new_tenant


@pytest.fixture
async def ceiling_app(database: Database) -> AsyncIterator[FastAPI]:
    settings = {
        "lockout_free_attempts": 4,
        "lockout_threshold": 4,
        "lockout_max_delay": 0,
        "lockout_account_ceiling": 6,
    }
    app = create_app(make_settings(database, **settings))
    yield app
    await app.state.engine.dispose()
    app.state.hasher.close()


def _client(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 1))
    return httpx.AsyncClient(transport=transport, base_url="http://sump.test")


@pytest.mark.asvs("AUTH-03", "AUTH-04")
async def test_the_owners_success_does_not_lift_the_ceiling_for_other_addresses(ceiling_app: FastAPI) -> None:
    async with _client(ceiling_app, "198.51.100.1") as setup:
        world = await new_tenant(setup)
        user = await world.add_end_user()
    login = f"{user.auth_base}/login"
    right = {"email": user.email, "password": PASSWORD}

    async with _client(ceiling_app, "198.51.100.7") as owner_browser:
        assert (await owner_browser.post(login, json=right)).status_code == 200
        assert "sump_device" in owner_browser.cookies
        for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            async with _client(ceiling_app, ip) as attacker:
                for i in range(2):  # under each address's own threshold, six in all: the ceiling
                    wrong = {"email": user.email, "password": f"wrong password {i}"}
                    assert (await attacker.post(login, json=wrong)).status_code == 401

        again = await owner_browser.post(login, json=right)
        assert again.status_code == 200, "past the ceiling, a device that signed in before still gets in"

    async with _client(ceiling_app, "203.0.113.4") as fresh:
        refused = await fresh.post(login, json=right)

    assert refused.status_code == 429, "the owner's success leaves the account's ceiling in place"
    assert refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) > 0
