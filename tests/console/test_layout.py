"""Every main console page at phone width (390 px) and on a laptop: nothing wider than the screen, the
navigation reachable, and a screenshot of each under test-output/console/."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, screenshot, signed_in

PUBLIC = {"login": "/console/login", "setup": "/console/setup", "forgot-password": "/console/forgot-password"}


def pages_of(owner: Owner, api: httpx.Client) -> dict[str, str]:
    end_user = api.post(
        f"/environments/{owner.environment_id}/accounts",
        json={"name": "Layout User", "email": "layout.user.with.a.long.address@example.com", "username": "layout"},
        headers=owner.auth,
    )
    assert end_user.status_code == 201, end_user.text
    organization = api.post(
        f"/environments/{owner.environment_id}/organizations",
        json={"name": "Layout Organization", "adminAccountId": end_user.json()["id"]},
        headers=owner.auth,
    )
    assert organization.status_code == 201, organization.text
    environment = f"/console/environments/{owner.environment_id}"
    return {
        "dashboard": "/console/",
        "environments": "/console/environments",
        "environment-new": "/console/environments/new",
        "environment-detail": environment,
        "end-users": f"{environment}/users",
        "end-user-new": f"{environment}/users/new",
        "end-user-detail": f"{environment}/users/{end_user.json()['id']}",
        "end-user-picker": "/console/end-users",
        "organizations": f"{environment}/organizations",
        "organization-new": f"{environment}/organizations/new",
        "organization-detail": f"{environment}/organizations/{organization.json()['id']}",
        "organization-delete": f"{environment}/organizations/{organization.json()['id']}/delete",
        "roles": f"{environment}/roles",
        "role-detail": f"{environment}/roles/ORG_ADMIN",
        "keys": f"{environment}/keys",
        "keys-rotate": f"{environment}/keys/rotate",
        "accounts": "/console/accounts",
        "account-new": "/console/accounts/new",
        "activity": "/console/activity",
        "settings": "/console/settings",
        "settings-account": "/console/settings?tab=account",
    }


def assert_fits(page: Page, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the screen"


@pytest.mark.parametrize("viewport", ["page", "phone"])
def test_every_page_fits_the_screen(viewport: str, request: pytest.FixtureRequest, api: httpx.Client) -> None:
    page: Page = request.getfixturevalue(viewport)
    for name, path in PUBLIC.items():
        page.goto(path)
        screenshot(page, name)
        assert_fits(page, name)
    owner: Owner = request.getfixturevalue("owner")
    pages = pages_of(owner, api)
    signed_in(page, owner)
    for name, path in pages.items():
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, f"{name}: {response.status}"
        expect(page.get_by_role("navigation", name="Console")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out").first).to_be_visible()
        screenshot(page, name)
        assert_fits(page, name)
