"""Console sign-in, sign-out and passwords in a real browser: the original dashboard's `auth` scenarios and
the ones it could not run (forgotten password by email)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, new_password_by_link, screenshot, sign_in, signed_in
from tests.mail import SmtpServer
from tests.support import PASSWORD


def test_login_page_shows_the_form(page: Page) -> None:
    page.goto("/console/login")
    expect(page.get_by_role("heading", name="Sign in to Sump")).to_be_visible()
    for label in ("Tenant ID", "Email, username or phone", "Password"):
        expect(page.get_by_label(label)).to_be_visible()
    screenshot(page, "login")


def test_login_with_email_lands_on_the_dashboard(page: Page, owner: Owner) -> None:
    sign_in(page, owner.tenant_id, owner.email)
    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)


def test_login_with_username(page: Page, owner: Owner) -> None:
    sign_in(page, owner.tenant_id, owner.username)
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)


def test_wrong_password_is_said_in_words_and_keeps_the_identifier(page: Page, owner: Owner) -> None:
    sign_in(page, owner.tenant_id, owner.email, "not the password at all")
    expect(page.get_by_role("alert")).to_have_text("Wrong identifier or password.")
    expect(page.get_by_label("Email, username or phone")).to_have_value(owner.email)
    expect(page.get_by_label("Password")).to_have_value("")


def test_unknown_account_answers_like_a_wrong_password(page: Page, owner: Owner) -> None:
    sign_in(page, owner.tenant_id, f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    expect(page.get_by_role("alert")).to_have_text("Wrong identifier or password.")


def test_invalid_tenant_id_is_explained(page: Page) -> None:
    sign_in(page, "not-a-tenant", "someone@example.com")
    expect(page.locator("#e-tenantId")).to_contain_text("Enter the tenant ID")
    sign_in(page, str(uuid.uuid4()), "someone@example.com")
    expect(page.locator("#e-tenantId")).to_contain_text("No tenant has this ID")


def test_protected_page_redirects_to_login_and_back(page: Page, owner: Owner) -> None:
    page.goto("/console/settings")
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Fsettings$"))
    page.get_by_label("Tenant ID").fill(owner.tenant_id)
    page.get_by_label("Email, username or phone").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console/settings$"))


def test_login_never_redirects_to_another_site(page: Page, owner: Owner) -> None:
    page.goto("/console/login?next=//evil.example/steal")
    sign_in_form_next = page.locator("input[name=next]")
    expect(sign_in_form_next).to_have_value("/console/")


def test_logout_ends_the_session(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    cookie = next(c for c in page.context.cookies() if c["name"] == "sump_session")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.get_by_role("status").first).to_have_text("You have been signed out.")
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    # The old cookie is dead on the server too, not only forgotten by the browser.
    stale = api.get(f"/auth/tenants/{owner.tenant_id}/session", headers={"Cookie": f"sump_session={cookie['value']}"})
    assert stale.status_code == 401


def test_session_survives_a_reload(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)
    cookie = next(c for c in page.context.cookies() if c["name"] == "sump_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"


def test_login_page_links_to_setup(page: Page) -> None:
    page.goto("/console/login")
    page.get_by_role("link", name="New here? Set up a tenant").click()
    expect(page).to_have_url(re.compile(r"/console/setup$"))
    expect(page.get_by_role("heading", name="Set up your tenant")).to_be_visible()


@pytest.mark.asvs("RST-07")
def test_forgotten_password_by_email_then_sign_in_with_the_new_one(
    page: Page, api: httpx.Client, mailbox: SmtpServer
) -> None:
    owner = make_owner(api)
    page.goto("/console/forgot-password")
    page.get_by_label("Tenant ID").fill(owner.tenant_id)
    page.get_by_label("Email, username or phone").fill(owner.email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account exists")

    message = mailbox.inbox.wait_for(owner.email)
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:\d+/console/reset-password\?tenant=[\w-]+&token=[\w-]+", body.get_content())
    assert link is not None, body.get_content()
    new_password = "a brand new long passphrase"
    new_password_by_link(
        page, link.group(0), new_password, lambda: expect(page).to_have_url(re.compile(r"/console/login$"))
    )
    expect(page.get_by_role("status").first).to_contain_text("Password has been reset")

    sign_in(page, owner.tenant_id, owner.email, new_password)
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)
    signed_in = api.post(
        f"/auth/tenants/{owner.tenant_id}/login", json={"email": owner.email, "password": new_password}
    )
    accounts = api.get(
        f"/tenants/{owner.tenant_id}/accounts", headers={"Authorization": f"Bearer {signed_in.json()['token']}"}
    )
    assert [account["emailVerified"] for account in accounts.json()] == [True], "the link proved the mailbox"
    # The link was for one use only.
    page.goto(link.group(0))
    page.get_by_label("New password", exact=True).fill("yet another long passphrase")
    page.get_by_label("Confirm the new password").fill("yet another long passphrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid or has expired")


def test_forgot_password_answers_the_same_for_an_unknown_account(page: Page, owner: Owner) -> None:
    page.goto("/console/forgot-password")
    page.get_by_label("Tenant ID").fill(owner.tenant_id)
    page.get_by_label("Email, username or phone").fill(f"ghost-{uuid.uuid4().hex[:6]}@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account exists")
