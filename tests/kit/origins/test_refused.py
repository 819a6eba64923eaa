"""Cookie-carrying writes from other sites are refused, whatever the method, body or missing `Origin`."""

from __future__ import annotations

import httpx
import pytest

from tests.kit.origins.support import (
    EVIL,
    FORM,
    assert_refused,
    cookie,
    form_post,
    logout_all_url,
    rotate_url,
    session_is_live,
    signing_keys,
)
from tests.support import PASSWORD, TenantWorld


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize("content_type", [FORM, "text/plain", "multipart/form-data; boundary=x"])
async def test_cross_site_form_cannot_rotate_keys_with_the_cookie(
    http: httpx.AsyncClient, tenant: TenantWorld, content_type: str
) -> None:
    before = await signing_keys(http, tenant)
    request = form_post(tenant)
    request["headers"]["Content-Type"] = content_type
    assert_refused(await http.post(rotate_url(tenant), **request))
    assert await signing_keys(http, tenant) == before


@pytest.mark.asvs("SESS-11")
async def test_cross_site_form_with_a_body_is_refused_before_the_body_is_read(
    http: httpx.AsyncClient, tenant: TenantWorld
) -> None:
    request = form_post(tenant)
    request["content"] = b"anything=1"
    assert_refused(await http.post(logout_all_url(tenant), **request))
    assert await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
async def test_cross_site_form_cannot_log_out_everywhere_with_the_cookie(
    http: httpx.AsyncClient, tenant: TenantWorld
) -> None:
    assert_refused(await http.post(logout_all_url(tenant), **form_post(tenant)))
    assert await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize("origin", ["null", "https://dashboard.example.evil.example", "http://dashboard.example"])
async def test_null_and_look_alike_origins_are_refused(
    http: httpx.AsyncClient, tenant: TenantWorld, origin: str
) -> None:
    assert_refused(await http.post(logout_all_url(tenant), **form_post(tenant, origin=origin)))
    assert await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_without_origin_a_cross_site_fetch_is_refused(
    http: httpx.AsyncClient, tenant: TenantWorld, site: str
) -> None:
    request = form_post(tenant, origin=None, **{"Sec-Fetch-Site": site})
    assert_refused(await http.post(logout_all_url(tenant), **request))
    assert await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
async def test_every_unsafe_method_is_checked(http: httpx.AsyncClient, tenant: TenantWorld) -> None:
    listed = await http.get(f"/api/v1/auth/tenants/{tenant.tenant_id}/sessions", headers=tenant.owner.auth)
    session_id = listed.json()[0]["id"]
    headers = {**cookie(tenant.owner.token), "Origin": EVIL}
    url = f"/api/v1/auth/tenants/{tenant.tenant_id}/sessions/{session_id}"
    assert_refused(await http.delete(url, headers=headers))
    assert_refused(await http.patch(f"{tenant.base}", headers=headers, json={"name": "Renamed"}))
    assert_refused(await http.put(f"{tenant.base}/custom-property", headers=headers, json={"a": 1}))
    assert await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
async def test_cross_site_logout_is_refused(http: httpx.AsyncClient, tenant: TenantWorld) -> None:
    url = f"/api/v1/auth/tenants/{tenant.tenant_id}/logout"
    assert_refused(await http.post(url, headers={**cookie(tenant.owner.token), "Origin": EVIL}))
    assert await session_is_live(http, tenant)


@pytest.mark.asvs("SESS-11")
async def test_login_carrying_a_cookie_from_another_site_is_refused(
    http: httpx.AsyncClient, tenant: TenantWorld
) -> None:
    body = {"email": tenant.owner.email, "password": PASSWORD}
    headers = {**cookie(tenant.owner.token), "Origin": EVIL}
    assert_refused(await http.post(f"/api/v1/auth/tenants/{tenant.tenant_id}/login", json=body, headers=headers))


@pytest.mark.asvs("SESS-11")
async def test_login_csrf_without_a_cookie_cannot_send_credentials(
    http: httpx.AsyncClient, tenant: TenantWorld
) -> None:
    """A cookie-less login from another site (signing the victim in as the attacker) needs a JSON body, which a
    form cannot send and a script can send only after a CORS preflight that unlisted origins fail."""
    body = f'{{"email": "{tenant.owner.email}", "password": "{PASSWORD}"}}'.encode()
    for content_type in (FORM, "text/plain"):
        response = await http.post(
            f"/api/v1/auth/tenants/{tenant.tenant_id}/login",
            content=body,
            headers={"Origin": EVIL, "Content-Type": content_type},
        )
        assert response.status_code == 415, response.text
        assert "set-cookie" not in response.headers
    preflight = await http.options(
        f"/api/v1/auth/tenants/{tenant.tenant_id}/login",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
