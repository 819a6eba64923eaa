"""Console forms over HTTP, in process, on SQLite and PostgreSQL: CSRF, origin checks, headers, and that a
refused form changes nothing. (The browser tests next to this file drive the same pages in Chromium.)"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from sump.db.base import utcnow
from sump.db.tables.audit import AuditEvent
from sump.db.tables.tenants import Tenant
from sump.kit import forms
from sump.kit.errors import Problem
from sump.sessions import service as sessions
from tests.support import PASSWORD, TenantWorld, new_tenant, set_cookies

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that keeps cookies, as a browser does."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


async def csrf_of(browser: httpx.AsyncClient, path: str = "/console/login") -> str:
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match is not None
    return match.group(1)


async def console_login(
    browser: httpx.AsyncClient, world: TenantWorld, identifier: str | None = None, **headers: str
) -> httpx.Response:
    """The console's sign-in form, by the owner unless another account's identifier is given."""
    form = {
        "csrf": await csrf_of(browser),
        "tenantId": world.tenant_id,
        "identifier": identifier or world.owner.email,
        "password": PASSWORD,
    }
    return await browser.post("/console/login", data=form, headers=headers)


async def test_sign_in_sets_the_session_cookie_and_lands_on_the_dashboard(
    browser: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    response = await console_login(browser, world)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    cookie = set_cookies(response)["sump_session"]
    assert cookie.httponly
    assert cookie.samesite == "lax"
    dashboard = await browser.get("/console/")
    assert dashboard.status_code == 200
    assert world.tenant_id in dashboard.text
    events = await db.scalars(
        select(AuditEvent.action).where(
            AuditEvent.tenant_id == uuid.UUID(world.tenant_id), AuditEvent.action == "login.succeeded"
        )
    )
    assert list(events) == ["login.succeeded"]


@pytest.mark.asvs("SESS-11")
async def test_csrf_cookie_is_httponly_and_strict(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/console/login")
    cookie = set_cookies(response)["sump_csrf"]
    assert cookie.httponly
    assert cookie.samesite == "strict"
    assert cookie.path == "/console"


@pytest.mark.asvs("SESS-11")
async def test_form_without_a_token_is_refused(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    await browser.get("/console/login")
    form = {"tenantId": world.tenant_id, "identifier": world.owner.email, "password": PASSWORD}
    response = await browser.post("/console/login", data=form)
    assert response.status_code == 403
    assert "came from another site" in response.text
    assert "sump_session" not in response.headers.get("set-cookie", "")


@pytest.mark.asvs("SESS-11")
async def test_form_with_a_wrong_token_is_refused(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    await browser.get("/console/login")
    form = {"csrf": "0" * 64, "tenantId": world.tenant_id, "identifier": world.owner.email, "password": PASSWORD}
    assert (await browser.post("/console/login", data=form)).status_code == 403


@pytest.mark.asvs("SESS-11")
@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["other-origin", "null-origin", "cross-site-fetch"],
)
async def test_form_from_another_site_is_refused_even_with_a_valid_token(
    browser: httpx.AsyncClient, world: TenantWorld, headers: dict[str, str]
) -> None:
    response = await console_login(browser, world, **headers)
    assert response.status_code == 403


async def test_same_origin_post_is_accepted(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    response = await console_login(browser, world, Origin="http://sump.test", **{"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303


@pytest.mark.asvs("SESS-11")
async def test_a_token_from_another_session_is_worthless(app: FastAPI, world: TenantWorld, other: TenantWorld) -> None:
    """The token binds the CSRF cookie and the session: tenant B's page token cannot drive A's session."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://sump.test") as alice,
        httpx.AsyncClient(transport=transport, base_url="http://sump.test") as mallory,
    ):
        assert (await console_login(alice, world)).status_code == 303
        assert (await console_login(mallory, other)).status_code == 303
        stolen = await csrf_of(mallory, "/console/")
        # Mallory plants her CSRF cookie in Alice's browser and submits her own token there.
        alice.cookies.set("sump_csrf", mallory.cookies["sump_csrf"], domain="sump.test", path="/console")
        response = await alice.post("/console/logout", data={"csrf": stolen})
        assert response.status_code == 403
        assert (await alice.get("/console/")).status_code == 200  # still signed in


async def test_a_signed_out_forms_token_is_bound_to_its_own_browsers_csrf_cookie(
    app: FastAPI, world: TenantWorld
) -> None:
    """Before any session (the sign-in page), the token's only binding is the browser's CSRF cookie: a token
    another browser was served, posted with this browser's own cookie, is refused (403 `csrf_failed`), so a
    site cannot sign a visitor in to an account of its choosing (login CSRF) with a token it fetched itself."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://sump.test") as alice,
        httpx.AsyncClient(transport=transport, base_url="http://sump.test") as mallory,
    ):
        await csrf_of(alice)
        mallorys = await csrf_of(mallory)
        assert alice.cookies["sump_csrf"] != mallory.cookies["sump_csrf"]
        form = {"csrf": mallorys, "tenantId": world.tenant_id, "identifier": world.owner.email, "password": PASSWORD}
        refused = await alice.post("/console/login", data=form)
        assert refused.status_code == 403, refused.text
        assert "The form has expired or came from another site." in refused.text
        assert "sump_session" not in alice.cookies
        assert (await mallory.post("/console/login", data=form)).status_code == 303, "the token is good in its own"


async def test_a_form_token_is_bound_to_the_pages_that_served_it(app: FastAPI) -> None:
    """With the same CSRF cookie and session, the console's token and each environment's hosted-page token
    differ, and one set of pages refuses another's token (403 csrf_failed)."""
    settings = app.state.settings
    purposes = ["console-csrf", f"hosted-csrf|{uuid.uuid4()}", f"hosted-csrf|{uuid.uuid4()}"]

    def request(body: bytes = b"") -> Request:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(b"cookie", b"the_csrf=the-cookie-value"), (b"content-type", b"application/x-www-form-urlencoded")]
        return Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive)

    tokens = [forms.csrf_token(request(), settings, purpose, "the_csrf", "a-session") for purpose in purposes]
    assert len(set(tokens)) == len(tokens)
    for purpose, token in zip(purposes, tokens, strict=True):
        body = f"csrf={token}".encode()
        form = await forms.read_guarded_form(request(body), settings, purpose, "the_csrf", "a-session")
        assert form["csrf"] == token
        for elsewhere in purposes:
            if elsewhere == purpose:
                continue
            with pytest.raises(Problem) as refused:
                await forms.read_guarded_form(request(body), settings, elsewhere, "the_csrf", "a-session")
            assert (refused.value.status, refused.value.code) == (403, "csrf_failed")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/console/",
        "//evil.example/console/",
        "/console//evil.example",
        "/console/\\evil.example",
        "/api/v1/tenants",
    ],
)
async def test_signing_in_goes_on_to_console_pages_only(
    browser: httpx.AsyncClient, world: TenantWorld, target: str
) -> None:
    """Where a sign-in goes next is a path of the console: another site, a scheme-relative address or a path
    outside the console sends the account to the dashboard instead."""
    form = {
        "csrf": await csrf_of(browser),
        "tenantId": world.tenant_id,
        "identifier": world.owner.email,
        "password": PASSWORD,
        "next": target,
    }
    signed_in = await browser.post("/console/login", data=form)
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/console/"
    again = await browser.get("/console/login", params={"next": target})  # signed in: on at once
    assert again.status_code == 303
    assert again.headers["location"] == "/console/"
    form["next"] = "/console/activity?action=login.failed"
    form["csrf"] = await csrf_of(browser, "/console/")
    kept = await browser.post("/console/login", data=form)
    assert kept.status_code == 303, kept.text
    assert kept.headers["location"] == "/console/activity?action=login.failed"


async def test_the_activity_page_is_for_owners_and_admins_only(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    """A user-role account signed in to the console reads no audit event, on the activity page or the dashboard."""
    user = await world.add_member("user")
    assert (await console_login(browser, world, user.email)).status_code == 303
    refused = await browser.get("/console/activity")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    dashboard = await browser.get("/console/")
    assert dashboard.status_code == 200
    for page in (refused, dashboard):
        assert "tenant.created" not in page.text
        assert "login.succeeded" not in page.text


async def test_a_user_role_account_is_shown_no_form_it_may_not_send(
    browser: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The pages that only hold a form for owners and admins (a new environment, deleting one, rotating its
    keys) answer a user-role account 403, as their forms would; the pages it may read still open."""
    user = await world.add_member("user")
    assert (await console_login(browser, world, user.email)).status_code == 303
    environment = f"/console/environments/{world.environment_id}"
    for path in ("/console/environments/new", f"{environment}/delete", f"{environment}/keys/rotate"):
        refused = await browser.get(path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html")
    assert (await browser.get(f"{environment}/keys")).status_code == 200


async def test_a_user_role_account_cannot_change_the_tenants_factor_policy(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_member("user")
    assert (await console_login(browser, world, user.email)).status_code == 303
    token = await csrf_of(browser, "/console/")
    refused = await browser.post("/console/settings/factor-policy", data={"csrf": token, "factorPolicy": "off"})
    assert refused.status_code == 403, refused.text
    tenant = await client.get(world.base, headers=world.owner.auth)
    assert tenant.json()["settings"]["factorPolicy"] == "optional"


async def test_a_user_role_account_cannot_create_an_environment_from_the_console(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_member("user")
    assert (await console_login(browser, world, user.email)).status_code == 303
    token = await csrf_of(browser, "/console/")
    refused = await browser.post("/console/environments/new", data={"csrf": token, "name": "by-a-user"})
    assert refused.status_code == 403, refused.text
    listed = await client.get(f"{world.base}/environments", headers=world.owner.auth)
    assert listed.status_code == 200, listed.text
    assert "by-a-user" not in {environment["name"] for environment in listed.json()}


async def test_console_pages_send_strict_security_headers(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/console/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.asvs("RST-07")
@pytest.mark.parametrize("path", ["reset-password", "verify-email", "cancel-email-change", "accept-invitation"])
async def test_a_console_page_whose_address_holds_a_links_token_sends_no_referrer(
    browser: httpx.AsyncClient, path: str
) -> None:
    """The pages an email's link opens carry its token in their address: the browser sends that address nowhere,
    not even to the console itself. The same page without a token keeps the console's `same-origin`."""
    linked = await browser.get(f"/console/{path}", params={"tenant": str(uuid.uuid4()), "token": "t" * 43})
    assert linked.status_code == 200, linked.text
    assert linked.headers["referrer-policy"] == "no-referrer"
    assert linked.headers.get_list("referrer-policy") == ["no-referrer"]
    bare = await browser.get(f"/console/{path}")
    assert bare.headers["referrer-policy"] == "same-origin"


async def test_console_root_redirects_to_its_dashboard(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/console")
    assert response.status_code == 308
    assert response.headers["location"] == "/console/"
    protected = await browser.get("/console/")
    assert protected.status_code == 303
    assert protected.headers["location"] == "/console/login?next=%2Fconsole%2F"


async def test_json_posts_are_not_forms(browser: httpx.AsyncClient, world: TenantWorld) -> None:
    await browser.get("/console/login")
    response = await browser.post("/console/login", json={"tenantId": world.tenant_id})
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("text/html")


async def test_malformed_form_bytes_answer_400_not_500(browser: httpx.AsyncClient) -> None:
    await browser.get("/console/login")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (await browser.post("/console/login", content=b"csrf=%ff%fe", headers=headers)).status_code == 400
    assert (await browser.post("/console/login", content=b"tenantId=a%00b", headers=headers)).status_code == 400


async def test_an_end_user_session_does_not_open_the_console(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    signup = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/signup",
        json={"name": "End User", "email": "end@example.com", "username": "end_user", "password": PASSWORD},
    )
    assert signup.status_code == 201, signup.text
    browser.cookies.set("sump_session", signup.cookies["sump_session"], domain="sump.test")
    response = await browser.get("/console/")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")


async def test_a_failed_setup_leaves_no_tenant_behind(browser: httpx.AsyncClient, db: AsyncSession) -> None:
    before = await db.scalar(select(func.count()).select_from(Tenant))
    form = {
        "csrf": await csrf_of(browser, "/console/setup"),
        "step": "3",
        "action": "create",
        "name": "Leftover Inc",
        "ownerName": "Lee Over",
        "username": "lee_over",
        "email": "lee@example.com",
        "password": "password1",  # too common: refused before anything is written
        "passwordConfirm": "password1",
    }
    response = await browser.post("/console/setup", data=form)
    assert response.status_code == 400
    assert "too common" in response.text
    assert await db.scalar(select(func.count()).select_from(Tenant)) == before


async def test_sign_in_failures_are_audited_without_the_password(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await new_tenant(client)
    form = {
        "csrf": await csrf_of(browser),
        "tenantId": world.tenant_id,
        "identifier": world.owner.email,
        "password": "SENTINEL-wrong-password",
    }
    response = await browser.post("/console/login", data=form)
    assert response.status_code == 401
    assert "Wrong identifier or password." in response.text
    assert "SENTINEL" not in response.text
    events = list(
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.tenant_id == uuid.UUID(world.tenant_id), AuditEvent.action == "login.failed"
            )
        )
    )
    assert [(event.outcome, event.details["code"]) for event in events] == [("failure", "invalid_credentials")]
    assert "SENTINEL" not in str(events[0].details)


@pytest.mark.asvs("SESS-12")
async def test_a_first_factor_from_an_old_session_asks_for_the_password_on_the_step_up_page(
    browser: httpx.AsyncClient, world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner has no factor; their console session is six minutes old. Adding an authenticator app leads to
    the step-up page, which asks for the password (a wrong one is said beside the field) and goes back."""
    assert (await console_login(browser, world)).status_code == 303
    base = utcnow()
    monkeypatch.setattr(sessions, "utcnow", lambda: base + timedelta(minutes=6))
    settings = "/console/settings?tab=account"
    add = {"csrf": await csrf_of(browser, settings), "label": "phone"}
    refused = await browser.post(
        "/console/settings/factors/totp", data=add, headers={"Referer": f"http://sump.test{settings}"}
    )
    assert refused.status_code == 303
    step_up = refused.headers["location"]
    assert step_up == "/console/step-up?next=%2Fconsole%2Fsettings%3Ftab%3Daccount"
    page = await browser.get(step_up)
    assert 'data-testid="step-up-password"' in page.text
    assert 'name="code"' not in page.text

    answer = {"csrf": await csrf_of(browser, step_up), "next": settings, "currentPassword": "not the password"}
    wrong = await browser.post("/console/step-up", data=answer)
    assert wrong.status_code == 403
    assert 'id="e-currentPassword">The current password is not correct.' in wrong.text
    right = await browser.post("/console/step-up", data={**answer, "currentPassword": PASSWORD})
    assert (right.status_code, right.headers["location"]) == (303, settings)
    added = await browser.post("/console/settings/factors/totp", data=add)
    assert added.status_code == 200
    assert 'data-testid="totp-qr"' in added.text
