"""The console's sign-in asks for a code when the account has a second factor (a plain form, no JavaScript),
with the same challenge and checks as `…/login/factor`; accounts without a factor sign in as before."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.factors.conftest import Clock, member_with_totp
from tests.support import PASSWORD, TenantWorld

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
CHALLENGE = re.compile(r'name="challenge" value="([\w-]+)"')
SECRET = re.compile(r'data-copy="([A-Z2-7]{32})"')
FACTOR = re.compile(r'name="factorId" value="([0-9a-f-]{36})"')
RECOVERY = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.21", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


async def _csrf(browser: httpx.AsyncClient) -> str:
    token = CSRF.search((await browser.get("/console/login")).text)
    assert token is not None
    return token.group(1)


async def test_the_console_asks_for_the_code(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    member, enrolled = await member_with_totp(client, world, clock)
    csrf = await _csrf(browser)
    form = {"csrf": csrf, "tenantId": world.tenant_id, "identifier": member.email, "password": PASSWORD}
    first = await browser.post("/console/login", data=form)
    assert first.status_code == 200
    assert "sump_session" not in first.headers.get("set-cookie", "")
    assert 'name="code"' in first.text
    found = CHALLENGE.search(first.text)
    assert found is not None
    step = {"csrf": csrf, "tenantId": world.tenant_id, "challenge": found.group(1), "next": "/console/"}

    wrong = await browser.post("/console/login/factor", data={**step, "code": clock.code(enrolled.seed, 3)})
    assert wrong.status_code == 401
    assert "The code is not correct." in wrong.text
    assert found.group(1) in wrong.text  # the form keeps its challenge for another try

    done = await browser.post("/console/login/factor", data={**step, "code": clock.code(enrolled.seed)})
    assert done.status_code == 303, done.text
    assert done.headers["set-cookie"].startswith("sump_session=")
    assert (await browser.get("/console/")).status_code == 200

    browser.cookies.clear()
    step["csrf"] = await _csrf(browser)
    used = await browser.post("/console/login/factor", data={**step, "code": clock.code(enrolled.seed, 1)})
    assert used.status_code == 401
    assert 'name="password"' in used.text  # back to the first step


async def test_the_console_leads_an_account_without_a_factor_through_enrolment_when_required(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    required = await client.patch(world.base, json={"settings": {"factorPolicy": "required"}}, headers=world.owner.auth)
    assert required.status_code == 204
    csrf = await _csrf(browser)
    form = {"csrf": csrf, "tenantId": world.tenant_id, "identifier": world.owner.email, "password": PASSWORD}
    response = await browser.post("/console/login", data=form)
    assert response.status_code == 200
    assert "sump_session" not in response.headers.get("set-cookie", "")
    assert "<svg" in response.text  # the QR code, drawn by Sump
    secret, challenge, factor_id = (
        SECRET.search(response.text),
        CHALLENGE.search(response.text),
        FACTOR.search(response.text),
    )
    assert secret is not None
    assert challenge is not None
    assert factor_id is not None
    step = {
        "csrf": csrf,
        "tenantId": world.tenant_id,
        "challenge": challenge.group(1),
        "factorId": factor_id.group(1),
        "next": "/console/",
    }

    wrong = await browser.post("/console/login/enrol", data={**step, "code": clock.code(secret.group(1), 3)})
    assert wrong.status_code == 403
    assert "The code is not correct." in wrong.text
    assert "sump_session" not in wrong.headers.get("set-cookie", "")

    done = await browser.post("/console/login/enrol", data={**step, "code": clock.code(secret.group(1))})
    assert done.status_code == 200, done.text
    assert done.headers["set-cookie"].startswith("sump_session=")
    assert len(RECOVERY.findall(done.text)) == 10
    assert (await browser.get("/console/")).status_code == 200

    browser.cookies.clear()
    step["csrf"] = await _csrf(browser)
    again = await browser.post("/console/login/enrol", data={**step, "code": clock.code(secret.group(1), 1)})
    assert again.status_code == 401  # the challenge is used up: back to the first step
    assert 'name="password"' in again.text


async def test_accounts_without_a_factor_sign_in_to_the_console_as_before(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    csrf = await _csrf(browser)
    form = {"csrf": csrf, "tenantId": world.tenant_id, "identifier": world.owner.email, "password": PASSWORD}
    response = await browser.post("/console/login", data=form)
    assert response.status_code == 303
    assert response.headers["set-cookie"].startswith("sump_session=")
