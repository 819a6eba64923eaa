"""Tenant accounts in the console, in a real browser: the list and inviting (with a password or by email), and the
helpers the other console account tests share."""

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
    page.get_by_label("Email", exact=True).fill(f"ada-{tag}@example.com")
    page.get_by_label("Role").select_option("admin")
    expect(page.get_by_label("Password", exact=True)).to_be_hidden()  # the invitation is the default
    expect(page.get_by_label("Full name")).to_be_hidden()  # the invitee chooses it
    page.get_by_label("Set a password now").check()
    page.get_by_label("Full name").fill(f"Ada {tag}")
    page.get_by_label("Username").fill(f"ada_{tag}")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("a long enough passphrase")
    page.get_by_role("button", name="Invite or create").click()
    expect(page).to_have_url(re.compile(r"/console/accounts/[0-9a-f-]{36}$"))
    expect(page.get_by_role("status").first).to_have_text(f"Ada {tag} was added as admin.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("admin")
    token = api_login(api, owner.tenant_id, f"ada-{tag}@example.com", "a long enough passphrase")
    assert session_alive(api, owner.tenant_id, token)


def test_an_invited_account_accepts_through_the_emailed_link_and_signs_in(
    page: Page, owner: Owner, api: httpx.Client, mailbox: SmtpServer
) -> None:
    signed_in(page, owner)
    page.goto("/console/accounts/new")
    tag = uuid.uuid4().hex[:8]
    email = f"grace-{tag}@example.com"
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Role").select_option("admin")
    page.get_by_role("button", name="Invite or create").click()
    expect(page).to_have_url(re.compile(r"/console/accounts$"))
    expect(page.get_by_role("status").first).to_contain_text(f"An invitation is on its way to {email}")
    pending = page.locator("section.invitations tr", has_text=email)
    expect(pending).to_contain_text("admin")
    expect(pending).to_contain_text("Pending")

    message = mailbox.inbox.wait_for(email)
    assert message["Subject"] == "You are invited to the Sump console"
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(
        r"http://127\.0\.0\.1:\d+/console/accept-invitation\?tenant=[\w-]+&token=[\w-]+", body.get_content()
    )
    assert link is not None, body.get_content()
    page.context.clear_cookies()
    page.goto(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Accept your invitation")
    expect(page.get_by_test_id("invited")).to_contain_text(email)
    expect(page.get_by_test_id("invited")).to_contain_text("admin")
    page.get_by_label("Full name").fill(f"Grace {tag}")
    page.get_by_label("Username").fill(f"grace_{tag}")
    page.get_by_label("Password", exact=True).fill("grace chooses her own")
    page.get_by_label("Confirm the password").fill("grace chooses her own")
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.get_by_role("status").first).to_contain_text("Your account is ready")
    sign_in(page, owner.tenant_id, email, "grace chooses her own")
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)

    # The link was used: opening it again says so at once, and posting the form too.
    page.context.clear_cookies()
    page.goto(link.group(0))
    expect(page.get_by_role("alert")).to_contain_text("This invitation is invalid, used, revoked or expired")
    page.get_by_label("Full name").fill("Someone Else")
    page.get_by_label("Username").fill(f"else_{tag}")
    page.get_by_label("Password", exact=True).fill("grace chooses her own")
    page.get_by_label("Confirm the password").fill("grace chooses her own")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_contain_text("This invitation is invalid, used, revoked or expired")


def test_a_pending_invitation_is_resent_and_revoked(
    page: Page, owner: Owner, api: httpx.Client, mailbox: SmtpServer
) -> None:
    signed_in(page, owner)
    email = f"pending-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/console/accounts/new")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Invite or create").click()
    first = mailbox.inbox.wait_for(email)
    row = page.locator("section.invitations tr", has_text=email)
    row.get_by_role("button", name="Resend").click()
    expect(page.get_by_role("status").first).to_contain_text("the link sent before no longer works")
    second = mailbox.inbox.wait_for(email, count=2)
    assert first.get_body(("plain",)).get_content() != second.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page.locator("section.invitations tr", has_text=email).get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").first).to_contain_text("The invitation was revoked")
    expect(page.locator("section.invitations tr", has_text=email)).to_have_count(0)


def test_an_account_invited_the_old_way_gets_a_real_invitation(
    page: Page, owner: Owner, api: httpx.Client, mailbox: SmtpServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"old-{tag}@example.com"
    body = {"name": f"Old {tag}", "email": email, "username": f"old_{tag}"}
    made = api.post(f"/tenants/{owner.tenant_id}/accounts", json=body, headers=owner.auth)
    assert made.status_code == 201, made.text
    signed_in(page, owner)
    page.goto("/console/accounts")
    legacy = page.locator("section.invitations tr", has_text=email)
    expect(legacy).to_contain_text("No password yet")
    legacy.get_by_role("button", name="Resend invitation").click()
    expect(page.get_by_role("status").first).to_contain_text(f"An invitation is on its way to {email}")
    assert mailbox.inbox.wait_for(email)["Subject"] == "You are invited to the Sump console"


def test_field_errors_are_shown_next_to_the_fields(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/accounts/new")
    page.get_by_role("button", name="Invite or create").click()
    expect(page.locator("#e-email")).to_have_text("This field is required.")
    page.get_by_label("Email", exact=True).fill(owner.email)
    page.get_by_role("button", name="Invite or create").click()
    expect(page.locator("#e-email")).to_have_text("This email address already belongs to an account of this tenant.")

    page.get_by_label("Set a password now").check()
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("a long enough passphrase")
    page.get_by_role("button", name="Invite or create").click()
    expect(page.locator("#e-name")).to_have_text("This field is required.")
    expect(page.locator("#e-username")).to_be_visible()

    page.get_by_label("Full name").fill("Someone Else")
    page.get_by_label("Username").fill("someone_else")
    page.get_by_label("Email", exact=True).fill(owner.email)
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("another long passphrase")
    page.get_by_role("button", name="Invite or create").click()
    expect(page.locator("#e-passwordConfirm")).to_have_text("Passwords do not match.")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")  # never sent back

    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Confirm password").fill("a long enough passphrase")
    page.get_by_role("button", name="Invite or create").click()
    expect(page.locator("#e-email")).to_have_text("This email is already in use in this tenant.")
    expect(page.get_by_label("Full name")).to_have_value("Someone Else")

    page.get_by_label("Email", exact=True).fill(f"someone-{uuid.uuid4().hex[:6]}@example.com")
    page.get_by_label("Password", exact=True).fill("password")
    page.get_by_label("Confirm password").fill("password")
    page.get_by_role("button", name="Invite or create").click()
    expect(page.locator("#e-password")).to_be_visible()


def reset_link(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:\d+/console/reset-password\?tenant=[\w-]+&token=[\w-]+", body.get_content())
    assert link is not None, body.get_content()
    return link.group(0)


def test_an_account_verifies_its_own_email_and_an_admin_marks_a_users(
    page: Page, owner: Owner, api: httpx.Client, mailbox: SmtpServer
) -> None:
    user = add_member(api, owner, "user")
    signed_in(page, owner)
    page.goto("/console/accounts")
    page.get_by_role("link", name=owner.name).click()
    page.get_by_role("button", name="Send verification link").click()
    expect(page.get_by_role("status").first).to_contain_text(f"A verification link is on its way to {owner.email}")
    message = _verification_email(mailbox, owner.email, count=2)  # the first came with the tenant, and died
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:\d+/console/verify-email\?tenant=[\w-]+&token=[\w-]+", body.get_content())
    assert link is not None, body.get_content()
    page.goto(link.group(0))
    page.get_by_role("button", name="Verify my email address").click()
    expect(page.get_by_role("status").first).to_contain_text("Your email address is verified.")
    page.goto("/console/accounts")
    page.get_by_role("link", name=owner.name).click()
    expect(page.locator("dl")).to_contain_text("verified")
    expect(page.get_by_role("button", name="Send verification link")).to_have_count(0)

    page.goto("/console/accounts")
    page.get_by_role("link", name=user.name).click()
    expect(page.get_by_role("button", name="Send verification link")).to_have_count(0)  # only one's own
    page.get_by_role("button", name="Mark email verified").click()
    expect(page.get_by_role("status").first).to_have_text("The email address is marked verified.")
    account = api.get(f"/tenants/{owner.tenant_id}/accounts/{user.id}", headers=owner.auth)
    assert account.json()["emailVerified"] is True


def _verification_email(mailbox: SmtpServer, address: str, count: int = 1) -> EmailMessage:
    """The `count`-th email to `address`, a verification link (the inbox leaves those out unless asked)."""
    message = mailbox.inbox.wait_for(address, count, verification=True)
    assert message["Subject"] == "Verify your email address"
    return message
