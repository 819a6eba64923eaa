"""The setup wizard in a real browser: the original dashboard's onboarding scenarios, with the rules the API
applies shown next to each field."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import screenshot
from tests.support import PASSWORD


def next_step(page: Page) -> None:
    page.get_by_role("button", name="Next").click()


def fill_owner(page: Page, tag: str, password: str = PASSWORD, confirm: str | None = None) -> None:
    page.get_by_label("Full name").fill(f"Grace Owner {tag}")
    page.get_by_label("Username").fill(f"grace_{tag}")
    page.get_by_label("Email").fill(f"grace-{tag}@example.com")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password").fill(password if confirm is None else confirm)


def test_wizard_shows_its_three_steps(page: Page) -> None:
    page.goto("/console/setup")
    expect(page.get_by_role("heading", name="Set up your tenant")).to_be_visible()
    expect(page.get_by_role("listitem")).to_have_text(
        ["1. Your organisation", "2. Owner account", "3. First environment"]
    )
    expect(page.get_by_role("heading", name="Step 1 of 3: Your organisation")).to_be_visible()
    expect(page.get_by_label("Tenant name")).to_be_visible()
    screenshot(page, "setup")


def test_full_wizard_creates_the_tenant_and_signs_in(page: Page, api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill(f"Initech {tag}")
    next_step(page)
    fill_owner(page, tag)
    page.get_by_label("Phone (optional)").fill("+14155550123")
    next_step(page)
    page.get_by_label("Environment name").fill("production")
    page.get_by_role("button", name="Create tenant").click()

    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Initech {tag}")
    expect(page.get_by_role("status").first).to_contain_text("Your tenant ID is")
    tenant_id = page.get_by_test_id("tenant-id").inner_text()
    # The owner exists with what was typed, and the first environment has its name.
    login = api.post(f"/auth/tenants/{tenant_id}/login", json={"username": f"grace_{tag}", "password": PASSWORD})
    assert login.status_code == 200, login.text
    tenant = api.get(f"/tenants/{tenant_id}", headers={"Authorization": f"Bearer {login.json()['token']}"}).json()
    assert [environment["name"] for environment in tenant["environments"]] == ["production"]


def test_tenant_name_is_required(page: Page) -> None:
    page.goto("/console/setup")
    next_step(page)
    expect(page.locator("#e-name")).to_have_text("This field is required.")


def test_tenant_name_has_a_minimum_length(page: Page) -> None:
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill("A")
    next_step(page)
    expect(page.locator("#e-name")).to_have_text("Must be at least 2 characters.")
    expect(page.get_by_role("heading", name="Step 1 of 3: Your organisation")).to_be_visible()


def test_owner_fields_are_required(page: Page) -> None:
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill("Hooli")
    next_step(page)
    next_step(page)
    for field in ("ownerName", "username", "email", "password"):
        expect(page.locator(f"#e-{field}")).to_have_text("This field is required.")
    expect(page.get_by_role("heading", name="Step 2 of 3: Owner account")).to_be_visible()


def test_passwords_must_match(page: Page) -> None:
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill("Hooli")
    next_step(page)
    fill_owner(page, uuid.uuid4().hex[:8], confirm="something else entirely")
    next_step(page)
    expect(page.locator("#e-passwordConfirm")).to_have_text("Passwords do not match.")
    # Nothing typed as a password comes back in the page.
    expect(page.get_by_label("Password", exact=True)).to_have_value("")


def test_password_minimum_length_and_policy(page: Page) -> None:
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill("Hooli")
    next_step(page)
    fill_owner(page, uuid.uuid4().hex[:8], password="short")
    next_step(page)
    expect(page.locator("#e-password")).to_have_text("Password must be at least 8 characters.")
    fill_owner(page, uuid.uuid4().hex[:8], password="password123")
    next_step(page)
    expect(page.locator("#e-password")).to_have_text("This password is too common; choose another.")


def test_back_keeps_what_was_typed(page: Page) -> None:
    tag = uuid.uuid4().hex[:8]
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill(f"Vandelay {tag}")
    next_step(page)
    page.get_by_label("Full name").fill("Art Vandelay")
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_label("Tenant name")).to_have_value(f"Vandelay {tag}")
    next_step(page)
    expect(page.get_by_label("Full name")).to_have_value("Art Vandelay")


def test_environment_is_named_default_when_left_empty(page: Page, api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill(f"Globex {tag}")
    next_step(page)
    fill_owner(page, tag)
    next_step(page)
    expect(page.get_by_label("Environment name")).to_have_attribute("placeholder", "default")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Globex {tag}")
    tenant_id = page.get_by_test_id("tenant-id").inner_text()
    token = api.post(
        f"/auth/tenants/{tenant_id}/login", json={"username": f"grace_{tag}", "password": PASSWORD}
    ).json()["token"]
    tenant = api.get(f"/tenants/{tenant_id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert [environment["name"] for environment in tenant["environments"]] == ["default"]


def test_phone_must_be_international(page: Page) -> None:
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill("Hooli")
    next_step(page)
    fill_owner(page, uuid.uuid4().hex[:8])
    page.get_by_label("Phone (optional)").fill("12")
    next_step(page)
    expect(page.locator("#e-phone")).to_contain_text("E.164")
