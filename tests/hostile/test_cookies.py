"""Hostile cookies, on SQLite and PostgreSQL: a signed cookie whose signature holds characters a signature never
has (non-ASCII, percent-encoded or raw) counts as no cookie at all, on the API and on every console page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from sump.kit.crypto import sign_cookie
from tests.console.test_forms import console_login, csrf_of
from tests.support import SECRET, TenantWorld, set_cookies

# `s:<value>.<signature>`: a well-formed shape whose signature is not ASCII.
BAD_SIGNATURES = [
    quote("s:" + "t" * 43 + ".é", safe=""),
    quote("s:" + "t" * 43 + "." + "\u2603" * 43, safe=""),
    quote("s:flash message.\U0001f4a5", safe=""),
]


def cookie_header(**cookies: str) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.21", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


@pytest.mark.asvs("SESS-03", "VAL-01")
@pytest.mark.parametrize("cookie", BAD_SIGNATURES)
async def test_a_session_cookie_with_a_non_ascii_signature_is_no_session(
    client: httpx.AsyncClient, world: TenantWorld, cookie: str
) -> None:
    for path in (f"/api/v1/auth/tenants/{world.tenant_id}/session", f"/api/v1/tenants/{world.tenant_id}"):
        without = await client.get(path)
        response = await client.get(path, headers=cookie_header(sump_session=cookie))
        assert response.status_code == without.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == without.json()["code"]
    # A write with the bad cookie is no more than an anonymous one.
    logout = f"/api/v1/auth/tenants/{world.tenant_id}/logout"
    anonymous = await client.post(logout)
    response = await client.post(logout, headers=cookie_header(sump_session=cookie))
    assert response.status_code == anonymous.status_code < 500, response.text
    # A bearer token next to the bad cookie still works.
    response = await client.get(
        f"/api/v1/auth/tenants/{world.tenant_id}/session",
        headers={**cookie_header(sump_session=cookie), **world.owner.auth},
    )
    assert response.status_code == 200, response.text


@pytest.mark.asvs("SESS-03", "VAL-01")
@pytest.mark.parametrize("cookie", BAD_SIGNATURES)
async def test_console_pages_read_a_bad_session_cookie_as_signed_out(client: httpx.AsyncClient, cookie: str) -> None:
    home = await client.get("/console/", headers=cookie_header(sump_session=cookie))
    assert home.status_code == 303
    assert home.headers["location"].startswith("/console/login")
    login = await client.get("/console/login", headers=cookie_header(sump_session=cookie))
    assert login.status_code == 200
    assert "Sign in" in login.text


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize("cookie", BAD_SIGNATURES)
async def test_a_bad_flash_cookie_shows_no_message_and_breaks_no_page(
    client: httpx.AsyncClient, world: TenantWorld, cookie: str
) -> None:
    login = await client.get("/console/login", headers=cookie_header(sump_flash=cookie))
    assert login.status_code == 200
    assert "flash message" not in login.text
    missing = await client.get("/console/no-such-page", headers=cookie_header(sump_flash=cookie))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    # The spent flash cookie is cleared, bad or not.
    assert set_cookies(login)["sump_flash"].clears


@pytest.mark.asvs("VAL-01")
async def test_signed_in_console_with_a_bad_flash_cookie_still_signs_out(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    signed_in = await console_login(browser, world)
    assert signed_in.status_code == 303
    browser.cookies.set("sump_flash", BAD_SIGNATURES[2], domain="sump.test", path="/console")
    dashboard = await browser.get("/console/")
    assert dashboard.status_code == 200
    assert world.tenant_id in dashboard.text
    browser.cookies.set("sump_flash", BAD_SIGNATURES[2], domain="sump.test", path="/console")
    token = await csrf_of(browser, "/console/")
    browser.cookies.set("sump_flash", BAD_SIGNATURES[0], domain="sump.test", path="/console")
    out = await browser.post("/console/logout", data={"csrf": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    after = await browser.get("/console/")
    assert after.status_code == 303  # the session really ended


@pytest.mark.asvs("VAL-01")
async def test_a_bad_device_cookie_does_not_stop_a_sign_in(client: httpx.AsyncClient, world: TenantWorld) -> None:
    response = await client.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login",
        json={"email": world.owner.email, "password": "correct horse battery staple"},
        headers=cookie_header(sump_device=BAD_SIGNATURES[1]),
    )
    assert response.status_code == 200, response.text


def signed(token: str) -> str:
    return f"sump_session={sign_cookie(SECRET, token)}"


@pytest.mark.asvs("SESS-03")
async def test_of_several_cookie_headers_the_last_session_cookie_is_the_credential(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    """Every `Cookie` header is read as one list of cookies, a later `sump_session` replacing an earlier one:
    a bad or foreign cookie in front does not decide who is signed in, and one behind it does."""
    tenant, session = f"/api/v1/tenants/{world.tenant_id}", f"/api/v1/auth/tenants/{world.tenant_id}/session"
    bad = f"sump_session={BAD_SIGNATURES[0]}"
    for path in (tenant, session):
        last_is_ours = await client.get(path, headers=[("Cookie", bad), ("Cookie", signed(world.owner.token))])
        assert last_is_ours.status_code == 200, last_is_ours.text
        foreign_first = [("Cookie", signed(other.owner.token)), ("Cookie", f"a=1; {signed(world.owner.token)}")]
        assert (await client.get(path, headers=foreign_first)).status_code == 200
    ours_first = [("Cookie", signed(world.owner.token)), ("Cookie", signed(other.owner.token))]
    refused = await client.get(tenant, headers=ours_first)
    assert refused.status_code == 404, refused.text
    assert refused.json()["code"] == "tenant_not_found"
    refused = await client.get(session, headers=ours_first)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "unauthenticated"


@pytest.mark.asvs("SESS-03")
@pytest.mark.parametrize("authorization", ["Bearer ", "Bearer    ", "bearer"])
async def test_a_bearer_header_without_a_token_leaves_the_cookie_as_the_credential(
    client: httpx.AsyncClient, world: TenantWorld, authorization: str
) -> None:
    """`Authorization: Bearer` wins only when it carries a token: an empty one is no credential, and the session
    cookie sent beside it is read (as the origin guard reads it: such a write is checked as a cookie's)."""
    headers = {"Authorization": authorization, "Cookie": signed(world.owner.token)}
    for path in (f"/api/v1/tenants/{world.tenant_id}", f"/api/v1/auth/tenants/{world.tenant_id}/session"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
    without_cookie = await client.get(f"/api/v1/tenants/{world.tenant_id}", headers={"Authorization": authorization})
    assert without_cookie.status_code == 401, without_cookie.text
    assert without_cookie.json()["code"] == "unauthenticated"


@pytest.mark.asvs("VAL-01")
async def test_a_flash_message_is_shown_only_when_sump_signed_it(client: httpx.AsyncClient) -> None:
    """The one-time message of the console's pages comes from Sump only: a `sump_flash` cookie written by anyone
    else (unsigned, or signed with another secret) shows nothing, nor does Sump's signature of the text made for
    another cookie."""
    message = "Call-the-helpdesk-at-555-0100-to-unlock"
    forged = [
        message,
        sign_cookie("another-secret-" + "x" * 32, message, "sump_flash"),
        f"s:{message}.{'A' * 43}",
        sign_cookie(SECRET, message),
        sign_cookie(SECRET, message, "sump_device"),
    ]
    for cookie in forged:
        login = await client.get("/console/login", headers=cookie_header(sump_flash=cookie))
        assert login.status_code == 200
        assert message not in login.text
    genuine = await client.get(
        "/console/login", headers=cookie_header(sump_flash=sign_cookie(SECRET, message, "sump_flash"))
    )
    assert genuine.status_code == 200
    assert message in genuine.text


@pytest.mark.asvs("SESS-03")
async def test_the_console_reads_the_session_cookie_the_api_reads(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    """Of several `Cookie` headers the console, like the API, takes the last `sump_session`: one request is one
    signed-in account (or none) on every path."""
    bad = f"sump_session={BAD_SIGNATURES[0]}"
    ours_last = await client.get("/console/", headers=[("Cookie", bad), ("Cookie", signed(world.owner.token))])
    assert ours_last.status_code == 200, ours_last.text
    assert world.tenant_id in ours_last.text
    theirs_last = [("Cookie", signed(world.owner.token)), ("Cookie", signed(other.owner.token))]
    other_home = await client.get("/console/", headers=theirs_last)
    assert other_home.status_code == 200, other_home.text
    assert (other.tenant_id in other_home.text, world.tenant_id in other_home.text) == (True, False)
    bad_last = await client.get("/console/", headers=[("Cookie", signed(world.owner.token)), ("Cookie", bad)])
    assert bad_last.status_code == 303
    assert bad_last.headers["location"].startswith("/console/login")
