"""The console's dashboard and sidebar in a real browser: the original dashboard's `dashboard` scenarios."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.console.conftest import Owner, screenshot, signed_in


def sidebar(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Console").get_by_role("link", name=name, exact=True)


def test_dashboard_shows_the_tenant_information(page: Page, owner: Owner, api: httpx.Client) -> None:
    api.patch(f"/tenants/{owner.tenant_id}/custom-property", json={"plan": "gold"}, headers=owner.auth)
    signed_in(page, owner)
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("Active")
    info = page.locator("section", has=page.get_by_role("heading", name="Tenant information"))
    expect(info.get_by_test_id("tenant-name")).to_have_text(owner.tenant_name)
    expect(info).to_contain_text(re.compile(r"Created\s*\d{4}-\d\d-\d\d"))
    expect(info.locator(".badges")).to_contain_text("plan: gold")
    expect(page.get_by_test_id("count-environments")).to_have_text("1")
    expect(page.get_by_test_id("count-accounts")).to_have_text("1")
    for action in ("Create environment", "View environments", "Settings"):
        expect(page.locator("main").get_by_role("link", name=action, exact=True)).to_be_visible()
    screenshot(page, "dashboard")


def test_dashboard_at_phone_width(phone: Page, owner: Owner) -> None:
    signed_in(phone, owner)
    expect(phone.get_by_test_id("tenant-id")).to_be_visible()
    screenshot(phone, "dashboard")


def test_dashboard_shows_and_copies_the_tenant_id(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    expect(page.get_by_test_id("tenant-id")).to_have_text(owner.tenant_id)
    page.locator(".copy-id", has_text="Tenant ID").get_by_role("button", name="Copy").click()
    expect(page.locator("#toast")).to_have_text("Tenant ID copied to clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == owner.tenant_id


def test_sidebar_navigates_to_environments_and_to_settings(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    sidebar(page, "Environments").click()
    expect(page).to_have_url(re.compile(r"/console/environments$"))
    expect(page.get_by_role("heading", name="Environments", level=1)).to_be_visible()
    sidebar(page, "Settings").click()
    expect(page).to_have_url(re.compile(r"/console/settings$"))
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    sidebar(page, "Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)


def test_logout_from_the_sidebar(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    page.get_by_role("navigation", name="Console").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_the_active_sidebar_item_is_marked(page: Page, owner: Owner) -> None:
    signed_in(page, owner)
    expect(sidebar(page, "Dashboard")).to_have_attribute("aria-current", "page")
    expect(sidebar(page, "Settings")).not_to_have_attribute("aria-current", "page")
    for path, name in (
        ("/console/environments", "Environments"),
        ("/console/accounts", "Tenant accounts"),
        ("/console/settings", "Settings"),
    ):
        page.goto(path)
        expect(sidebar(page, name)).to_have_attribute("aria-current", "page")
        expect(sidebar(page, "Dashboard")).not_to_have_attribute("aria-current", "page")
