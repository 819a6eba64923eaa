"""The hosted pages in Chromium at laptop (1280 by 800) and phone (390 by 844) widths: a third-party application's
code flow through sign-in and consent, the second factor, branding; nothing wider than the screen."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from playwright.sync_api import Dialog, Page, Route, expect

from tests.console.conftest import Owner, make_owner, new_password_by_link, screenshot
from tests.mail import SmtpServer
from tests.support import PASSWORD

CALLBACK = "https://app.example.com/callback"


def end_user(api: httpx.Client, environment_id: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"Grace {tag}", "email": f"grace-{tag}@example.com", "username": f"grace_{tag}"}
    body["password"] = PASSWORD
    created = api.post(f"/auth/environments/{environment_id}/signup", json=body)
    assert created.status_code == 201, created.text
    return {**body, "token": created.json()["token"]}


def brand(api: httpx.Client, owner: Owner, **settings: str) -> None:
    url = f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}"
    changed = api.patch(url, json={"settings": settings}, headers=owner.auth)
    assert changed.status_code == 204, changed.text


def third_party(api: httpx.Client, owner: Owner) -> str:
    body = {
        "name": "Photo Printer",
        "purpose": "application",
        "firstParty": False,
        "redirectUris": [CALLBACK],
        "scopes": ["openid", "email", "profile"],
    }
    url = f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}/clients"
    created = api.post(url, json=body, headers=owner.auth)
    assert created.status_code == 201, created.text
    client_id: str = created.json()["clientId"]
    return client_id


def authorize_url(owner: Owner, client_id: str, state: str) -> str:
    query = {
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid email profile",
        "state": state,
        "nonce": uuid.uuid4().hex,
        "code_challenge": create_s256_code_challenge("v" * 64),
        "code_challenge_method": "S256",
    }
    return f"/api/v1/environments/{owner.environment_id}/authorize?" + httpx.QueryParams(query).__str__()


def catch_callback(page: Page) -> list[str]:
    """The application's callback, answered in the browser: the URLs it was sent to."""
    reached: list[str] = []

    def answer(route: Route) -> None:
        reached.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="back at the application")

    page.route("https://app.example.com/**", answer)
    return reached


def fits(page: Page, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the screen"
    screenshot(page, f"hosted-{name}")


def sign_in(page: Page, identifier: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email, username or phone").fill(identifier)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("viewport", ["page", "phone"])
def test_a_third_party_code_flow_through_sign_in_and_consent(
    api: httpx.Client, viewport: str, request: pytest.FixtureRequest
) -> None:
    page: Page = request.getfixturevalue(viewport)
    owner = make_owner(api)
    brand(api, owner, displayName="Northwind Photos", primaryColor="#0a7d45")
    user = end_user(api, owner.environment_id)
    client_id = third_party(api, owner)
    reached = catch_callback(page)

    page.goto(authorize_url(owner, client_id, "state-1"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_test_id("client-name")).to_have_text("Photo Printer")
    expect(page.get_by_test_id("brand-name")).to_have_text("Northwind Photos")
    colour = page.get_by_role("button", name="Sign in").evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(10, 125, 69)"
    fits(page, f"sign-in-{viewport}")

    sign_in(page, user["email"], "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong identifier or password.")
    sign_in(page, user["email"])
    expect(page.get_by_test_id("client-name")).to_have_text("Photo Printer")
    expect(page.get_by_test_id("scopes")).to_contain_text("Your email address")
    fits(page, f"consent-{viewport}")

    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(CALLBACK + "?**")
    answer = parse_qs(urlsplit(reached[-1]).query)
    assert answer["state"] == ["state-1"]
    assert answer["code"]


def test_deny_goes_back_to_the_application_with_access_denied(page: Page, api: httpx.Client) -> None:
    owner = make_owner(api)
    user = end_user(api, owner.environment_id)
    reached = catch_callback(page)
    page.goto(authorize_url(owner, third_party(api, owner), "state-2"))
    sign_in(page, user["username"])
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(CALLBACK + "?**")
    answer = parse_qs(urlsplit(reached[-1]).query)
    assert answer["error"] == ["access_denied"]
    assert answer["state"] == ["state-2"]


def code(seed: str, offset: int = 0) -> str:
    """The code of the time step `offset` steps from now (the server accepts ±1 step, each step once)."""
    return pyotp.TOTP(seed).at(time.time() + 30 * offset)


@pytest.mark.parametrize("viewport", ["page", "phone"])
def test_the_second_factor_is_asked_for_then_the_signed_in_page(
    api: httpx.Client, viewport: str, request: pytest.FixtureRequest
) -> None:
    page: Page = request.getfixturevalue(viewport)
    owner = make_owner(api)
    user = end_user(api, owner.environment_id)
    base = f"/auth/environments/{owner.environment_id}"
    bearer = {"Authorization": f"Bearer {user['token']}"}
    started = api.post(f"{base}/me/factors/totp", json={"label": "phone"}, headers=bearer)
    assert started.status_code == 201, started.text
    seed, factor_id = started.json()["secret"], started.json()["factorId"]
    confirmed = api.post(f"{base}/me/factors/{factor_id}/confirm", json={"code": code(seed)}, headers=bearer)
    assert confirmed.status_code == 200, confirmed.text

    page.goto(f"/api/v1/environments/{owner.environment_id}/hosted/sign-in")
    sign_in(page, user["username"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    fits(page, f"factor-{viewport}")
    page.get_by_label("Code").fill("000000" if code(seed, 1) != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("code")
    page.get_by_label("Code").fill(code(seed, 1))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(user["name"])
    fits(page, f"signed-in-{viewport}")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")


def test_a_hostile_logo_url_and_name_stay_inert(page: Page, api: httpx.Client) -> None:
    owner = make_owner(api)
    brand(api, owner, displayName="<img src=x onerror=alert(1)>", logoUrl="https://cdn.example.com/logo.png?a=1&b=2")
    dialogs: list[str] = []

    def dismissed(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismissed)
    page.route("https://cdn.example.com/**", lambda route: route.fulfill(status=404, body=""))
    page.goto(f"/api/v1/environments/{owner.environment_id}/hosted/sign-in")
    expect(page.get_by_test_id("brand-name")).to_have_text("<img src=x onerror=alert(1)>")
    assert page.locator("img.logo").get_attribute("src") == "https://cdn.example.com/logo.png?a=1&b=2"
    assert dialogs == []
    fits(page, "hostile-branding")


@pytest.mark.asvs("RST-07")
def test_an_end_user_sets_a_new_password_on_the_page_the_reset_email_links_to(
    page: Page, api: httpx.Client, mailbox: SmtpServer
) -> None:
    """The hosted page holds the token in its address and sends no referrer: its stylesheets and its form's post
    carry none, and the form still posts (Chromium sends `Origin: null` with `Sec-Fetch-Site: same-origin`)."""
    owner = make_owner(api)
    user = end_user(api, owner.environment_id)
    auth = f"/auth/environments/{owner.environment_id}"
    assert api.post(f"{auth}/forgot-password", json={"email": user["email"]}).status_code == 200
    body = mailbox.inbox.wait_for(user["email"]).get_body(("plain",))
    assert body is not None
    link = re.search(
        r"http://127\.0\.0\.1:\d+/api/v1/environments/[\w-]+/hosted/reset-password\?token=[\w-]+", body.get_content()
    )
    assert link is not None, body.get_content()
    new_password = "a brand new long passphrase"
    changed = page.get_by_role("heading", name="Password changed")
    new_password_by_link(page, link.group(0), new_password, lambda: expect(changed).to_be_visible())
    signed_in = api.post(f"{auth}/login", json={"email": user["email"], "password": new_password})
    assert signed_in.status_code == 200, signed_in.text
