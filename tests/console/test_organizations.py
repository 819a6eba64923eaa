"""Console organizations in a real browser: create with a first ORG_ADMIN named by email or username, search and
pages, members added by email or username, roles changed, the last-admin guard shown on the disabled controls,
rename and delete behind a confirmation; the read-only `user` role, another tenant's ids, hostile names and
the phone width."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, screenshot, sign_in, signed_in
from tests.console.organization_pages import (
    HOSTILE,
    create_organization,
    environment_path,
    member_roles,
    no_dialogs,
)
from tests.console.test_environments import add_member, create_end_user, create_environment, csrf_of
from tests.console.test_layout import assert_fits

LAST_ADMIN = "The organization must keep at least one ORG_ADMIN."


def organizations_path(owner: Owner, environment_id: str | None = None) -> str:
    return environment_path(owner, environment_id) + "/organizations"


def test_create_add_members_change_roles_rename_and_delete(page: Page, api: httpx.Client, owner: Owner) -> None:
    alice = create_end_user(api, owner, owner.environment_id, name="Alice Admin")
    bob = create_end_user(api, owner, owner.environment_id, name="Bob Builder")
    signed_in(page, owner)
    page.goto(environment_path(owner))
    page.get_by_role("navigation", name="Environment default").get_by_role("link", name="Organizations").click()
    expect(page.get_by_text("No organizations yet.")).to_be_visible()
    page.get_by_role("link", name="Create organization").click()
    page.get_by_label("Organization name").fill("Globex")
    page.get_by_label("First ORG_ADMIN (email or username)").fill(alice["username"].upper())
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("status").first).to_have_text("Organization Globex created.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex")
    organization_id = page.get_by_test_id("organization-id").inner_text()

    # The only ORG_ADMIN can be neither demoted nor removed: the controls say why.
    alice_row = page.get_by_test_id(f"member-{alice['username']}")
    expect(alice_row.get_by_label("Role of Alice Admin")).to_be_disabled()
    expect(alice_row.get_by_role("button", name="Remove Alice Admin")).to_be_disabled()
    expect(alice_row.locator(".why")).to_have_text(LAST_ADMIN)
    expect(alice_row.get_by_role("button", name="Remove Alice Admin")).to_have_accessible_description(LAST_ADMIN)

    # Members are added by email (typed in any case) or username, with a role of the environment.
    page.get_by_label("Add an end user (email or username)").fill(f"  {bob['email'].upper()} ")
    page.get_by_label("Role", exact=True).select_option("READ_ONLY")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status").first).to_have_text("Bob Builder added as READ_ONLY.")
    expect(page.get_by_test_id("member-count")).to_have_text("2")
    assert member_roles(api, owner, organization_id) == {alice["username"]: "ORG_ADMIN", bob["username"]: "READ_ONLY"}

    bob_row = page.get_by_test_id(f"member-{bob['username']}")
    bob_row.get_by_label("Role of Bob Builder").select_option("ORG_ADMIN")
    bob_row.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status").first).to_have_text("Role changed to ORG_ADMIN.")
    expect(alice_row.get_by_label("Role of Alice Admin")).to_be_enabled()
    expect(alice_row.locator(".why")).to_have_count(0)
    alice_row.get_by_role("button", name="Remove Alice Admin").click()
    expect(page.get_by_role("status").first).to_contain_text("Member removed")
    expect(alice_row).to_have_count(0)
    expect(bob_row.locator(".why")).to_have_text(LAST_ADMIN)
    assert member_roles(api, owner, organization_id) == {bob["username"]: "ORG_ADMIN"}
    screenshot(page, "organization-detail")

    page.get_by_label("Organization name").fill("Globex Corporation")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status").first).to_have_text("Organization renamed to Globex Corporation.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Corporation")

    page.get_by_role("link", name="Delete organization").click()
    expect(page.get_by_test_id("delete-consequences")).to_contain_text("Globex Corporation")
    expect(page.get_by_test_id("delete-consequences")).to_contain_text("1 membership.")
    expect(page.get_by_test_id("delete-consequences")).to_contain_text("Refresh tokens issued for this organization")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Corporation")
    page.get_by_role("link", name="Delete organization").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").first).to_have_text("Organization deleted.")
    expect(page.get_by_text("No organizations yet.")).to_be_visible()
    gone = api.get(f"/environments/{owner.environment_id}/organizations/{organization_id}", headers=owner.auth)
    assert gone.status_code == 404
    assert api.get(f"/environments/{owner.environment_id}/accounts/{bob['id']}", headers=owner.auth).is_success
    page.goto("/console/activity")  # every change is audited by the organizations service
    for action in ("organization.created", "membership.added", "membership.role_changed", "membership.removed"):
        expect(page.locator("table.list tbody tr", has_text=action).first).to_contain_text(owner.name)
    expect(page.locator("table.list tbody tr", has_text="organization.deleted")).to_have_count(1)


def test_forms_name_what_is_wrong(page: Page, api: httpx.Client, owner: Owner) -> None:
    admin = create_end_user(api, owner, owner.environment_id)
    elsewhere = create_end_user(api, owner, create_environment(api, owner))
    create_organization(api, owner, admin["id"], "Taken")
    signed_in(page, owner)
    page.goto(organizations_path(owner) + "/new")
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator("#e-name")).to_have_text("This field is required.")
    expect(page.locator("#e-admin")).to_have_text("This field is required.")
    page.get_by_label("Organization name").fill("Taken")
    page.get_by_label("First ORG_ADMIN (email or username)").fill(elsewhere["email"])  # another environment's
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator("#e-admin")).to_have_text("No end user of this environment has this email or username.")
    page.get_by_label("First ORG_ADMIN (email or username)").fill(admin["email"])
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator("#e-name")).to_have_text("Another organization of this environment has this name.")

    page.get_by_label("Organization name").fill("Fresh")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fresh")
    page.get_by_label("Add an end user (email or username)").fill("nobody-at-all")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#e-member")).to_have_text("No end user of this environment has this email or username.")
    expect(page.get_by_label("Add an end user (email or username)")).to_have_value("nobody-at-all")
    page.get_by_label("Add an end user (email or username)").fill(admin["username"])
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#e-member")).to_have_text("This account is already a member of the organization.")


def test_search_and_pages(page: Page, api: httpx.Client, owner: Owner) -> None:
    admin = create_end_user(api, owner, owner.environment_id)
    tag = uuid.uuid4().hex[:4]
    for number in range(51):
        create_organization(api, owner, admin["id"], f"Team {number:02d} {tag}")
    create_organization(api, owner, admin["id"], "Zenith Labs")
    signed_in(page, owner)
    page.goto(organizations_path(owner))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text(f"Team 00 {tag}")
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"\?after=[0-9a-f-]{36}$"))
    expect(rows).to_have_count(2)
    expect(rows.last).to_contain_text("Zenith Labs")
    page.get_by_role("link", name="First page").click()
    expect(rows).to_have_count(50)
    screenshot(page, "organizations")

    page.get_by_label("Search organizations").fill("zen")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"\?q=zen$"))
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    page.get_by_label("Search organizations").fill("team 0")
    expect(rows).to_have_count(10)
    page.get_by_label("Search organizations").fill("%")
    expect(page.get_by_text("No organization's name starts with “%”.")).to_be_visible()

    page.goto(organizations_path(owner) + "?q=Team")  # without JavaScript: a plain GET that pages keep
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"after=[0-9a-f-]{36}&q=Team$"))
    expect(rows).to_have_count(1)


def test_user_role_sees_why_controls_are_disabled_and_forged_forms_are_refused(
    page: Page, api: httpx.Client, owner: Owner
) -> None:
    admin = create_end_user(api, owner, owner.environment_id, name="Org Admin")
    other = create_end_user(api, owner, owner.environment_id)
    organization_id = create_organization(api, owner, admin["id"], "Readable")
    reader = add_member(api, owner, "user")
    sign_in(page, owner.tenant_id, reader)
    page.goto(organizations_path(owner))
    expect(page.get_by_role("link", name="Create organization")).to_have_count(0)
    expect(page.get_by_text("This needs the admin role or higher.")).to_be_visible()
    page.get_by_role("link", name="Readable").click()
    expect(page.get_by_test_id("read-only")).to_contain_text("This needs the admin role or higher.")
    expect(page.get_by_label("Organization name")).to_be_disabled()
    expect(page.get_by_label("Add an end user (email or username)")).to_be_disabled()
    expect(page.get_by_test_id("why-add")).to_have_text("This needs the admin role or higher.")
    row = page.get_by_test_id(f"member-{admin['username']}")
    expect(row.get_by_label("Role of Org Admin")).to_be_disabled()
    expect(row.get_by_role("button", name="Remove Org Admin")).to_have_accessible_description(
        "This needs the admin role or higher."
    )
    expect(page.get_by_role("button", name="Delete organization")).to_be_disabled()
    expect(page.get_by_role("link", name="Delete organization")).to_have_count(0)

    csrf = csrf_of(page)
    base = f"{organizations_path(owner)}/{organization_id}"
    forged = {
        f"{organizations_path(owner)}/new": {"name": "Sneaky", "admin": admin["email"]},
        f"{base}/rename": {"name": "Sneaky"},
        f"{base}/members": {"member": other["email"], "role": "ORG_ADMIN"},
        f"{base}/members/{admin['id']}/role": {"role": "READ_ONLY"},
        f"{base}/members/{admin['id']}/remove": {},
        f"{base}/delete": {},
    }
    for path, fields in forged.items():
        response = page.request.post(path, form={"csrf": csrf, **fields}, max_redirects=0)
        assert response.status == 403, (path, response.status)
    assert page.request.get(f"{base}/delete").status == 403
    assert member_roles(api, owner, organization_id) == {admin["username"]: "ORG_ADMIN"}
    kept = api.get(f"/environments/{owner.environment_id}/organizations/{organization_id}", headers=owner.auth)
    assert kept.json()["name"] == "Readable"


def test_another_tenants_organization_is_not_found(page: Page, api: httpx.Client, owner: Owner) -> None:
    other = make_owner(api)
    theirs = create_end_user(api, other, other.environment_id)
    organization_id = create_organization(api, other, theirs["id"], "Theirs")
    signed_in(page, owner)
    for base in (organizations_path(owner), organizations_path(other)):
        for path in (f"/{organization_id}", f"/{organization_id}/delete"):
            response = page.goto(base + path)
            assert response is not None
            assert response.status == 404, base + path
            expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    response = page.goto(organizations_path(other))
    assert response is not None
    assert response.status == 404
    page.goto(organizations_path(owner))
    csrf = csrf_of(page)
    for base in (organizations_path(owner), organizations_path(other)):
        for path, fields in {
            "/delete": {},
            "/rename": {"name": "Stolen"},
            f"/members/{theirs['id']}/remove": {},
            "/members": {"member": theirs["email"]},
        }.items():
            forged = page.request.post(
                f"{base}/{organization_id}{path}", form={"csrf": csrf, **fields}, max_redirects=0
            )
            assert forged.status == 404, (base, path, forged.status)
    kept = api.get(f"/environments/{other.environment_id}/organizations/{organization_id}", headers=other.auth)
    assert kept.json()["name"] == "Theirs"
    assert member_roles(api, other, organization_id) == {theirs["username"]: "ORG_ADMIN"}


def test_hostile_names_are_shown_as_text(page: Page, api: httpx.Client, owner: Owner) -> None:
    opened = no_dialogs(page)
    admin = create_end_user(api, owner, owner.environment_id, name=HOSTILE)
    organization_id = create_organization(api, owner, admin["id"], HOSTILE)
    signed_in(page, owner)
    page.goto(organizations_path(owner))
    expect(page.locator("#results tbody tr").first.get_by_role("link")).to_have_text(HOSTILE)
    page.goto(f"{organizations_path(owner)}/{organization_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE)
    expect(page.get_by_test_id(f"member-{admin['username']}").get_by_role("link")).to_have_text(HOSTILE)
    page.get_by_label("Add an end user (email or username)").fill(HOSTILE)
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#e-member")).to_be_visible()
    expect(page.get_by_label("Add an end user (email or username)")).to_have_value(HOSTILE)
    page.goto(f"{organizations_path(owner)}/{organization_id}/delete")
    expect(page.get_by_test_id("delete-consequences")).to_contain_text(HOSTILE)
    assert page.locator("img[src=x]").count() == 0
    assert opened == []


def test_phone_width(phone: Page, api: httpx.Client, owner: Owner) -> None:
    admin = create_end_user(api, owner, owner.environment_id, email="a.rather.long.address.for.a.phone@example.com")
    organization_id = create_organization(api, owner, admin["id"], "Initech")
    signed_in(phone, owner)
    phone.goto(organizations_path(owner))
    expect(phone.get_by_role("link", name="Initech")).to_be_visible()
    screenshot(phone, "organizations")
    assert_fits(phone, "organizations")
    phone.goto(f"{organizations_path(owner)}/{organization_id}")
    expect(phone.get_by_role("button", name="Add member")).to_be_visible()
    screenshot(phone, "organization-detail")
    assert_fits(phone, "organization-detail")
