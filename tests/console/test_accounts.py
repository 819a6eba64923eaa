"""Tenant accounts in the console, in a real browser: the list, inviting (with a password or by email), role
changes, disabling, deleting, and the limits of each role: what the page leaves out, and what the server refuses
when a form is forged anyway (with a valid CSRF token)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.console.conftest import Owner, screenshot, sign_in, signed_in
from tests.mail import SmtpServer
from tests.support import PASSWORD

LAST_OWNER = "The tenant must keep at least one enabled owner."


@dataclass
class Member:
    """A tenant account made through the API, with a session token of its own."""

    id: str
    name: str
    email: str
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def add_member(api: httpx.Client, owner: Owner, role: str, password: str = PASSWORD) -> Member:
    tag = uuid.uuid4().hex[:8]
    name, email, username = f"{role.title()} {tag}", f"{role}-{tag}@example.com", f"{role}_{tag}"
    body = {
        "name": name,
        "email": email,
        "username": username,
        "password": password,
        "roles": [{"role": role, "target": "tenant", "targetId": owner.tenant_id}],
    }
    created = api.post(f"/tenants/{owner.tenant_id}/accounts", json=body, headers=owner.auth)
    assert created.status_code == 201, created.text
    token = api_login(api, owner.tenant_id, email, password)
    return Member(created.json()["id"], name, email, username, token)


def api_login(api: httpx.Client, tenant_id: str, email: str, password: str = PASSWORD) -> str:
    response = api.post(f"/auth/tenants/{tenant_id}/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def session_alive(api: httpx.Client, tenant_id: str, token: str) -> bool:
    response = api.get(f"/auth/tenants/{tenant_id}/session", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in {200, 401}, response.text
    return response.status_code == 200


def sign_in_as(page: Page, owner: Owner, member: Member) -> None:
    sign_in(page, owner.tenant_id, member.email)
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)


def forge(page: Page, path: str, fields: dict[str, str] | None = None) -> tuple[int, str]:
    """POSTs a console form from the signed-in page with its valid CSRF token, as a hand-made request would."""
    result: dict[str, Any] = page.evaluate(
        """async ([path, fields]) => {
            const csrf = document.querySelector('input[name=csrf]').value;
            const response = await fetch(path, {method: 'POST', body: new URLSearchParams({csrf, ...fields})});
            return {status: response.status, text: await response.text()};
        }""",
        [path, fields or {}],
    )
    return int(result["status"]), str(result["text"])


def account_row(page: Page, name: str) -> Locator:
    return page.locator("table.accounts tbody tr").filter(has_text=name)


# ---------------------------------------------------------------------------------------------------- list


def test_list_shows_the_accounts_with_role_and_status(page: Page, owner: Owner, api: httpx.Client) -> None:
    admin = add_member(api, owner, "admin")
    signed_in(page, owner)
    page.get_by_role("link", name="Tenant accounts", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/accounts$"))
    expect(page.get_by_role("heading", name="Tenant accounts")).to_be_visible()
    expect(page.get_by_role("link", name="Tenant accounts", exact=True)).to_have_attribute("aria-current", "page")
    mine = account_row(page, owner.name)
    expect(mine).to_contain_text(owner.email)
    expect(mine).to_contain_text(owner.username)
    expect(mine.locator(".badge.role-owner")).to_have_text("owner")
    expect(mine).to_contain_text("Active")
    expect(mine).to_contain_text("(you)")
    expect(account_row(page, admin.name).locator(".badge.role-admin")).to_have_text("admin")
    expect(page.get_by_role("link", name="Invite account")).to_be_visible()
    screenshot(page, "accounts")


def test_accounts_page_at_phone_width(phone: Page, owner: Owner, api: httpx.Client) -> None:
    add_member(api, owner, "user")
    signed_in(phone, owner)
    phone.goto("/console/accounts")
    expect(account_row(phone, owner.name)).to_be_visible()
    screenshot(phone, "accounts")


# ----------------------------------------------------------------------------------------------------- new


def test_owner_creates_an_admin_with_a_password(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/accounts")
    page.get_by_role("link", name="Invite account").click()
    expect(page.get_by_label("Role")).to_have_text(re.compile("Owner.*Admin.*User", re.S))
    tag = uuid.uuid4().hex[:8]
    page.get_by_label("Full name").fill(f"Ada {tag}")
    page.get_by_label("Username").fill(f"ada_{tag}")
    page.get_by_label("Email", exact=True).fill(f"ada-{tag}@example.com")
    page.get_by_label("Role").select_option("admin")
    expect(page.get_by_label("Password", exact=True)).to_be_hidden()  # the invitation is the default
    page.get_by_label("Set a password now").check()
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/console/accounts/[0-9a-f-]{36}$"))
    expect(page.get_by_role("status").first).to_have_text(f"Ada {tag} was added as admin.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("admin")
    token = api_login(api, owner.tenant_id, f"ada-{tag}@example.com", "a long enough passphrase")
    assert session_alive(api, owner.tenant_id, token)


def test_invitation_emails_a_link_to_choose_a_password(
    page: Page, owner: Owner, api: httpx.Client, mailbox: SmtpServer
) -> None:
    signed_in(page, owner)
    page.goto("/console/accounts/new")
    tag = uuid.uuid4().hex[:8]
    email = f"grace-{tag}@example.com"
    page.get_by_label("Full name").fill(f"Grace {tag}")
    page.get_by_label("Username").fill(f"grace_{tag}")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Phone (optional)").fill("+4915112345678")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status").first).to_contain_text("an email invites them to set a password")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invited")
    expect(page.locator("dl")).to_contain_text("+4915112345678")

    message = mailbox.inbox.wait_for(email)
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:\d+/console/reset-password\?tenant=[\w-]+&token=[\w-]+", body.get_content())
    assert link is not None, body.get_content()
    page.context.clear_cookies()
    page.goto(link.group(0))
    page.get_by_label("New password", exact=True).fill("grace chooses her own")
    page.get_by_label("Confirm the new password").fill("grace chooses her own")
    page.get_by_role("button", name="Set password").click()
    sign_in(page, owner.tenant_id, email, "grace chooses her own")
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)


def test_field_errors_are_shown_next_to_the_fields(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/accounts/new")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#e-name")).to_have_text("This field is required.")
    expect(page.locator("#e-username")).to_be_visible()
    expect(page.locator("#e-email")).to_be_visible()

    page.get_by_label("Full name").fill("Someone Else")
    page.get_by_label("Username").fill("someone_else")
    page.get_by_label("Email", exact=True).fill(owner.email)
    page.get_by_label("Set a password now").check()
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("another long passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#e-passwordConfirm")).to_have_text("Passwords do not match.")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")  # never sent back

    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#e-email")).to_have_text("This email is already in use in this tenant.")
    expect(page.get_by_label("Full name")).to_have_value("Someone Else")

    page.get_by_label("Email", exact=True).fill(f"someone-{uuid.uuid4().hex[:6]}@example.com")
    page.get_by_label("Password", exact=True).fill("password")
    page.get_by_label("Confirm password").fill("password")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#e-password")).to_be_visible()


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
    expect(page.get_by_role("status").first).to_contain_text(f"An email to set a password is on its way to {email}")
    first = reset_link(mailbox.inbox.wait_for(email))
    page.get_by_role("button", name="Resend invitation").click()
    expect(page.get_by_role("status").first).to_contain_text("on its way")
    second = reset_link(mailbox.inbox.wait_for(email, count=2))
    assert second != first

    page.context.clear_cookies()
    for link, works in ((first, False), (second, True)):
        page.goto(link)
        page.get_by_label("New password", exact=True).fill("late but chosen by me")
        page.get_by_label("Confirm the new password").fill("late but chosen by me")
        page.get_by_role("button", name="Set password").click()
        if works:
            expect(page).to_have_url(re.compile(r"/console/login$"))
        else:
            expect(page.get_by_role("alert")).to_contain_text("invalid or has expired")


def reset_link(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:\d+/console/reset-password\?tenant=[\w-]+&token=[\w-]+", body.get_content())
    assert link is not None, body.get_content()
    return link.group(0)
