"""Console signing keys in a real browser: next, active and retired keys with their ids and dates as the JWKS
and the tokens show them, the rotation schedule, "rotate now" behind a confirmation; the read-only `user` role,
another tenant's environment, a hostile environment name and the phone width."""

from __future__ import annotations

import re

import httpx
import jwt
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, screenshot, sign_in, signed_in
from tests.console.end_user_pages import END_USER_PASSWORD
from tests.console.organization_pages import HOSTILE, environment_path, no_dialogs
from tests.console.test_environments import add_member, create_end_user, create_environment, csrf_of
from tests.console.test_layout import assert_fits


def keys_path(owner: Owner, environment_id: str | None = None) -> str:
    return environment_path(owner, environment_id) + "/keys"


def published_kids(api: httpx.Client, environment_id: str) -> set[str]:
    response = api.get(f"/environments/{environment_id}/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    return {key["kid"] for key in response.json()["keys"]}


def signing_kid(api: httpx.Client, owner: Owner, email: str) -> str:
    """The `kid` of an access token an end user gets now."""
    response = api.post(
        f"/auth/environments/{owner.environment_id}/token",
        json={"grantType": "password", "email": email, "password": END_USER_PASSWORD},
    )
    assert response.status_code == 200, response.text
    kid: str = jwt.get_unverified_header(response.json()["accessToken"])["kid"]
    return kid


def rotate(page: Page) -> None:
    page.get_by_role("link", name="Rotate now").click()
    expect(page.get_by_test_id("rotate-consequences")).to_contain_text("starts signing access tokens at once")
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_role("status").first).to_contain_text("signs new tokens now.")


def test_keys_rotate_now_and_the_schedule(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto(environment_path(owner))
    page.get_by_role("navigation", name="Environment default").get_by_role("link", name="Signing keys").click()
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    expect(page.get_by_test_id("schedule")).to_contain_text("There is no active key yet")
    expect(page.get_by_test_id("rotation-days")).to_have_text("30")

    page.get_by_role("link", name="Rotate now").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    rotate(page)
    active = page.get_by_test_id("key-active").get_by_test_id("kid").inner_text()
    upcoming = page.get_by_test_id("key-next").get_by_test_id("kid").inner_text()
    expect(page.get_by_role("status").first).to_have_text(f"Keys rotated: {active} signs new tokens now.")
    expect(page.get_by_test_id("next-rotation")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    assert published_kids(api, owner.environment_id) == {active, upcoming}
    end_user = create_end_user(api, owner, owner.environment_id, password=END_USER_PASSWORD)
    assert signing_kid(api, owner, end_user["email"]) == active

    rotate(page)
    expect(page.get_by_test_id("key-active").get_by_test_id("kid")).to_have_text(upcoming)
    retired = page.get_by_test_id("key-retired")
    expect(retired.get_by_test_id("kid")).to_have_text(active)
    expect(retired.locator("td").nth(5)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    newest = page.get_by_test_id("key-next").get_by_test_id("kid").inner_text()
    assert published_kids(api, owner.environment_id) == {active, upcoming, newest}
    assert signing_kid(api, owner, end_user["email"]) == upcoming
    screenshot(page, "keys")

    page.goto("/console/activity?action=signing_key.rotated")  # each rotation is audited, with who did it
    events = page.locator("table.list tbody tr")
    expect(events).to_have_count(2)
    expect(events.first).to_contain_text(owner.name)


def test_user_role_sees_why_rotate_is_disabled_and_forged_forms_are_refused(
    page: Page, api: httpx.Client, owner: Owner
) -> None:
    reader = add_member(api, owner, "user")
    sign_in(page, owner.tenant_id, reader)
    page.goto(keys_path(owner))
    expect(page.get_by_role("button", name="Rotate now")).to_be_disabled()
    expect(page.get_by_role("button", name="Rotate now")).to_have_accessible_description(
        "This needs the admin role or higher."
    )
    expect(page.get_by_role("link", name="Rotate now")).to_have_count(0)
    assert page.request.get(keys_path(owner) + "/rotate").status == 403
    forged = page.request.post(keys_path(owner) + "/rotate", form={"csrf": csrf_of(page)}, max_redirects=0)
    assert forged.status == 403
    assert published_kids(api, owner.environment_id) == set()


def test_another_tenants_keys_are_not_found(page: Page, api: httpx.Client, owner: Owner) -> None:
    other = make_owner(api)
    signed_in(page, owner)
    for path in ("", "/rotate"):
        response = page.goto(keys_path(other) + path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    forged = page.request.post(keys_path(other) + "/rotate", form={"csrf": csrf_of(page)}, max_redirects=0)
    assert forged.status == 404
    assert published_kids(api, other.environment_id) == set()


def test_hostile_environment_name_and_phone_width(phone: Page, api: httpx.Client, owner: Owner) -> None:
    opened = no_dialogs(phone)
    environment_id = create_environment(api, owner, HOSTILE)
    signed_in(phone, owner)
    phone.goto(keys_path(owner, environment_id))
    expect(phone.get_by_role("heading", level=1)).to_contain_text(HOSTILE)
    rotate(phone)
    expect(phone.get_by_test_id("key-active")).to_be_visible()
    screenshot(phone, "keys")
    assert_fits(phone, "keys")
    assert opened == []
