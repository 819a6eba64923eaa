"""The basic flows with JavaScript turned off: htmx and the console's script only enhance, every page and
form works as plain HTML."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import DESKTOP, Owner, make_owner, sign_in
from tests.servers import Server
from tests.support import PASSWORD


@pytest.fixture
def plain(browser: Browser, console_server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=console_server.base_url, viewport=DESKTOP, java_script_enabled=False)  # type: ignore[arg-type]
    yield context.new_page()
    context.close()


def test_sign_in_create_environment_and_end_user_then_search_and_sign_out(plain: Page, api: httpx.Client) -> None:
    owner: Owner = make_owner(api)
    page = plain
    sign_in(page, owner.tenant_id, owner.username)
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)

    page.get_by_role("navigation").get_by_role("link", name="Environments").click()
    page.get_by_role("link", name="Create environment").first.click()
    page.get_by_label("Name").fill("staging")
    page.get_by_role("button", name="Create environment").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("staging")
    environment_id = re.search(r"/environments/([0-9a-f-]{36})$", page.url)
    assert environment_id is not None

    tag = uuid.uuid4().hex[:6]
    page.get_by_role("link", name="Create user").first.click()
    page.get_by_label("Full name", exact=True).fill(f"Nojs User {tag}")
    page.get_by_label("Username", exact=True).fill(f"nojs_{tag}")
    page.get_by_label("Email", exact=True).fill(f"nojs-{tag}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Nojs User {tag}")

    page.goto(f"/console/environments/{environment_id.group(1)}/users")
    page.get_by_label("Search end users").fill(f"nojs_{tag}")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(rf"q=nojs_{tag}"))
    expect(page.get_by_role("link", name=f"Nojs User {tag}")).to_be_visible()

    signed_up = api.post(
        f"/auth/environments/{environment_id.group(1)}/login",
        json={"username": f"nojs_{tag}", "password": PASSWORD},
    )
    assert signed_up.status_code == 200, signed_up.text

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))


def test_setup_wizard_without_javascript(plain: Page) -> None:
    tag = uuid.uuid4().hex[:6]
    page = plain
    page.goto("/console/setup")
    page.get_by_label("Tenant name").fill(f"Plain {tag}")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Full name").fill("Plain Owner")
    page.get_by_label("Username").fill(f"plain_{tag}")
    page.get_by_label("Email").fill(f"plain-{tag}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Plain {tag}")


def test_organizations_roles_keys_and_the_picker_without_javascript(plain: Page, api: httpx.Client) -> None:
    owner: Owner = make_owner(api)
    people = []
    for name in ("Ada", "Bea"):
        tag = uuid.uuid4().hex[:6]
        body = {"name": f"{name} {tag}", "email": f"{name.lower()}-{tag}@example.com", "username": f"{name}_{tag}"}
        created = api.post(f"/environments/{owner.environment_id}/accounts", json=body, headers=owner.auth)
        assert created.status_code == 201, created.text
        people.append(body)
    page = plain
    sign_in(page, owner.tenant_id, owner.username)
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)

    page.get_by_role("navigation", name="Console").get_by_role("link", name="End users").click()
    page.get_by_role("button", name="Show end users").click()
    expect(page.get_by_role("link", name=people[0]["name"])).to_be_visible()

    page.get_by_role("navigation", name="Environment default").get_by_role("link", name="Organizations").click()
    page.get_by_role("link", name="Create organization").click()
    page.get_by_label("Organization name").fill("Plain Org")
    page.get_by_label("First ORG_ADMIN (email or username)").fill(people[0]["email"])
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plain Org")
    page.get_by_label("Add an end user (email or username)").fill(people[1]["username"])
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status").first).to_have_text(f"{people[1]['name']} added as ORG_USER.")
    page.get_by_label(f"Role of {people[1]['name']}").select_option("READ_ONLY")
    page.get_by_test_id(f"member-{people[1]['username'].lower()}").get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status").first).to_have_text("Role changed to READ_ONLY.")

    page.get_by_role("navigation", name="Environment default").get_by_role("link", name="Roles and permissions").click()
    page.get_by_label("Role name").fill("PLAIN")
    page.locator("#roles").get_by_label("projects:read").check()
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("status").first).to_have_text("Role PLAIN created.")

    page.get_by_role("navigation", name="Environment default").get_by_role("link", name="Signing keys").click()
    page.get_by_role("link", name="Rotate now").click()
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_role("status").first).to_contain_text("signs new tokens now.")
    expect(page.get_by_test_id("key-active")).to_be_visible()
