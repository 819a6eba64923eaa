"""Console end users in a real browser, past creation: search and pagination, every action of the detail page, the
read-only `user` role and forged forms, another environment's end user, and the phone width."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, screenshot, sign_in, signed_in
from tests.console.end_user_pages import END_USER_PASSWORD, end_user_login, users_path
from tests.console.test_environments import add_member, create_end_user, csrf_of
from tests.mail import SmtpServer


def test_search_by_prefix_and_pages(page: Page, api: httpx.Client, owner: Owner) -> None:
    tag = uuid.uuid4().hex[:4]
    for number in range(53):
        create_end_user(api, owner, owner.environment_id, email=f"bulk{number:02d}-{tag}@example.com")
    needle = create_end_user(api, owner, owner.environment_id, name="Zelda Quartz", username=f"zq_{tag}")
    signed_in(page, owner)
    page.goto(users_path(owner))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text(f"bulk00-{tag}@example.com")
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"\?after=[0-9a-f-]{36}$"))
    expect(rows).to_have_count(4)
    expect(rows.last).to_contain_text("Zelda Quartz")
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="First page").click()
    expect(rows).to_have_count(50)
    screenshot(page, "end-users")

    # htmx: the results follow the typing, and the address follows the results.
    page.get_by_label("Search end users").fill("zel")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Zelda Quartz")
    expect(page).to_have_url(re.compile(r"\?q=zel$"))
    expect(page.get_by_role("heading", level=1)).to_have_count(1)  # a fragment, not a page in a page
    page.get_by_label("Search end users").fill(f"ZQ_{tag}")
    expect(rows).to_have_count(1)
    page.get_by_label("Search end users").fill("bulk0")
    expect(rows).to_have_count(10)
    page.get_by_label("Search end users").fill("nobody-here")
    expect(page.get_by_text("No end user's email, username or name starts with")).to_be_visible()

    # Without JavaScript the same search is a plain GET, and the pages keep the query.
    page.goto(users_path(owner) + "?q=bulk")
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"after=[0-9a-f-]{36}&q=bulk$"))
    expect(rows).to_have_count(3)
    expect(page.locator("#results")).not_to_contain_text(needle["name"])


def test_disable_stops_sign_in_and_enable_restores_it(page: Page, api: httpx.Client, owner: Owner) -> None:
    user = create_end_user(api, owner, owner.environment_id, password=END_USER_PASSWORD)
    token = end_user_login(api, owner.environment_id, user["email"], END_USER_PASSWORD).json()["token"]
    signed_in(page, owner)
    page.goto(f"{users_path(owner)}/{user['id']}")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status").first).to_have_text("End user disabled; their sessions have ended.")
    expect(page.get_by_test_id("status")).to_have_text("Disabled")
    refused = end_user_login(api, owner.environment_id, user["email"], END_USER_PASSWORD)
    assert refused.status_code in {401, 403}, refused.text
    session = api.get(
        f"/auth/environments/{owner.environment_id}/session", headers={"Authorization": f"Bearer {token}"}
    )
    assert session.status_code == 401
    page.goto(users_path(owner))
    expect(page.locator("#results tbody tr").first.locator(".badge")).to_have_text("Disabled")
    page.get_by_role("link", name=user["name"]).click()
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status").first).to_have_text("End user enabled.")
    expect(page.get_by_test_id("status")).to_have_text("Active")
    assert end_user_login(api, owner.environment_id, user["email"], END_USER_PASSWORD).status_code == 200


def test_revoke_sessions_signs_the_end_user_out(page: Page, api: httpx.Client, owner: Owner) -> None:
    user = create_end_user(api, owner, owner.environment_id, password=END_USER_PASSWORD)
    tokens = [
        end_user_login(api, owner.environment_id, user["email"], END_USER_PASSWORD).json()["token"] for _ in range(2)
    ]
    session_url = f"/auth/environments/{owner.environment_id}/session"
    assert api.get(session_url, headers={"Authorization": f"Bearer {tokens[0]}"}).status_code == 200
    signed_in(page, owner)
    page.goto(f"{users_path(owner)}/{user['id']}")
    page.get_by_role("button", name="Revoke all sessions").click()
    expect(page.get_by_role("status").first).to_have_text("2 sessions revoked.")
    for token in tokens:
        assert api.get(session_url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    expect(page.get_by_test_id("status")).to_have_text("Active")


def test_send_password_reset(page: Page, api: httpx.Client, owner: Owner, mailbox: SmtpServer) -> None:
    user = create_end_user(api, owner, owner.environment_id)
    signed_in(page, owner)
    page.goto(f"{users_path(owner)}/{user['id']}")
    page.get_by_role("button", name="Send password reset").click()
    expect(page.get_by_role("status").first).to_have_text("Password reset email sent.")
    assert mailbox.inbox.wait_for(user["email"]) is not None


def test_edit_profile_identifiers_and_properties(page: Page, api: httpx.Client, owner: Owner) -> None:
    user = create_end_user(api, owner, owner.environment_id)
    other = create_end_user(api, owner, owner.environment_id)
    signed_in(page, owner)
    page.goto(f"{users_path(owner)}/{user['id']}")
    save_profile = page.get_by_role("button", name="Save profile")
    expect(save_profile).to_be_disabled()
    page.get_by_label("Full name").fill("Renamed Person")
    page.get_by_label("Avatar URL (optional)").fill("https://example.com/me.png")
    save_profile.click()
    expect(page.get_by_role("status").first).to_have_text("Profile saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Renamed Person")

    page.get_by_label("Email", exact=True).fill(other["email"])
    page.get_by_role("button", name="Save identifiers").click()
    expect(page.locator("#e-email")).to_have_text("This email is already in use in this environment.")
    new_email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    page.get_by_label("Email", exact=True).fill(new_email.upper())
    page.get_by_label("Phone (optional)").fill("+14155550123")
    page.get_by_role("button", name="Save identifiers").click()
    expect(page.get_by_role("status").first).to_have_text("Identifiers saved.")
    expect(page.get_by_label("Email", exact=True)).to_have_value(new_email)

    page.get_by_label("New key").fill("plan")
    page.get_by_label("New value").fill('{"seats": 3}')
    page.get_by_role("button", name="Save properties").click()
    expect(page.get_by_role("status").first).to_have_text("Custom properties saved.")
    read = api.get(f"/environments/{owner.environment_id}/accounts/{user['id']}", headers=owner.auth).json()
    assert read["name"] == "Renamed Person"
    assert read["avatarUrl"] == "https://example.com/me.png"
    assert read["email"] == new_email
    assert read["phone"] == "+14155550123"
    assert read["customProperties"] == {"plan": {"seats": 3}}
    page.locator("input[name=remove][value=plan]").check()
    page.get_by_role("button", name="Save properties").click()
    expect(page.get_by_label("Value of plan")).to_have_count(0)
    screenshot(page, "end-user-detail")


def test_delete_with_confirmation(page: Page, api: httpx.Client, owner: Owner) -> None:
    user = create_end_user(api, owner, owner.environment_id)
    signed_in(page, owner)
    page.goto(f"{users_path(owner)}/{user['id']}")
    page.get_by_role("link", name="Delete end user").click()
    expect(page.get_by_test_id("delete-consequences")).to_contain_text(f"permanently delete {user['name']}")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"{user['id']}$"))
    page.get_by_role("link", name="Delete end user").click()
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(rf"{users_path(owner)}$"))
    expect(page.get_by_role("status").first).to_have_text("End user deleted")
    expect(page.get_by_text("No end users yet.")).to_be_visible()
    gone = api.get(f"/environments/{owner.environment_id}/accounts/{user['id']}", headers=owner.auth)
    assert gone.status_code == 404


def test_user_role_reads_but_cannot_change_and_forged_forms_are_refused(
    page: Page, api: httpx.Client, owner: Owner
) -> None:
    user = create_end_user(api, owner, owner.environment_id)
    reader = add_member(api, owner, "user")
    sign_in(page, owner.tenant_id, reader)
    page.goto(users_path(owner))
    expect(page.get_by_role("link", name=user["name"])).to_be_visible()
    expect(page.get_by_role("link", name="Create user")).to_have_count(0)
    expect(page.get_by_text("Only owners and admins can create end users.")).to_be_visible()
    page.get_by_role("link", name=user["name"]).click()
    expect(page.get_by_test_id("read-only")).to_contain_text("Your role (user) can view end users")
    for name in ("Disable", "Revoke all sessions", "Send password reset"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_role("link", name="Delete end user")).to_have_count(0)
    expect(page.get_by_label("Full name")).to_be_disabled()

    csrf = csrf_of(page)
    base = f"{users_path(owner)}/{user['id']}"
    forged = {
        f"{users_path(owner)}/new": {"name": "Sneaky One", "username": "sneaky", "email": "sneaky@example.com"},
        f"{base}/profile": {"name": "Sneaky One"},
        f"{base}/identifiers": {"email": "sneaky@example.com", "username": user["username"]},
        f"{base}/properties": {"key": "x", "value": "1"},
        f"{base}/disable": {},
        f"{base}/revoke-sessions": {},
        f"{base}/password-reset": {},
        f"{base}/delete": {},
    }
    for path, fields in forged.items():
        response = page.request.post(path, form={"csrf": csrf, "passwordChoice": "email", **fields}, max_redirects=0)
        assert response.status == 403, (path, response.status)
    assert page.request.get(f"{base}/delete").status == 403
    read = api.get(f"/environments/{owner.environment_id}/accounts/{user['id']}", headers=owner.auth).json()
    assert (read["name"], read["email"], read["disabled"]) == (user["name"], user["email"], False)
    listed = api.get(f"/environments/{owner.environment_id}/accounts", headers=owner.auth).json()
    assert len(listed) == 1


def test_another_environments_end_user_is_not_found(page: Page, api: httpx.Client, owner: Owner) -> None:
    staging = api.post(f"/tenants/{owner.tenant_id}/environments", json={"name": "staging"}, headers=owner.auth).json()[
        "id"
    ]
    elsewhere = create_end_user(api, owner, staging)
    signed_in(page, owner)
    response = page.goto(f"{users_path(owner)}/{elsewhere['id']}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_phone_width(phone: Page, api: httpx.Client, owner: Owner) -> None:
    user = create_end_user(api, owner, owner.environment_id, phone="+14155550123")
    for _ in range(3):
        create_end_user(api, owner, owner.environment_id)
    signed_in(phone, owner)
    phone.goto(users_path(owner))
    expect(phone.locator("#results tbody tr")).to_have_count(4)
    screenshot(phone, "end-users")
    phone.get_by_role("link", name=user["name"]).click()
    expect(phone.get_by_role("button", name="Revoke all sessions")).to_be_visible()
    screenshot(phone, "end-user-detail")
