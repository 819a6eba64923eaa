"""Passkeys in the console, in Chromium with a virtual authenticator (DevTools protocol `WebAuthn.enable` and
`WebAuthn.addVirtualAuthenticator` through Playwright's CDP session), against a `sump serve` whose
SUMP_PUBLIC_URL is `http://localhost:…` (the console's relying party is its host): a passkey added in
Settings, used at the second sign-in step, to sign in alone, and to step up before "rotate now". On the
shared test server, whose public URL is an IP address, Settings says why passkeys are unavailable."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import DESKTOP, PHONE, Owner, make_owner, screenshot, sign_in, signed_in
from tests.console.test_layout import assert_fits
from tests.mail import SmtpServer
from tests.servers import Server, free_port, sqlite_environment, start_server


@pytest.fixture(scope="module")
def localhost_server(tmp_path_factory: pytest.TempPathFactory, mailbox: SmtpServer) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("console-passkeys")
    port = free_port()
    environment = sqlite_environment(
        directory,
        SUMP_PUBLIC_URL=f"http://localhost:{port}",
        SUMP_RATE_LIMITS="off",
        SUMP_EMAIL_BACKEND="smtp",
        SUMP_SMTP_URL=f"smtp://127.0.0.1:{mailbox.port}",
    )
    server = start_server(directory, environment, port)
    server.base_url = f"http://localhost:{port}"
    yield server
    server.kill()


@pytest.fixture
def local_api(localhost_server: Server) -> Iterator[httpx.Client]:
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    with httpx.Client(base_url=localhost_server.base_url + "/api/v1", timeout=10, cookies=jar) as http:
        yield http


def with_authenticator(browser: Browser, server: Server, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(base_url=server.base_url, viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield page
    context.close()


@pytest.fixture
def key_page(browser: Browser, localhost_server: Server) -> Iterator[Page]:
    yield from with_authenticator(browser, localhost_server, DESKTOP)


@pytest.fixture
def key_phone(browser: Browser, localhost_server: Server) -> Iterator[Page]:
    yield from with_authenticator(browser, localhost_server, PHONE)


def add_passkey(page: Page) -> list[str]:
    page.goto("/console/settings?tab=account")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Passkey added")
    codes = page.get_by_test_id("recovery-codes").locator("code").all_text_contents()
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_test_id("own-factors")).to_contain_text("Passkey")
    return codes


def test_a_passkey_is_added_and_signs_in_as_a_second_factor_alone_and_for_step_up(
    key_page: Page, local_api: httpx.Client
) -> None:
    owner = make_owner(local_api)
    page = signed_in(key_page, owner)
    codes = add_passkey(page)
    assert len(codes) == 10
    screenshot(page, "passkeys-settings")

    page.context.clear_cookies()
    sign_in(page, owner.tenant_id, owner.email)
    expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    screenshot(page, "passkeys-second-step")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)

    page.context.clear_cookies()
    page.goto("/console/login")
    page.get_by_label("Tenant ID").fill(owner.tenant_id)
    page.get_by_role("button", name="Use a passkey instead").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)
    sessions = local_api.get(f"/auth/tenants/{owner.tenant_id}/sessions", headers=owner.auth).json()
    assert ["hwk"] in [session.get("amr") for session in sessions]  # the passwordless one

    rotate = f"/console/environments/{owner.environment_id}/keys/rotate"
    page.goto(rotate)
    page.get_by_role("button", name="Rotate now").click()  # a passkey alone has not stepped this session up
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    screenshot(page, "passkeys-step-up")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(rotate)
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_role("status").first).to_contain_text("Keys rotated")


def test_a_passkey_is_added_on_a_phone_and_removed_after_stepping_up(key_phone: Page, local_api: httpx.Client) -> None:
    owner: Owner = make_owner(local_api)
    page = signed_in(key_phone, owner)
    add_passkey(page)
    screenshot(page, "passkeys-settings")
    assert_fits(page, "settings with a passkey")
    page.get_by_role("button", name="Remove Passkey").click()  # within the 5 minutes the enrolment gave
    expect(page.get_by_role("status").first).to_have_text("Second factor removed.")
    expect(page.get_by_test_id("own-factors")).to_contain_text("No second factor yet")


def test_without_a_domain_in_the_public_url_settings_say_why_there_are_no_passkeys(page: Page, owner: Owner) -> None:
    signed_in(page, owner)  # the shared server's SUMP_PUBLIC_URL is http://127.0.0.1:…
    page.goto("/console/settings?tab=account")
    expect(page.get_by_test_id("passkeys-unavailable")).to_contain_text("not an IP address (127.0.0.1)")
    expect(page.get_by_role("button", name="Add a passkey")).to_have_count(0)
