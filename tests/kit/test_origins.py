"""Cookie-authenticated writes come only from trusted origins (CSRF, SESS-11).

A state change (any method but GET, HEAD, OPTIONS, TRACE) whose credential is the `sump_session` cookie is
refused with 403 `origin_refused` unless it comes from Sump's own origin (`SUMP_PUBLIC_URL`'s, or the scheme and
host the request was sent to) or from one listed in `SUMP_CORS_ORIGINS`. Without `Origin`, `Sec-Fetch-Site`
decides; with neither, no browser is involved and the request is let through. A bearer token is not something
a browser adds by itself, so requests that carry one are not checked. The console shares the same check but
trusts only Sump's own origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sump.app import create_app
from sump.kit.crypto import sign_cookie
from sump.kit.middleware import OriginGuardMiddleware
from sump.kit.origins import from_trusted_origin, origin_of, trusted_origins
from tests.support import PASSWORD, SECRET, Database, TenantWorld, bearer, make_settings, new_tenant

PUBLIC = "https://id.example"  # SUMP_PUBLIC_URL: Sump as browsers see it, behind a TLS proxy
DASHBOARD = "https://dashboard.example"  # the original dashboard, listed in SUMP_CORS_ORIGINS
EVIL = "https://evil.example"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "message", "code", "requestId"}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
async def guarded(database: Database) -> AsyncIterator[FastAPI]:
    settings = make_settings(database, public_url=PUBLIC + "/", cors_origins=[DASHBOARD, "http://localhost:3001"])
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()
    application.state.hasher.close()


def _client(app: FastAPI, base_url: str = "http://sump.test") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.20", 50000))
    # No cookie is kept: each request says which credential it carries.
    jar = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(transport=transport, base_url=base_url, cookies=jar)


@pytest.fixture
async def http(guarded: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(guarded) as client:
        yield client


@pytest.fixture
async def tenant(http: httpx.AsyncClient) -> TenantWorld:
    return await new_tenant(http)


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"theme=dark; sump_session={sign_cookie(SECRET, token)}"}


def form_post(world: TenantWorld, origin: str | None = EVIL, **extra: str) -> dict[str, Any]:
    """What a page's `<form method=post enctype=…>` sends: the cookie, no custom header, a simple body."""
    headers = {**cookie(world.owner.token), "Content-Type": FORM, **extra}
    if origin is not None:
        headers["Origin"] = origin
    return {"headers": headers, "content": b""}


def rotate_url(world: TenantWorld) -> str:
    return f"{world.base}/environments/{world.environment_id}/keys/rotate"


def logout_all_url(world: TenantWorld) -> str:
    return f"/api/v1/auth/tenants/{world.tenant_id}/logout-all"


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_MEMBERS
    assert body["code"] == "origin_refused"
    assert body["message"] == body["detail"]
    assert "origin" in body["detail"].lower()
    assert "evil" not in response.text  # nothing of the request is echoed
    assert "set-cookie" not in response.headers


async def session_is_live(http: httpx.AsyncClient, world: TenantWorld) -> bool:
    response = await http.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
    return response.status_code == 200


async def signing_keys(http: httpx.AsyncClient, world: TenantWorld) -> list[str]:
    response = await http.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
    assert response.status_code == 200
    return sorted(key["kid"] for key in response.json()["keys"])


# ------------------------------------------------------------------------------------------- refused


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


# ------------------------------------------------------------------------------------------- allowed


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
    async with _client(guarded, "http://id.example") as proxied:
        assert_refused(
            await proxied.post(logout_all_url(tenant), **form_post(tenant, origin="https://id.example.evil"))
        )
        response = await proxied.post(logout_all_url(tenant), **form_post(tenant, origin=PUBLIC))
        assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------------------- the check


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://id.example", "https://id.example"),
        ("https://id.example/", "https://id.example"),
        ("https://ID.Example:443/sump/", "https://id.example"),
        ("http://id.example:80", "http://id.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("null", None),
        ("", None),
        ("*", None),
        ("ftp://id.example", None),
        ("https://", None),
        ("https://id.example:99999", None),
        ("https://user@id.example", None),
        ("id.example", None),
    ],
)
def test_origins_are_compared_in_one_form(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_the_check_decides_by_origin_then_fetch_metadata() -> None:
    trusted = trusted_origins("https://id.example/", ["https://dashboard.example", "*", "nonsense"])
    assert trusted == frozenset({"https://id.example", "https://dashboard.example"})

    def check(origin: str | None, site: str | None, host: str | None = "10.0.0.5:8080") -> bool:
        return from_trusted_origin(origin, site, "http", host, trusted)

    assert check("https://id.example", None)
    assert check("https://dashboard.example", "cross-site")
    assert check("http://10.0.0.5:8080", "same-origin")
    assert check("HTTP://10.0.0.5:8080", None)
    assert check("https://id.example:443", None)
    assert not check("https://10.0.0.5:8080", None)  # another scheme is another origin
    assert not check("https://evil.example", "same-origin")
    assert not check("null", None)
    assert not check("", None)
    assert not check(None, "cross-site")
    assert not check(None, "same-site")
    assert not check(None, "nonsense")
    assert check(None, "same-origin")
    assert check(None, "None")
    assert check(None, None)
    assert not check("http://10.0.0.5:8080", None, host=None)  # no Host: only the trusted list counts
    assert check("https://id.example", None, host=None)


async def test_reads_cost_no_header_parsing() -> None:
    """GET, HEAD and OPTIONS go straight through: the headers are not even looked at."""

    class Untouchable(list[tuple[bytes, bytes]]):
        def __iter__(self) -> Any:
            raise AssertionError("headers read on a safe method")

    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["method"])

    guard = OriginGuardMiddleware(app, cookie_name="sump_session", trusted=frozenset())
    for method in ("GET", "HEAD", "OPTIONS"):
        await guard({"type": "http", "method": method, "path": "/api/v1/x", "headers": Untouchable()}, None, None)  # type: ignore[arg-type]
    assert reached == ["GET", "HEAD", "OPTIONS"]


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ([(b"cookie", b"sump_session=s%3Aabc")], True),
        ([(b"cookie", b"a=1"), (b"cookie", b"b=2; sump_session=s%3Aabc")], True),
        ([(b"cookie", b"sump_session=s%3Aabc"), (b"authorization", b"Basic dTpw")], True),
        ([(b"cookie", b"sump_session=s%3Aabc"), (b"authorization", b"Bearer ")], True),
        ([(b"cookie", b"sump_session=s%3Aabc"), (b"authorization", b"bearer abc")], False),
        ([(b"cookie", b"xsump_session=s%3Aabc; sump_sessions=1")], False),
        ([(b"cookie", b"sump_session=")], False),
        ([], False),
    ],
    ids=["cookie", "second-cookie-header", "basic-auth", "empty-bearer", "bearer", "look-alike", "empty", "none"],
)
async def test_the_guard_reads_the_cookie_as_the_application_does(
    headers: list[tuple[bytes, bytes]], refused: bool
) -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    guard = OriginGuardMiddleware(app, cookie_name="sump_session", trusted=frozenset({PUBLIC}))
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/anything",
        "headers": [(b"host", b"sump.test"), (b"origin", EVIL.encode()), *headers],
    }
    await guard(scope, None, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == (403 if refused else 204)
