"""One per-address sign-in budget for every password check, and failed sign-ins audited with the account they
aimed at."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from sump.db.tables.audit import AuditEvent
from tests.support import PASSWORD, Database, make_settings, new_tenant, within_one_window_of_the_clock

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
BUDGET = 30  # sign-ins per address and minute, shared by every way of checking a password


@pytest.fixture
async def limited_app(database: Database) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(database, rate_limits=True))
    yield app
    await app.state.engine.dispose()
    app.state.hasher.close()


def _client(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 1))
    return httpx.AsyncClient(transport=transport, base_url="http://sump.test")


def _ghost() -> dict[str, str]:
    """An identifier nobody holds, new each time, so only the address's budget can refuse it."""
    return {"email": f"ghost-{uuid.uuid4().hex[:10]}@example.com", "password": "not the password"}


@pytest.mark.asvs("AUTH-03")
async def test_every_password_check_draws_on_one_budget_per_address(limited_app: FastAPI) -> None:
    async with _client(limited_app, "198.51.100.1") as setup, _client(limited_app, "203.0.113.77") as http:
        world = await new_tenant(setup)
        user = await world.add_end_user()
        tenant_login = f"/api/v1/auth/tenants/{world.tenant_id}/login"
        end_user_login = f"{user.auth_base}/login"
        token = f"{user.auth_base}/token"
        answers = []
        await within_one_window_of_the_clock(40)
        for i in range(BUDGET):
            match i % 4:
                case 0:
                    answers.append(await http.post(tenant_login, json=_ghost()))
                case 1:
                    answers.append(await http.post(end_user_login, json=_ghost()))
                case 2:
                    answers.append(await http.post(token, json={"grantType": "password", **_ghost()}))
                case _:
                    page = await http.get("/console/login")
                    match_ = CSRF.search(page.text)
                    assert match_ is not None
                    form = {"csrf": match_.group(1), "tenantId": world.tenant_id, "password": "not the password"}
                    form["identifier"] = _ghost()["email"]
                    answers.append(await http.post("/console/login", data=form))
        assert all(answer.status_code in {400, 401} for answer in answers), [a.status_code for a in answers]

        over = [
            await http.post(tenant_login, json={"email": world.owner.email, "password": PASSWORD}),
            await http.post(end_user_login, json={"email": user.email, "password": PASSWORD}),
            await http.post(token, json={"grantType": "password", "email": user.email, "password": PASSWORD}),
            await http.post(
                f"{user.auth_base}/change-password",
                json={"currentPassword": PASSWORD, "newPassword": "another long passphrase"},
                headers=user.auth,
            ),
        ]
        elsewhere = await setup.post(end_user_login, json={"email": user.email, "password": PASSWORD})

    for answer in over:
        assert answer.status_code == 429, answer.text
        assert answer.json()["code"] == "rate_limited"
        assert int(answer.headers["retry-after"]) > 0
    assert elsewhere.status_code == 200, "another address has its own budget"


@pytest.mark.asvs("LOG-01")
async def test_a_failed_sign_in_names_the_account_it_aimed_at(limited_app: FastAPI, db: AsyncSession) -> None:
    async with _client(limited_app, "198.51.100.2") as http:
        world = await new_tenant(http)
        user = await world.add_end_user()
        login = f"{user.auth_base}/login"
        assert (await http.post(login, json={"username": user.username, "password": "wrong"})).status_code == 401
        assert (await http.post(login, json={"username": "nobody_at_all", "password": "wrong"})).status_code == 401

    events = list(
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.environment_id == uuid.UUID(user.environment_id), AuditEvent.action == "login.failed")
            .order_by(AuditEvent.created_at)
        )
    )
    assert [(event.target_type, event.target_id) for event in events] == [
        ("environment_account", uuid.UUID(user.account_id)),
        (None, None),
    ]
    assert [event.details["code"] for event in events] == ["invalid_credentials", "invalid_credentials"]
    assert all(event.outcome == "failure" for event in events)


@pytest.mark.asvs("AUTH-03", "AUTH-05")
async def test_second_factor_codes_draw_on_the_same_budget(limited_app: FastAPI) -> None:
    """An address that spent its sign-in budget on passwords cannot go on guessing second-factor codes: the
    code step of a sign-in and a step-up answer 429 before any code is checked."""
    async with _client(limited_app, "198.51.100.3") as setup, _client(limited_app, "203.0.113.78") as http:
        world = await new_tenant(setup)
        user = await world.add_end_user()
        started = await setup.post(f"{user.auth_base}/me/factors/totp", json={"label": "phone"}, headers=user.auth)
        assert started.status_code == 201, started.text
        seed, factor_id = started.json()["secret"], started.json()["factorId"]
        confirm = {"code": pyotp.TOTP(seed).now()}
        confirmed = await setup.post(
            f"{user.auth_base}/me/factors/{factor_id}/confirm", json=confirm, headers=user.auth
        )
        assert confirmed.status_code == 200, confirmed.text
        password_step = await setup.post(f"{user.auth_base}/login", json=user.credentials)
        assert password_step.status_code == 202, password_step.text
        challenge = password_step.json()["challenge"]
        wrong = f"{(int(pyotp.TOTP(seed).now()) + 500000) % 1000000:06d}"

        await within_one_window_of_the_clock(40)
        for _ in range(BUDGET):
            spent = await http.post(f"{user.auth_base}/login", json=_ghost())
            assert (spent.status_code, spent.json()["code"]) == (401, "invalid_credentials")
        over = [
            await http.post(f"{user.auth_base}/login/factor", json={"challenge": challenge, "code": wrong}),
            await http.post(f"{user.auth_base}/step-up", json={"code": wrong}, headers=user.auth),
        ]
        elsewhere = await setup.post(f"{user.auth_base}/login/factor", json={"challenge": challenge, "code": wrong})

    for answer in over:
        assert answer.status_code == 429, answer.text
        assert answer.json()["code"] == "rate_limited"
        assert int(answer.headers["retry-after"]) > 0
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (401, "invalid_code")


@pytest.mark.asvs("AUTH-03")
async def test_passkey_sign_in_options_draw_on_the_same_budget(limited_app: FastAPI) -> None:
    """The options of a passwordless sign-in are for anyone and each writes a challenge row: one address may
    not ask for them without bound, nor beyond its sign-in budget by the API, the hosted pages or the console."""
    passkeys = {"passkeyRpId": "localhost", "passkeyOrigins": ["http://localhost:8123"]}
    async with _client(limited_app, "198.51.100.4") as setup, _client(limited_app, "203.0.113.79") as http:
        world = await new_tenant(setup)
        environment_id = await world.add_environment(settings=passkeys)
        user = await world.add_end_user(environment_id)
        options = f"{user.auth_base}/login/passkey/options"
        hosted = f"/api/v1/environments/{environment_id}/hosted"
        hosted_csrf = CSRF.search((await http.get(f"{hosted}/sign-in")).text)
        console_csrf = CSRF.search((await http.get("/console/login")).text)
        assert hosted_csrf is not None
        assert console_csrf is not None

        await within_one_window_of_the_clock(40)
        for _ in range(BUDGET):
            asked = await http.post(options, json={})
            assert asked.status_code == 200, asked.text
        over = [
            await http.post(options, json={}),
            await http.post(f"{user.auth_base}/login", json=user.credentials),
            await http.post(f"{hosted}/sign-in/passkey/options", data={"csrf": hosted_csrf.group(1)}),
            await http.post(
                "/console/login/passkey/options", data={"csrf": console_csrf.group(1), "tenantId": world.tenant_id}
            ),
        ]
        elsewhere = await setup.post(options, json={})

    for answer in over:
        assert (answer.status_code, answer.json()["code"]) == (429, "rate_limited"), answer.text
        assert int(answer.headers["retry-after"]) > 0
    assert elsewhere.status_code == 200, "another address has its own budget"
