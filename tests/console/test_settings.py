"""Console settings in a real browser: the original dashboard's `settings` scenarios (logout from settings
included, which it had to skip), custom properties, deleting the tenant, the signed-in account's sessions and
its password, and what a `user` may not change."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, screenshot, sign_in, signed_in
from tests.console.test_accounts import add_member, api_login, forge, session_alive, sign_in_as
from tests.support import PASSWORD

NEW_PASSWORD = "a fresh and long passphrase"


def browser_session(page: Page, api: httpx.Client, owner: Owner) -> dict[str, str]:
    cookie = next(c for c in page.context.cookies() if c["name"] == "sump_session")
    found = api.get(f"/auth/tenants/{owner.tenant_id}/session", headers={"Cookie": f"sump_session={cookie['value']}"})
    assert found.status_code == 200, found.text
    session: dict[str, str] = found.json()
    return session


# ------------------------------------------------------------------------------------------------- tabs


def test_settings_has_tenant_and_account_tabs_with_tenant_as_default(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(r"/console/settings$"))
    expect(page.get_by_role("tab", name="Tenant")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Account")).to_have_attribute("aria-selected", "false")
    expect(page.get_by_label("Tenant name")).to_have_value(owner.tenant_name)
    sidebar_item = page.get_by_role("navigation", name="Console").get_by_role("link", name="Settings")
    expect(sidebar_item).to_have_attribute("aria-current", "page")
    screenshot(page, "settings")


def test_tenant_tab_shows_the_tenant_id_and_information(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    expect(page.get_by_test_id("tenant-id")).to_have_text(owner.tenant_id)
    info = page.locator("section", has=page.get_by_role("heading", name="Tenant information"))
    expect(info).to_contain_text("Created")
    expect(info).to_contain_text("Last updated")
    expect(page.get_by_test_id("count-environments")).to_have_text("1")


def test_switching_tabs(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    page.get_by_role("tab", name="Account").click()
    expect(page).to_have_url(re.compile(r"/console/settings\?tab=account$"))
    expect(page.get_by_role("tab", name="Account")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", name="Session information")).to_be_visible()
    expect(page.get_by_label("Tenant name")).to_have_count(0)
    page.get_by_role("tab", name="Tenant").click()
    expect(page.get_by_role("tab", name="Tenant")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Tenant name")).to_be_visible()


def test_settings_at_phone_width(phone: Page, owner: Owner) -> None:
    signed_in(phone, owner)
    phone.goto("/console/settings")
    expect(phone.get_by_label("Tenant name")).to_be_visible()
    screenshot(phone, "settings")
    phone.goto("/console/settings?tab=account")
    expect(phone.get_by_role("heading", name="Your sessions")).to_be_visible()
    screenshot(phone, "settings-account")


# ------------------------------------------------------------------------------------------------ tenant


def test_update_the_tenant_name(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    page.get_by_label("Tenant name").fill("Renamed Org")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text("Tenant name updated")
    expect(page.get_by_label("Tenant name")).to_have_value("Renamed Org")
    assert api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).json()["name"] == "Renamed Org"


def test_tenant_name_minimum_length(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    page.get_by_label("Tenant name").fill("A")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#e-name")).to_have_text("Must be at least 2 characters.")
    expect(page.get_by_label("Tenant name")).to_have_attribute("aria-invalid", "true")
    assert api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).json()["name"] == owner.tenant_name


def test_save_is_disabled_until_the_name_changes(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    save = page.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_disabled()
    page.get_by_label("Tenant name").fill(owner.tenant_name + " 2")
    expect(save).to_be_enabled()
    page.get_by_label("Tenant name").fill(owner.tenant_name)
    expect(save).to_be_disabled()


def test_copy_the_tenant_id(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    page.locator(".copy-id", has_text="Tenant ID").get_by_role("button", name="Copy").click()
    expect(page.locator("#toast")).to_have_text("Tenant ID copied to clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == owner.tenant_id


def test_custom_properties_are_added_changed_and_removed(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    page.get_by_label("New key").fill("plan")
    page.get_by_label("New value").fill("gold")
    page.get_by_role("button", name="Save properties").click()
    expect(page.get_by_role("status").first).to_have_text("Custom properties saved")
    page.get_by_label("New key").fill("seats")
    page.get_by_label("New value").fill("12")
    page.get_by_role("button", name="Save properties").click()
    properties = api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).json()["customProperties"]
    assert properties == {"plan": "gold", "seats": 12}
    page.get_by_label("Value of plan").fill("platinum")
    page.locator("tr", has=page.get_by_label("Value of seats")).get_by_label("Remove").check()
    page.get_by_role("button", name="Save properties").click()
    expect(page.get_by_role("status").first).to_have_text("Custom properties saved")
    expect(page.get_by_label("Value of seats")).to_have_count(0)
    properties = api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).json()["customProperties"]
    assert properties == {"plan": "platinum"}


def test_user_sees_the_tenant_read_only(page: Page, owner: Owner, api: httpx.Client) -> None:
    user = add_member(api, owner, "user")
    api.patch(f"/tenants/{owner.tenant_id}/custom-property", json={"plan": "gold"}, headers=owner.auth)
    sign_in_as(page, owner, user)
    page.goto("/console/settings")
    expect(page.get_by_test_id("tenant-name")).to_have_text(owner.tenant_name)
    expect(page.get_by_label("Tenant name")).to_have_count(0)
    expect(page.get_by_role("button", name="Save properties")).to_have_count(0)
    expect(page.locator(".badges")).to_contain_text("plan")
    expect(page.get_by_text("Danger zone")).to_have_count(0)
    for path, fields in (
        ("/console/settings/tenant", {"name": "Taken Over"}),
        ("/console/settings/properties", {"key": "plan", "value": "free"}),
        ("/console/settings/delete-tenant", {"confirm": owner.tenant_name}),
    ):
        status, _ = forge(page, path, fields)
        assert status == 403, path
    tenant = api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).json()
    assert (tenant["name"], tenant["customProperties"]) == (owner.tenant_name, {"plan": "gold"})


def test_an_admin_renames_the_tenant_but_reads_its_sign_in_policy(page: Page, owner: Owner, api: httpx.Client) -> None:
    """The second-factor policy says how the owners sign in too: only owners change it, so an admin sees it as
    text, and a forged post changes nothing."""
    admin = add_member(api, owner, "admin")
    sign_in_as(page, owner, admin)
    page.goto("/console/settings")
    expect(page.get_by_label("Tenant name")).to_have_count(1)
    expect(page.get_by_label("Second factors of tenant accounts")).to_have_count(0)
    expect(page.get_by_test_id("factor-policy-value")).to_have_text("optional")
    status, _ = forge(page, "/console/settings/factor-policy", {"factorPolicy": "off"})
    assert status == 403
    assert api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).json()["settings"]["factorPolicy"] == "optional"


def test_owner_deletes_the_tenant_after_typing_its_name(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/settings")
    page.get_by_role("link", name="Delete tenant").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Delete {owner.tenant_name}?")
    page.get_by_label("Tenant name").fill("not the name")
    page.get_by_role("button", name="Delete tenant").click()
    expect(page.locator("#e-confirm")).to_have_text("Type the tenant name exactly as shown to confirm.")
    assert api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).status_code == 200
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/console/settings\?tab=tenant$"))
    page.get_by_role("link", name="Delete tenant").click()
    page.get_by_label("Tenant name").fill(owner.tenant_name)
    page.get_by_role("button", name="Delete tenant").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.get_by_role("status").first).to_contain_text("was deleted")
    gone = api.post(f"/auth/tenants/{owner.tenant_id}/login", json={"email": owner.email, "password": PASSWORD})
    assert gone.status_code == 404


# ----------------------------------------------------------------------------------------------- account


def test_account_tab_shows_the_session(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/settings?tab=account")
    session = browser_session(page, api, owner)
    expect(page.get_by_test_id("session-id")).to_have_text(session["id"])
    expect(page.get_by_test_id("account-id")).to_have_text(session["accountId"])
    expect(page.get_by_test_id("account-type")).to_have_text("tenant_account")
    expect(page.get_by_test_id("expires")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    expect(page.get_by_test_id("last-active")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    mine = page.locator(f"tr[data-session='{session['id']}']")
    expect(mine).to_contain_text("This session")
    expect(mine).to_contain_text("HeadlessChrome")
    screenshot(page, "settings-account")


def test_logout_from_settings(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    page.goto("/console/settings?tab=account")
    session = browser_session(page, api, owner)
    page.locator("main").get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.get_by_role("status").first).to_have_text("You have been signed out.")
    page.goto("/console/settings")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    live = api.get(f"/auth/tenants/{owner.tenant_id}/sessions", headers=owner.auth).json()
    assert session["id"] not in {item["id"] for item in live}


def test_revoking_another_session_ends_it(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    other = api_login(api, owner.tenant_id, owner.email)
    other_id = api.get(f"/auth/tenants/{owner.tenant_id}/session", headers={"Authorization": f"Bearer {other}"}).json()[
        "id"
    ]
    page.goto("/console/settings?tab=account")
    row = page.locator(f"tr[data-session='{other_id}']")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").first).to_have_text("Session revoked")
    expect(row).to_have_count(0)
    assert not session_alive(api, owner.tenant_id, other)
    assert session_alive(api, owner.tenant_id, owner.token)
    expect(page.get_by_test_id("session-id")).to_be_visible()  # this browser is still signed in


def test_sign_out_other_sessions_keeps_this_one(page: Page, owner: Owner, api: httpx.Client) -> None:
    signed_in(page, owner)
    other = api_login(api, owner.tenant_id, owner.email)
    page.goto("/console/settings?tab=account")
    page.get_by_role("button", name="Sign out other sessions").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Signed out of your other sessions (2 sessions were ended)"
    )
    assert not session_alive(api, owner.tenant_id, other)
    assert not session_alive(api, owner.tenant_id, owner.token)
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Sign out other sessions")).to_have_count(0)


def test_change_password_keeps_this_browser_and_ends_other_sessions(
    page: Page, owner: Owner, api: httpx.Client
) -> None:
    signed_in(page, owner)
    page.goto("/console/settings?tab=account")
    password = page.get_by_label("Current password")

    password.fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#e-currentPassword")).to_have_text("The current password is not correct.")
    expect(password).to_have_value("")

    password.fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm the new password").fill("something else entirely")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#e-passwordConfirm")).to_have_text("Passwords do not match.")

    password.fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("password")
    page.get_by_label("Confirm the new password").fill("password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#e-newPassword")).to_be_visible()
    assert session_alive(api, owner.tenant_id, owner.token)

    password.fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").first).to_have_text("Password changed. Your other sessions have been signed out.")
    page.reload()
    expect(page.get_by_test_id("session-id")).to_be_visible()
    assert not session_alive(api, owner.tenant_id, owner.token)
    api_login(api, owner.tenant_id, owner.email, NEW_PASSWORD)

    page.context.clear_cookies()
    sign_in(page, owner.tenant_id, owner.email, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Wrong identifier or password.")
