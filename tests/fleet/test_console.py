"""The console in Chromium through the TLS proxy: sign-in and a CSRF-protected form work, every cookie is
`Secure`, and the session is recorded from the browser's address as the proxy saw it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.console.conftest import CHROMIUM, CHROMIUM_FLAGS, sign_in
from tests.fleet.fleet import PROXY_ADDRESS, Fleet

pytestmark = pytest.mark.fleet
BROWSER_ADDRESS = "127.0.0.1"  # where Chromium connects to nginx from


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is needed: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def test_the_console_through_the_proxy(fleet: Fleet, browser: Browser) -> None:
    tenant = fleet.new_tenant()
    context = browser.new_context(base_url=fleet.public_url, ignore_https_errors=True)  # the test's own certificate
    try:
        page = context.new_page()
        sign_in(page, tenant.tenant_id, tenant.owner_email)
        expect(page.get_by_role("heading", level=1)).to_contain_text(tenant.tenant_name)

        page.goto("/console/environments/new")
        page.get_by_label("Name").fill("production")
        page.get_by_role("button", name="Create environment").click()
        expect(page).to_have_url(re.compile(r"/console/environments/[0-9a-f-]{36}$"))
        expect(page.get_by_role("status").first).to_have_text("Environment production created.")
        forged = context.request.post(
            "/console/environments/new", form={"csrf": "0" * 64, "name": "forged"}, headers={"Origin": fleet.public_url}
        )
        assert forged.status == 403

        cookies = context.cookies()
        assert {"sump_session", "sump_csrf"} <= {cookie["name"] for cookie in cookies}
        assert all(cookie["secure"] and cookie["httpOnly"] for cookie in cookies), cookies
    finally:
        context.close()

    with fleet.client(fleet.public_url) as api:
        sessions = api.get(f"/api/v1/auth/tenants/{tenant.tenant_id}/sessions", headers=tenant.owner_auth)
        environments = api.get(f"/api/v1/tenants/{tenant.tenant_id}/environments", headers=tenant.owner_auth)
    addresses = {session["ipAddress"] for session in sessions.json()}
    assert BROWSER_ADDRESS in addresses, addresses  # the console's session, from the browser
    assert PROXY_ADDRESS not in addresses, addresses
    assert sorted(environment["name"] for environment in environments.json()) == ["default", "production"]
