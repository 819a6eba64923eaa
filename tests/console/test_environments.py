"""Console environments in a real browser: the original dashboard's `environments` scenarios, plus settings,
rename, custom properties, the read-only `user` role, forged forms and another tenant's environment."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, screenshot, sign_in, signed_in
from tests.support import PASSWORD


def create_environment(api: httpx.Client, owner: Owner, name: str | None = None) -> str:
    response = api.post(
        f"/tenants/{owner.tenant_id}/environments",
        json={"name": name or f"env-{uuid.uuid4().hex[:6]}"},
        headers=owner.auth,
    )
    assert response.status_code == 201, response.text
    environment_id: str = response.json()["id"]
    return environment_id


def create_end_user(api: httpx.Client, owner: Owner, environment_id: str, **fields: str) -> dict[str, str]:
    """An end user made through the API (without a password unless one is given); its fields and `id`."""
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"User {tag}", "email": f"user-{tag}@example.com", "username": f"user_{tag}", **fields}
    response = api.post(f"/environments/{environment_id}/accounts", json=body, headers=owner.auth)
    assert response.status_code == 201, response.text
    return {**body, "id": response.json()["id"]}


def add_member(api: httpx.Client, owner: Owner, role: str) -> str:
    """A tenant account of `owner`'s tenant with `role` and the test password; its email."""
    tag = uuid.uuid4().hex[:8]
    email = f"member-{tag}@example.com"
    body = {
        "name": f"Member {tag}",
        "email": email,
        "username": f"member_{tag}",
        "password": PASSWORD,
        "roles": [{"role": role, "target": "tenant", "targetId": owner.tenant_id}],
    }
    response = api.post(f"/tenants/{owner.tenant_id}/accounts", json=body, headers=owner.auth)
    assert response.status_code == 201, response.text
    return email


def csrf_of(page: Page) -> str:
    """The CSRF value of the page's own forms (the sign-out form is on every signed-in page)."""
    value = page.locator("input[name=csrf]").first.get_attribute("value")
    assert value
    return value


def open_environment(page: Page, environment_id: str) -> None:
    page.goto(f"/console/environments/{environment_id}")


def test_list_shows_each_environment_with_a_manage_link(page: Page, api: httpx.Client, owner: Owner) -> None:
    staging = create_environment(api, owner, "staging")
    api.patch(
        f"/tenants/{owner.tenant_id}/environments/{staging}",
        json={"settings": {"signupEnabled": False}},
        headers=owner.auth,
    ).raise_for_status()
    signed_in(page, owner)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Environments").click()
    expect(page).to_have_url(re.compile(r"/console/environments$"))
    expect(page.get_by_role("heading", name="Environments")).to_be_visible()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("default")
    expect(rows.nth(0)).to_contain_text(owner.environment_id)
    expect(rows.nth(0).locator(".badge")).to_have_text("Sign-up on")
    expect(rows.nth(1)).to_contain_text("staging")
    expect(rows.nth(1).locator(".badge")).to_have_text("Sign-up off")
    expect(page.get_by_role("link", name="Manage default")).to_be_visible()
    expect(page.get_by_role("link", name="Environments")).to_have_attribute("aria-current", "page")
    screenshot(page, "environments")


def test_empty_list_offers_to_create_one(page: Page, api: httpx.Client, owner: Owner) -> None:
    api.delete(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    signed_in(page, owner)
    page.goto("/console/environments")
    expect(page.get_by_role("heading", name="No environments yet")).to_be_visible()
    page.locator(".empty").get_by_role("link", name="Create environment").click()
    expect(page).to_have_url(re.compile(r"/console/environments/new$"))


def test_navigate_to_create(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/environments")
    page.get_by_role("link", name="Create environment").click()
    expect(page).to_have_url(re.compile(r"/console/environments/new$"))
    expect(page.get_by_role("heading", name="Create environment")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_attribute("placeholder", "e.g., production, staging, development")
    expect(page.get_by_label("End users may sign up themselves")).to_be_checked()


def test_create_goes_to_the_new_environment(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/environments/new")
    page.get_by_label("Name").fill("production")
    page.get_by_label("End users may sign up themselves").uncheck()
    page.get_by_role("button", name="Create environment").click()
    expect(page).to_have_url(re.compile(r"/console/environments/[0-9a-f-]{36}$"))
    expect(page.get_by_role("status").first).to_have_text("Environment production created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("production")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign-up off")
    environment_id = page.get_by_test_id("environment-id").inner_text()
    read = api.get(f"/tenants/{owner.tenant_id}/environments/{environment_id}", headers=owner.auth)
    assert read.json()["name"] == "production"
    assert read.json()["settings"]["signupEnabled"] is False


def test_name_is_required_long_enough_and_unique(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/environments/new")
    page.get_by_role("button", name="Create environment").click()
    expect(page.locator("#e-name")).to_have_text("This field is required.")
    page.get_by_label("Name").fill("x")
    page.get_by_role("button", name="Create environment").click()
    expect(page.locator("#e-name")).to_contain_text("at least 2 characters")
    expect(page.get_by_label("Name")).to_have_value("x")
    page.get_by_label("Name").fill("default")
    page.get_by_role("button", name="Create environment").click()
    expect(page.locator("#e-name")).to_have_text("An environment with this name already exists.")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")


def test_view_details(page: Page, api: httpx.Client, owner: Owner) -> None:
    create_end_user(api, owner, owner.environment_id)
    signed_in(page, owner)
    page.goto("/console/environments")
    page.get_by_role("link", name="Manage default").click()
    expect(page).to_have_url(re.compile(rf"/console/environments/{owner.environment_id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("default")
    expect(page.get_by_test_id("environment-name")).to_have_text("default")
    expect(page.locator("dd", has_text=re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")).first).to_be_visible()
    expect(page.get_by_test_id("end-user-count")).to_have_text("1")
    page.get_by_role("link", name="Manage users").click()
    expect(page).to_have_url(re.compile(rf"/console/environments/{owner.environment_id}/users$"))


def test_shows_and_copies_the_id(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    open_environment(page, owner.environment_id)
    expect(page.get_by_test_id("environment-id")).to_have_text(owner.environment_id)
    page.locator(".copy-id").get_by_role("button", name="Copy").click()
    expect(page.locator("#toast")).to_have_text("Environment ID copied to clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == owner.environment_id
    screenshot(page, "environment-detail")


def test_delete_with_confirmation_names_what_is_lost(page: Page, api: httpx.Client, owner: Owner) -> None:
    environment_id = create_environment(api, owner, "doomed")
    create_end_user(api, owner, environment_id)
    create_end_user(api, owner, environment_id)
    signed_in(page, owner)
    open_environment(page, environment_id)
    page.get_by_role("link", name="Delete environment").click()
    expect(page).to_have_url(re.compile(rf"/console/environments/{environment_id}/delete$"))
    expect(page.get_by_test_id("delete-consequences")).to_have_text(
        "This will permanently delete the environment doomed and its 2 end users, their sessions, "
        "organizations and signing keys."
    )
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/console/environments$"))
    expect(page.get_by_role("status").first).to_have_text("Environment deleted")
    expect(page.locator("table.list")).not_to_contain_text("doomed")
    gone = api.get(f"/tenants/{owner.tenant_id}/environments/{environment_id}", headers=owner.auth)
    assert gone.status_code == 404


def test_cancel_delete_keeps_the_environment(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    open_environment(page, owner.environment_id)
    page.get_by_role("link", name="Delete environment").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"/console/environments/{owner.environment_id}$"))
    kept = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    assert kept.status_code == 200


def test_back_navigation(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto("/console/environments")
    page.get_by_role("link", name="Create environment").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/console/environments$"))
    page.get_by_role("link", name="Manage default").click()
    page.get_by_role("link", name="← Environments").click()
    expect(page).to_have_url(re.compile(r"/console/environments$"))
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/console/environments/{owner.environment_id}$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/console/environments$"))


def test_rename_waits_for_a_change(page: Page, api: httpx.Client, owner: Owner) -> None:
    create_environment(api, owner, "taken")
    signed_in(page, owner)
    open_environment(page, owner.environment_id)
    save = page.get_by_role("button", name="Save name")
    expect(save).to_be_disabled()
    page.get_by_label("Environment name").fill("taken")
    expect(save).to_be_enabled()
    save.click()
    expect(page.locator("#e-name")).to_have_text("An environment with this name already exists.")
    page.get_by_label("Environment name").fill("primary")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status").first).to_have_text("Environment renamed to primary.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("primary")
    expect(page.get_by_role("button", name="Save name")).to_be_disabled()


def test_save_stays_enabled_when_htmx_announces_the_page_after_typing(page: Page, owner: Owner) -> None:
    """htmx fires `htmx:load` for the page from a timer, so it can come after the first keystroke. Enhancing a
    form again then must not take the typed value as the form's starting point and disable Save."""
    signed_in(page, owner)
    open_environment(page, owner.environment_id)
    save = page.get_by_role("button", name="Save name")
    page.get_by_label("Environment name").fill("renamed")
    expect(save).to_be_enabled()
    page.evaluate("document.body.dispatchEvent(new CustomEvent('htmx:load', {bubbles: true}))")
    expect(save).to_be_enabled()
    page.get_by_label("Environment name").fill(page.get_by_label("Environment name").get_attribute("value") or "")
    expect(save).to_be_disabled()


def test_settings_are_saved_and_checked(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    open_environment(page, owner.environment_id)
    page.get_by_label("End users may sign up themselves").uncheck()
    page.get_by_label("Minimum password length").fill("12")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_have_text("Settings saved.")
    expect(page.get_by_label("Minimum password length")).to_have_value("12")
    expect(page.get_by_label("End users may sign up themselves")).not_to_be_checked()
    read = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    saved = read.json()["settings"]
    assert {key: saved[key] for key in ("signupEnabled", "passwordMinLength", "passwordMaxLength")} == {
        "signupEnabled": False,
        "passwordMinLength": 12,
        "passwordMaxLength": 128,
    }
    assert saved["factorPolicy"] == "optional"  # the form sends the policy it shows
    assert (saved["emailVerification"], saved["requireVerifiedEmail"], saved["magicLinksEnabled"]) == (
        True,
        False,
        False,
    ), "the switches it shows keep their values"

    page.get_by_label("Signing in needs a verified email").check()
    page.get_by_label("End users may sign in with an emailed link").check()
    page.get_by_label("A sign-up emails a link that verifies the address").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_have_text("Settings saved.")
    expect(page.get_by_label("Signing in needs a verified email")).to_be_checked()
    switched = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    switches = switched.json()["settings"]
    assert (switches["emailVerification"], switches["requireVerifiedEmail"], switches["magicLinksEnabled"]) == (
        False,
        True,
        True,
    )

    page.get_by_label("Minimum password length").fill("100")
    page.get_by_label("Maximum password length").fill("50")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#e-passwordMinLength")).to_contain_text("must not exceed passwordMaxLength")
    page.get_by_label("Minimum password length").fill("4")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#e-passwordMinLength")).to_contain_text("greater than or equal to 8")
    read = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    assert read.json()["settings"]["passwordMinLength"] == 12


def test_custom_properties_are_set_changed_and_removed(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    open_environment(page, owner.environment_id)
    page.get_by_label("New key").fill("tier")
    page.get_by_label("New value").fill("gold")
    page.get_by_role("button", name="Save properties").click()
    expect(page.get_by_role("status").first).to_have_text("Custom properties saved.")
    page.get_by_label("New key").fill("seats")
    page.get_by_label("New value").fill("25")
    page.get_by_role("button", name="Save properties").click()
    read = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    assert read.json()["customProperties"] == {"tier": "gold", "seats": 25}

    page.get_by_label("Value of tier").fill("platinum")
    page.locator("input[name=remove][value=seats]").check()
    page.get_by_role("button", name="Save properties").click()
    expect(page.get_by_label("Value of tier")).to_have_value("platinum")
    read = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    assert read.json()["customProperties"] == {"tier": "platinum"}


def test_user_role_reads_but_cannot_change_and_forged_forms_are_refused(
    page: Page, api: httpx.Client, owner: Owner
) -> None:
    reader = add_member(api, owner, "user")
    sign_in(page, owner.tenant_id, reader)
    page.goto("/console/environments")
    expect(page.get_by_role("link", name="Manage default")).to_be_visible()
    expect(page.get_by_role("link", name="Create environment")).to_have_count(0)
    open_environment(page, owner.environment_id)
    expect(page.get_by_test_id("read-only")).to_contain_text("Your role (user) can view this environment")
    expect(page.get_by_role("link", name="Delete environment")).to_have_count(0)
    expect(page.get_by_role("button", name="Save settings")).to_be_disabled()
    expect(page.get_by_label("Environment name")).to_be_disabled()
    expect(page.get_by_role("button", name="Save properties")).to_have_count(0)

    csrf = csrf_of(page)
    base = f"/console/environments/{owner.environment_id}"
    forged = {
        "/console/environments/new": {"name": "sneaky"},
        f"{base}/rename": {"name": "sneaky"},
        f"{base}/settings": {"passwordMinLength": "9"},
        f"{base}/properties": {"key": "x", "value": "1"},
        f"{base}/delete": {},
    }
    for path, fields in forged.items():
        response = page.request.post(path, form={"csrf": csrf, **fields}, max_redirects=0)
        assert response.status == 403, (path, response.status)
    assert page.request.get(f"{base}/delete").status == 403
    assert page.request.get("/console/environments/new").status == 403
    read = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    assert read.json()["name"] == "default"
    assert read.json()["customProperties"] == {}
    listed = api.get(f"/tenants/{owner.tenant_id}/environments", headers=owner.auth).json()
    assert [environment["name"] for environment in listed] == ["default"]


def test_forms_without_the_csrf_token_are_refused(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    response = page.request.post(
        f"/console/environments/{owner.environment_id}/delete", form={"csrf": "forged"}, max_redirects=0
    )
    assert response.status == 403
    kept = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth)
    assert kept.status_code == 200


def test_another_tenants_environment_is_not_found(page: Page, api: httpx.Client, owner: Owner) -> None:
    other = make_owner(api)
    signed_in(page, owner)
    for path in ("", "/delete", "/users", "/users/new"):
        response = page.goto(f"/console/environments/{other.environment_id}{path}")
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    forged = page.request.post(
        f"/console/environments/{other.environment_id}/delete", form={"csrf": csrf_of(page)}, max_redirects=0
    )
    assert forged.status == 404
    assert api.get(f"/tenants/{other.tenant_id}/environments/{other.environment_id}", headers=other.auth).is_success
    assert page.goto("/console/environments/not-a-uuid") is not None
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_phone_width(phone: Page, api: httpx.Client, owner: Owner) -> None:
    create_environment(api, owner, "staging")
    signed_in(phone, owner)
    phone.goto("/console/environments")
    expect(phone.get_by_role("link", name="Manage staging")).to_be_visible()
    screenshot(phone, "environments")
    open_environment(phone, owner.environment_id)
    expect(phone.get_by_role("button", name="Save settings")).to_be_visible()
    screenshot(phone, "environment-detail")
