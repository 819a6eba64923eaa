"""The console's activity page: the tenant's audit log for owners and admins, with filters and paging."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, screenshot, sign_in, signed_in
from tests.support import PASSWORD


def test_owner_sees_who_did_what_and_filters_by_action(page: Page, owner: Owner, api: httpx.Client) -> None:
    refused = api.post(
        f"/auth/tenants/{owner.tenant_id}/login", json={"email": owner.email, "password": "SENTINEL-not-it"}
    )
    assert refused.status_code == 401
    signed_in(page, owner)
    page.get_by_role("navigation").get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Activity")
    rows = page.locator("table.list tbody tr")
    expect(rows.filter(has_text="login.succeeded").first).to_contain_text(owner.name)
    expect(rows.filter(has_text="tenant.created")).to_have_count(1)
    failed = rows.filter(has_text="login.failed")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("failure")
    expect(page.locator("main")).not_to_contain_text("SENTINEL")
    screenshot(page, "activity")

    page.get_by_label("Action").fill("login.failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=login\.failed"))
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="Clear").click()
    expect(rows.filter(has_text="tenant.created")).to_have_count(1)


def test_older_events_are_a_page_away(page: Page, owner: Owner, api: httpx.Client) -> None:
    for _ in range(50):  # one event each: with the tenant's creation and this sign-in, more than a page
        login = api.post(f"/auth/tenants/{owner.tenant_id}/login", json={"email": owner.email, "password": PASSWORD})
        assert login.status_code == 200, login.text
    signed_in(page, owner)
    page.goto("/console/activity")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Older events →").click()
    expect(rows.filter(has_text="tenant.created")).to_have_count(1)


def test_users_have_no_activity_page(page: Page, owner: Owner, api: httpx.Client) -> None:
    created = api.post(
        f"/tenants/{owner.tenant_id}/accounts",
        json={
            "name": "Plain User",
            "email": "plain.user@example.com",
            "username": "plain_user",
            "password": PASSWORD,
            "roles": [{"role": "user", "target": "tenant", "targetId": owner.tenant_id}],
        },
        headers=owner.auth,
    )
    assert created.status_code == 201, created.text
    sign_in(page, owner.tenant_id, "plain_user")
    expect(page.get_by_role("navigation").get_by_role("link", name="Activity")).to_have_count(0)
    response = page.goto("/console/activity")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
