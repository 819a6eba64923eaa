"""Console end users in a real browser: the original dashboard's `users` scenarios for the creation form, including
the creation it had to skip (with a password, or by a reset email), and passwords never sent back."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner
from tests.console.end_user_pages import END_USER_PASSWORD, end_user_login, fill_user, open_new_user_form, users_path
from tests.console.test_environments import create_end_user
from tests.mail import SmtpServer
from tests.support import PASSWORD


def test_form_display(page: Page, owner: Owner) -> None:
    open_new_user_form(page, owner)
    expect(page.get_by_role("heading", name="Create end user")).to_be_visible()
    for label in ("Full name", "Username", "Email", "Phone (optional)", "Avatar URL (optional)", "Confirm password"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_label("Set a password now")).to_be_checked()
    page.get_by_label("Send an invitation email instead").check()
    expect(page.get_by_label("Password", exact=True)).to_be_hidden()
    expect(page.get_by_text("The account is created without a password")).to_be_visible()


def test_required_fields(page: Page, owner: Owner) -> None:
    open_new_user_form(page, owner)
    page.get_by_role("button", name="Create user").click()
    for field in ("name", "username", "email"):
        expect(page.locator(f"#e-{field}")).to_have_text("This field is required.")
    expect(page.locator("#e-password")).to_contain_text("Enter a password")
    expect(page.locator("#e-phone")).to_have_count(0)
    expect(page.locator("#e-avatarUrl")).to_have_count(0)


def test_name_required(page: Page, owner: Owner) -> None:
    open_new_user_form(page, owner)
    fill_user(page, "n1", **{"Full name": ""})
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-name")).to_have_text("This field is required.")
    expect(page.locator(".error")).to_have_count(1)
    expect(page.get_by_label("Email", exact=True)).to_have_value("jane-n1@example.com")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")  # never sent back
    page.get_by_label("Full name").fill("Jo")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-name")).to_contain_text("at least 3 characters")


def test_email_required_and_valid(page: Page, owner: Owner) -> None:
    open_new_user_form(page, owner)
    fill_user(page, "e1", Email="")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-email")).to_have_text("This field is required.")
    page.get_by_label("Email", exact=True).fill("not an email")
    page.get_by_label("Password", exact=True).fill(END_USER_PASSWORD)
    page.get_by_label("Confirm password").fill(END_USER_PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-email")).to_have_text("Must be a valid email address.")


def test_password_minimum_length_and_confirmation(page: Page, api: httpx.Client, owner: Owner) -> None:
    open_new_user_form(page, owner)
    fill_user(page, "p1", password="short")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-password")).to_have_text("Password must be at least 8 characters.")
    fill_user(page, "p1", password=None)
    page.get_by_label("Password", exact=True).fill(END_USER_PASSWORD)
    page.get_by_label("Confirm password").fill(END_USER_PASSWORD + "!")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-passwordConfirm")).to_have_text("Passwords do not match.")
    # The environment's own policy applies.
    api.patch(
        f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}",
        json={"settings": {"passwordMinLength": 30}},
        headers=owner.auth,
    ).raise_for_status()
    page.reload()
    fill_user(page, "p1")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-password")).to_have_text("Password must be at least 30 characters.")


def test_cancel(page: Page, owner: Owner) -> None:
    open_new_user_form(page, owner)
    fill_user(page, "c1")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"{users_path(owner)}$"))
    expect(page.get_by_text("No end users yet.")).to_be_visible()


def test_phone_is_optional(page: Page, api: httpx.Client, owner: Owner) -> None:
    open_new_user_form(page, owner)
    values = fill_user(page, "ph1")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status").first).to_have_text(f"End user {values['Full name']} created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(values["Full name"])
    expect(page.locator("dt:has-text('Phone') + dd")).to_have_text("—")
    page.goto(users_path(owner) + "/new")
    fill_user(page, "ph2", **{"Phone (optional)": "12"})
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-phone")).to_contain_text("E.164")
    page.get_by_label("Phone (optional)").fill("+49 151 1234 5678")
    page.get_by_label("Password", exact=True).fill(END_USER_PASSWORD)
    page.get_by_label("Confirm password").fill(END_USER_PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("dt:has-text('Phone') + dd")).to_contain_text("+4915112345678")


def test_avatar_is_optional(page: Page, api: httpx.Client, owner: Owner) -> None:
    open_new_user_form(page, owner)
    fill_user(page, "av1", **{"Avatar URL (optional)": "ftp://example.com/a.png"})
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-avatarUrl")).to_contain_text("http:// or https://")
    page.get_by_label("Avatar URL (optional)").fill("")
    page.get_by_label("Password", exact=True).fill(END_USER_PASSWORD)
    page.get_by_label("Confirm password").fill(END_USER_PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status").first).to_contain_text("created")
    expect(page.get_by_label("Avatar URL (optional)")).to_have_value("")


def test_create_with_a_password_then_the_end_user_signs_in(page: Page, api: httpx.Client, owner: Owner) -> None:
    open_new_user_form(page, owner)
    values = fill_user(page, uuid.uuid4().hex[:6], **{"Avatar URL (optional)": "https://example.com/jane.png"})
    page.get_by_role("button", name="Create user").click()
    expect(page).to_have_url(re.compile(rf"{users_path(owner)}/[0-9a-f-]{{36}}$"))
    expect(page.get_by_test_id("has-password")).to_have_text("Set")
    signed = end_user_login(api, owner.environment_id, values["Email"], END_USER_PASSWORD)
    assert signed.status_code == 200, signed.text
    assert signed.json()["accountId"] == page.get_by_test_id("end-user-id").inner_text()


def test_create_with_an_invitation(page: Page, api: httpx.Client, owner: Owner, mailbox: SmtpServer) -> None:
    open_new_user_form(page, owner)
    values = fill_user(page, uuid.uuid4().hex[:6], password=None)
    page.get_by_label("Send an invitation email instead").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status").first).to_contain_text(
        f"an invitation to choose a password is on its way to {values['Email']}"
    )
    expect(page.get_by_test_id("has-password")).to_have_text("Not set yet")
    message = mailbox.inbox.wait_for(values["Email"])
    assert message["Subject"] == "Your account is ready: choose a password"
    body = message.get_body(("plain",))
    assert body is not None
    link = re.search(r"/set-password\?environment=([\w-]+)&token=([\w-]+)", body.get_content())
    assert link is not None, body.get_content()
    assert link.group(1) == owner.environment_id
    chosen = api.post(
        f"/auth/environments/{owner.environment_id}/invitations/set-password",
        json={"token": link.group(2), "password": END_USER_PASSWORD},
    )
    assert chosen.status_code == 200, chosen.text
    assert end_user_login(api, owner.environment_id, values["Email"], END_USER_PASSWORD).status_code == 200


def test_identifiers_already_in_use_are_named_per_field(page: Page, api: httpx.Client, owner: Owner) -> None:
    existing = create_end_user(api, owner, owner.environment_id)
    open_new_user_form(page, owner)
    fill_user(page, "dup", Email=existing["email"], Username=existing["username"])
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-email")).to_have_text("This email is already in use in this environment.")
    expect(page.locator("#e-username")).to_have_text("This username is already in use in this environment.")
    expect(page.locator("#e-name")).to_have_count(0)


def test_passwords_are_never_sent_back(page: Page, owner: Owner) -> None:
    open_new_user_form(page, owner)
    fill_user(page, "pw", password=None, Email="")
    page.get_by_label("Password", exact=True).fill(END_USER_PASSWORD)
    page.get_by_label("Confirm password").fill(END_USER_PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#e-email")).to_be_visible()
    assert END_USER_PASSWORD not in page.content()
    assert PASSWORD not in page.content()
