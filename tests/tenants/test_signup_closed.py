"""`SUMP_TENANT_SIGNUP=off`: nobody creates a tenant through the API or the console's setup wizard (the operator
does, with `sump tenants create`: tests/test_cli.py); everything else serves as before."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from sump.db.tables.tenants import Tenant
from tests.support import Database, make_settings, set_cookies, tenant_body

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
CLOSED = "New tenants are not created here: ask this Sump's operator."


@pytest.fixture
async def closed_app(database: Database) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(database, tenant_signup=False))
    yield app
    await app.state.engine.dispose()


@pytest.fixture
async def browser(closed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser does."""
    transport = httpx.ASGITransport(app=closed_app, raise_app_exceptions=False, client=("198.51.100.21", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


async def tenants(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(Tenant)) or 0)


async def test_the_api_refuses_every_tenant(browser: httpx.AsyncClient, db: AsyncSession) -> None:
    """`onboarding.create` refuses, whoever calls it, and nothing is written."""
    before = await tenants(db)
    response = await browser.post("/api/v1/tenants", json=tenant_body())

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem.pop("requestId") == response.headers["x-request-id"]
    assert problem == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": CLOSED,
        "message": CLOSED,
        "code": "tenant_signup_closed",
    }
    assert "set-cookie" not in response.headers
    assert await tenants(db) == before


async def test_the_setup_wizard_says_it_is_closed_and_creates_nothing(
    browser: httpx.AsyncClient, db: AsyncSession
) -> None:
    page = await browser.get("/console/setup")
    assert page.status_code == 403
    assert CLOSED in page.text
    assert 'action="/console/setup"' not in page.text  # no form to fill
    login = await browser.get("/console/login")
    assert login.status_code == 200
    assert 'href="/console/setup"' not in login.text
    match = CSRF.search(login.text)
    assert match is not None

    before = await tenants(db)
    form = {
        "csrf": match.group(1),
        "name": "Initech",
        "ownerName": "Grace Owner",
        "username": "grace_closed",
        "email": "grace-closed@example.com",
        "password": "a long enough passphrase",
        "passwordConfirm": "a long enough passphrase",
    }
    for step in ("1", "2", "3"):  # no step of the wizard is served
        sent = await browser.post("/console/setup", data={**form, "step": step, "action": "next"})
        assert sent.status_code == 403, step
        assert CLOSED in sent.text
        assert 'action="/console/setup"' not in sent.text
        assert "sump_session" not in set_cookies(sent)
    assert await tenants(db) == before


async def test_an_open_console_offers_the_wizard(client: httpx.AsyncClient) -> None:
    login = await client.get("/console/login")
    assert 'href="/console/setup"' in login.text
    page = await client.get("/console/setup")
    assert page.status_code == 200
    assert CLOSED not in page.text
    assert 'action="/console/setup"' in page.text
