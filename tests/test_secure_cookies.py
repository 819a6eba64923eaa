"""In production (`SUMP_ENV=prod`) every cookie Sump sets is `Secure`, so a browser never sends a session over
plain HTTP: the API's `sump_session`, the hosted pages' `sump_hosted`, and the forms' CSRF cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from tests.hosted.support import pages, sign_in
from tests.support import PASSWORD, Database, SetCookie, make_settings, new_tenant, set_cookies


@pytest.fixture
async def production(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A production app behind HTTPS, with a client that keeps cookies as a browser does."""
    app: FastAPI = create_app(make_settings(database, env="prod", public_url="https://sump.test"))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.42", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://sump.test") as http:
            yield http
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()


def assert_secure(cookie: SetCookie) -> None:
    assert cookie.secure, cookie
    assert cookie.httponly, cookie
    assert cookie.samesite in {"lax", "strict"}, cookie


@pytest.mark.asvs("SESS-02")
async def test_every_cookie_is_secure_in_production(production: httpx.AsyncClient) -> None:
    world = await new_tenant(production)
    user = await world.add_end_user(world.environment_id)
    login = await production.post(f"{user.auth_base}/login", json=user.credentials)
    assert login.status_code == 200, login.text
    assert_secure(set_cookies(login)["sump_session"])

    for page in (f"{pages(world.environment_id)}/sign-in", "/console/login"):
        production.cookies.clear()
        form = await production.get(page)
        assert form.status_code == 200, form.text
        assert set_cookies(form), "the form's CSRF cookie"
        for cookie in set_cookies(form).values():
            assert_secure(cookie)
    hosted = await sign_in(production, world.environment_id, user.email, PASSWORD)
    assert hosted.status_code == 303, hosted.text
    assert_secure(set_cookies(hosted)["sump_hosted"])
