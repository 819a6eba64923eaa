"""A tenant account's page in the console, in a real browser: role changes, disabling, deleting, the last owner, and
the limits of each role: what the page leaves out, and what the server refuses when a form is forged anyway (with
a valid CSRF token); a resent invitation replaces the earlier link."""

from __future__ import annotations

import re
import uuid
from email.message import EmailMessage

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, screenshot, signed_in
from tests.console.test_accounts import (
    LAST_OWNER,
    account_row,
    add_member,
    api_login,
    forge,
    session_alive,
    sign_in_as,
)
from tests.mail import SmtpServer

# -------------------------------------------------------------------------------------------------- detail


def test_owner_changes_role_disables_enables_and_deletes(page: Page, owner: Owner, api: httpx.Client) -> None:
    user = add_member(api, owner, "user")
    signed_in(page, owner)
    page.goto("/console/accounts")
    page.get_by_role("link", name=user.name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(user.name)
    expect(page.get_by_test_id("account-id")).to_have_text(user.id)
    change = page.get_by_role("button", name="Change role")
    expect(change).to_be_disabled()  # until another role is chosen
    page.get_by_label("Role").select_option("admin")
    change.click()
    expect(page.get_by_role("status").first).to_have_text(f"{user.name} is now admin.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("admin")

    page.get_by_role("button", name="Disable account").click()
    expect(page.get_by_role("status").first).to_contain_text("is disabled")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Disabled")
    assert not session_alive(api, owner.tenant_id, user.token)
    page.get_by_role("button", name="Enable account").click()
    expect(page.get_by_role("status").first).to_have_text(f"{user.name} is enabled.")
    api_login(api, owner.tenant_id, user.email)

    page.get_by_role("link", name="Delete account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Delete {user.name}?")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(user.name)
    page.get_by_role("link", name="Delete account").click()
    page.get_by_role("button", name="Delete account").click()
    expect(page).to_have_url(re.compile(r"/console/accounts$"))
    expect(page.get_by_role("status").first).to_have_text(f"{user.name} was deleted.")
    expect(account_row(page, user.name)).to_have_count(0)
    gone = api.get(f"/tenants/{owner.tenant_id}/accounts/{user.id}", headers=owner.auth)
    assert gone.status_code == 404


def test_last_owner_controls_are_disabled_with_the_reason(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/accounts")
    page.get_by_role("link", name=owner.name).click()
    expect(page.locator("#why-not")).to_have_text(LAST_OWNER)
    expect(page.get_by_label("Role")).to_be_disabled()
    expect(page.get_by_role("button", name="Change role")).to_be_disabled()
    expect(page.get_by_role("button", name="Disable account")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete account")).to_be_disabled()
    screenshot(page, "account-detail")
    account_id = page.get_by_test_id("account-id").inner_text()

    # Forced anyway, the server refuses: 409, and nothing changes.
    for action, fields in (("role", {"role": "user"}), ("disable", {}), ("delete", {})):
        status, text = forge(page, f"/console/accounts/{account_id}/{action}", fields)
        assert status == 409, (action, status)
        assert LAST_OWNER in text
    me = api.get(f"/tenants/{owner.tenant_id}/accounts/{account_id}", headers=owner.auth)
    assert me.json()["role"] == "owner"
    assert not me.json().get("disabled", False)

    # With a second owner the controls come alive.
    add_member(api, owner, "owner")
    page.reload()
    expect(page.locator("#why-not")).to_have_count(0)
    expect(page.get_by_role("button", name="Disable account")).to_be_enabled()


def test_account_detail_at_phone_width(phone: Page, owner: Owner, api: httpx.Client) -> None:
    user = add_member(api, owner, "user")
    signed_in(phone, owner)
    phone.goto(f"/console/accounts/{user.id}")
    expect(phone.get_by_role("heading", level=1)).to_contain_text(user.name)
    screenshot(phone, "account-detail")


# ------------------------------------------------------------------------------------------------- roles


def test_admin_sees_no_owner_only_controls(page: Page, owner: Owner, api: httpx.Client) -> None:
    admin = add_member(api, owner, "admin")
    other_admin = add_member(api, owner, "admin")
    user = add_member(api, owner, "user")
    sign_in_as(page, owner, admin)

    page.goto("/console/accounts/new")
    roles = page.get_by_label("Role").locator("option")
    expect(roles).to_have_count(1)
    expect(roles).to_have_text("User")

    page.goto("/console/accounts")
    page.get_by_role("link", name=owner.name).click()
    expect(page.locator("#why-not")).to_have_text("Your role does not allow acting on this account.")
    expect(page.get_by_role("button", name="Disable account")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete account")).to_be_disabled()
    page.goto(f"/console/accounts/{other_admin.id}")
    expect(page.get_by_role("button", name="Disable account")).to_be_disabled()
    page.goto(f"/console/accounts/{user.id}")
    expect(page.locator("#why-not")).to_have_count(0)
    expect(page.get_by_label("Role").locator("option")).to_have_text(["User"])
    expect(page.get_by_role("button", name="Disable account")).to_be_enabled()

    page.goto("/console/settings")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_attached()  # admins edit the tenant…
    expect(page.get_by_text("Danger zone")).to_have_count(0)  # …but cannot delete it
    page.goto("/console/settings/delete-tenant")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()

    # Hand-made requests with a valid CSRF token are refused by the server.
    page.goto("/console/accounts")
    for path, fields in (
        (f"/console/accounts/{owner_id(api, owner)}/disable", {}),
        (f"/console/accounts/{owner_id(api, owner)}/role", {"role": "user"}),
        (f"/console/accounts/{owner_id(api, owner)}/delete", {}),
        (f"/console/accounts/{user.id}/role", {"role": "admin"}),
        (f"/console/accounts/{other_admin.id}/disable", {}),
        ("/console/settings/delete-tenant", {"confirm": owner.tenant_name}),
    ):
        status, text = forge(page, path, fields)
        assert status == 403, (path, status)
        assert "Not allowed" in text
    tag = uuid.uuid4().hex[:6]
    fields = {"name": f"Boss {tag}", "username": f"boss_{tag}", "email": f"boss-{tag}@example.com", "role": "owner"}
    status, text = forge(page, "/console/accounts/new", fields)
    assert status == 403
    assert "cannot grant the owner role" in text
    tenant = api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth)
    assert tenant.status_code == 200
    listed = api.get(f"/tenants/{owner.tenant_id}/accounts", headers=owner.auth).json()
    assert {account["role"] for account in listed if account["id"] == user.id} == {"user"}
    assert all(account["email"] != fields["email"] for account in listed)


def owner_id(api: httpx.Client, owner: Owner) -> str:
    session = api.get(f"/auth/tenants/{owner.tenant_id}/session", headers=owner.auth)
    return str(session.json()["accountId"])


def test_user_reads_but_manages_nothing(page: Page, owner: Owner, api: httpx.Client) -> None:
    user = add_member(api, owner, "user")
    other = add_member(api, owner, "user")
    sign_in_as(page, owner, user)
    page.goto("/console/accounts")
    expect(account_row(page, owner.name)).to_be_visible()
    expect(page.get_by_role("link", name="Invite account")).to_have_count(0)
    page.goto(f"/console/accounts/{other.id}")
    expect(page.locator("#why-not")).to_be_visible()
    expect(page.get_by_role("button", name="Disable account")).to_be_disabled()
    page.goto("/console/accounts/new")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    status, _ = forge(page, f"/console/accounts/{other.id}/disable")
    assert status == 403
    assert session_alive(api, owner.tenant_id, other.token)


def test_a_form_without_the_csrf_token_is_refused(page: Page, owner: Owner, api: httpx.Client) -> None:
    user = add_member(api, owner, "user")
    signed_in(page, owner)
    page.goto(f"/console/accounts/{user.id}")
    status: int = page.evaluate(
        """async (path) => {
            const body = new URLSearchParams({csrf: 'f'.repeat(64)});
            return (await fetch(path, {method: 'POST', body})).status;
        }""",
        f"/console/accounts/{user.id}/disable",
    )
    assert status == 403
    assert session_alive(api, owner.tenant_id, user.token)


def test_resent_invitation_replaces_the_earlier_link(
    page: Page, owner: Owner, api: httpx.Client, mailbox: SmtpServer
) -> None:
    """An account invited the old way (no password yet) gets real invitations; each resend kills the link
    sent before."""
    tag = uuid.uuid4().hex[:8]
    email = f"late-{tag}@example.com"
    created = api.post(
        f"/tenants/{owner.tenant_id}/accounts",
        json={"name": f"Late {tag}", "email": email, "username": f"late_{tag}"},
        headers=owner.auth,
    )
    assert created.status_code == 201, created.text
    signed_in(page, owner)
    page.goto(f"/console/accounts/{created.json()['id']}")
    page.get_by_role("button", name="Resend invitation").click()
    expect(page.get_by_role("status").first).to_contain_text(f"An invitation is on its way to {email}")
    first = invitation_link(mailbox.inbox.wait_for(email))
    page.goto(f"/console/accounts/{created.json()['id']}")
    page.get_by_role("button", name="Resend invitation").click()
    expect(page.get_by_role("status").first).to_contain_text("on its way")
    second = invitation_link(mailbox.inbox.wait_for(email, count=2))
    assert second != first

    page.context.clear_cookies()
    for link, works in ((first, False), (second, True)):
        page.goto(link)
        page.get_by_label("Full name").fill(f"Late {tag}")
        page.get_by_label("Username").fill(f"late_{tag}")
        page.get_by_label("Password", exact=True).fill("late but chosen by me")
        page.get_by_label("Confirm the password").fill("late but chosen by me")
        page.get_by_role("button", name="Create my account").click()
        if works:
            expect(page).to_have_url(re.compile(r"/console/login$"))
        else:
            expect(page.get_by_role("alert")).to_contain_text("invalid, used, revoked or expired")


def invitation_link(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(
        r"http://127\.0\.0\.1:\d+/console/accept-invitation\?tenant=[\w-]+&token=[\w-]+", body.get_content()
    )
    assert found is not None, body.get_content()
    return found.group(0)
