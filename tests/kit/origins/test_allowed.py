"""Cookie-carrying writes that are let through: with a bearer token, from a listed origin or Sump's own, without
`Origin` from the same origin or from no browser at all; and reads."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.kit.origins.support import (
    DASHBOARD,
    EVIL,
    PUBLIC,
    assert_refused,
    client_for,
    cookie,
    form_post,
    logout_all_url,
    rotate_url,
    session_is_live,
    signing_keys,
)
from tests.support import PASSWORD, TenantWorld, bearer


@pytest.mark.asvs("SESS-11")
async def test_bearer_requests_are_not_checked(http: httpx.AsyncClient, tenant: TenantWorld) -> None:
    with_cookie_too = {**cookie(tenant.owner.token), **tenant.owner.auth, "Origin": EVIL}
    rotated = await http.post(rotate_url(tenant), headers=with_cookie_too)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["kid"]
    revoked = await http.post(
        logout_all_url(tenant), headers={**tenant.owner.auth, "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] >= 1


@pytest.mark.asvs("SESS-11", "LOG-07")
async def test_a_listed_origin_may_write_with_the_cookie(http: httpx.AsyncClient, tenant: TenantWorld) -> None:
    rotated = await http.post(rotate_url(tenant), **form_post(tenant, origin=DASHBOARD))
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["kid"] in await signing_keys(http, tenant)
    assert rotated.headers["access-control-allow-origin"] == DASHBOARD
    revoked = await http.post(logout_all_url(tenant), **form_post(tenant, origin="http://localhost:3001"))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] >= 1
    assert not await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize(
    "origin", [PUBLIC, "https://ID.example:443", "http://sump.test"], ids=["public-url", "default-port", "own-host"]
)
async def test_sumps_own_origin_may_write_with_the_cookie(
    http: httpx.AsyncClient, tenant: TenantWorld, origin: str
) -> None:
    response = await http.post(logout_all_url(tenant), **form_post(tenant, origin=origin))
    assert response.status_code == 200, response.text
    assert not await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize("site", ["same-origin", "none"])
async def test_without_origin_a_same_origin_fetch_may_write(
    http: httpx.AsyncClient, tenant: TenantWorld, site: str
) -> None:
    response = await http.post(logout_all_url(tenant), **form_post(tenant, origin=None, **{"Sec-Fetch-Site": site}))
    assert response.status_code == 200, response.text


@pytest.mark.asvs("SESS-11")
async def test_without_origin_or_fetch_metadata_no_browser_is_involved(
    http: httpx.AsyncClient, tenant: TenantWorld
) -> None:
    """curl or another server: the cookie was given on purpose."""
    rotated = await http.post(rotate_url(tenant), **form_post(tenant, origin=None))
    assert rotated.status_code == 200, rotated.text
    revoked = await http.post(logout_all_url(tenant), **form_post(tenant, origin=None))
    assert revoked.status_code == 200, revoked.text


@pytest.mark.asvs("SESS-11", "LOG-07")
async def test_the_original_dashboard_logs_out_from_its_origin(http: httpx.AsyncClient, tenant: TenantWorld) -> None:
    """`fetch(api + "/auth/tenants/" + id + "/logout", {method: "POST", credentials: "include"})`: no body."""
    session = await tenant.http.post(
        f"/api/v1/auth/tenants/{tenant.tenant_id}/login", json={"email": tenant.owner.email, "password": PASSWORD}
    )
    token = session.json()["token"]
    response = await http.post(
        f"/api/v1/auth/tenants/{tenant.tenant_id}/logout",
        headers={**cookie(token), "Origin": DASHBOARD, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
    )
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["set-cookie"].startswith("sump_session=")
    gone = await http.get(f"/api/v1/auth/tenants/{tenant.tenant_id}/session", headers=bearer(token))
    assert gone.status_code == 401
    assert await session_is_live(http, tenant)  # only that session ended


@pytest.mark.asvs("SESS-11")
async def test_login_without_a_cookie_from_a_listed_origin_works(http: httpx.AsyncClient, tenant: TenantWorld) -> None:
    response = await http.post(
        f"/api/v1/auth/tenants/{tenant.tenant_id}/login",
        json={"email": tenant.owner.email, "password": PASSWORD},
        headers={"Origin": DASHBOARD, "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["set-cookie"].startswith("sump_session=")


@pytest.mark.asvs("SESS-11")
async def test_reads_with_the_cookie_are_not_checked(http: httpx.AsyncClient, tenant: TenantWorld) -> None:
    response = await http.get(
        f"/api/v1/auth/tenants/{tenant.tenant_id}/session",
        headers={**cookie(tenant.owner.token), "Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200, response.text
    assert "access-control-allow-origin" not in response.headers  # and CORS gives the page nothing to read


@pytest.mark.asvs("SESS-11")
async def test_behind_a_tls_proxy_the_public_origin_is_sumps_own(guarded: FastAPI, tenant: TenantWorld) -> None:
    """The proxy speaks http to Sump; the browser's `Origin` says https, as SUMP_PUBLIC_URL does."""
    async with client_for(guarded, "http://id.example") as proxied:
        assert_refused(
            await proxied.post(logout_all_url(tenant), **form_post(tenant, origin="https://id.example.evil"))
        )
        # The scheme Sump sees is the proxy's: a plain-http page on the public host (anyone who can answer for
        # that host on the network) is not Sump's own origin.
        assert_refused(await proxied.post(logout_all_url(tenant), **form_post(tenant, origin="http://id.example")))
        response = await proxied.post(logout_all_url(tenant), **form_post(tenant, origin=PUBLIC))
        assert response.status_code == 200, response.text
