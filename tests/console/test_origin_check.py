"""The console's forms use the API's origin check, with Sump's own origin only: in process, on SQLite and
PostgreSQL, and behind a TLS proxy (Sump sees http, the browser's `Origin` says https)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from tests.console.test_forms import console_login
from tests.support import Database, TenantWorld, make_settings, new_tenant

PUBLIC = "https://id.example"
DASHBOARD = "https://dashboard.example"


@pytest.fixture(scope="module")
async def proxied_app(database: Database) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database, public_url=PUBLIC, cors_origins=[DASHBOARD]))
    yield application
    await application.state.engine.dispose()
    application.state.hasher.close()


def _transport(app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.30", 40000))


@pytest.fixture
async def behind_proxy(proxied_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that keeps cookies, reaching Sump through a proxy that ends TLS and keeps the Host."""
    async with httpx.AsyncClient(transport=_transport(proxied_app), base_url="http://id.example") as http:
        yield http


@pytest.fixture
async def tenant(proxied_app: FastAPI) -> AsyncIterator[TenantWorld]:
    async with httpx.AsyncClient(transport=_transport(proxied_app), base_url="http://id.example") as api:
        yield await new_tenant(api)


@pytest.mark.asvs("SESS-11")
async def test_console_behind_a_tls_proxy_accepts_its_public_origin(
    behind_proxy: httpx.AsyncClient, tenant: TenantWorld
) -> None:
    response = await console_login(behind_proxy, tenant, Origin=PUBLIC, **{"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/"
    assert (await behind_proxy.get("/console/")).status_code == 200


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize(
    "origin", [DASHBOARD, "https://evil.example", "null", "http://id.example.evil.example", "http://id.example"]
)
async def test_console_forms_trust_no_other_origin_not_even_a_listed_one(
    behind_proxy: httpx.AsyncClient, tenant: TenantWorld, origin: str
) -> None:
    response = await console_login(behind_proxy, tenant, Origin=origin)
    assert response.status_code == 403
    assert "came from another site" in response.text
    assert "sump_session" not in response.headers.get("set-cookie", "")


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site"])
async def test_a_null_origin_passes_only_when_the_browser_says_same_origin(
    behind_proxy: httpx.AsyncClient, tenant: TenantWorld, fetch_site: str
) -> None:
    """A page that sends no referrer posts `Origin: null`, as does any sandboxed or opaque page: `null` is judged
    by the browser's `Sec-Fetch-Site` alone, and only `same-origin` passes."""
    refused = await console_login(behind_proxy, tenant, Origin="null", **{"Sec-Fetch-Site": fetch_site})
    assert refused.status_code == 403
    assert "came from another site" in refused.text
    assert "sump_session" not in refused.headers.get("set-cookie", "")
    own = await console_login(behind_proxy, tenant, Origin="null", **{"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 303, own.text
    assert own.headers["location"] == "/console/"


@pytest.mark.asvs("SESS-11")
async def test_console_sign_out_with_a_listed_origin_is_refused(
    behind_proxy: httpx.AsyncClient, tenant: TenantWorld
) -> None:
    assert (await console_login(behind_proxy, tenant, Origin=PUBLIC)).status_code == 303
    page = await behind_proxy.get("/console/")
    csrf = page.text.split('name="csrf" value="', 1)[1][:64]
    refused = await behind_proxy.post("/console/logout", data={"csrf": csrf}, headers={"Origin": DASHBOARD})
    assert refused.status_code == 403
    assert "came from another site" in refused.text  # the console's own refusal: the API's guard let it by
    assert (await behind_proxy.get("/console/")).status_code == 200  # still signed in
    signed_out = await behind_proxy.post("/console/logout", data={"csrf": csrf}, headers={"Origin": PUBLIC})
    assert signed_out.status_code == 303
