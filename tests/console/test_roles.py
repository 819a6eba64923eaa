"""Console roles and permissions in a real browser: the catalog with the nine built-in permissions, custom
permissions created and deleted once no role grants them, custom roles created, edited and deleted once no
member holds them, each refusal shown on its disabled control; the read-only `user` role, another tenant's
environment, hostile descriptions and the phone width."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, screenshot, sign_in, signed_in
from tests.console.organization_pages import HOSTILE, create_organization, environment_path, no_dialogs
from tests.console.test_environments import add_member, create_end_user, csrf_of
from tests.console.test_layout import assert_fits

ADMIN_ONLY = "This needs the admin role or higher."


def roles_path(owner: Owner, environment_id: str | None = None) -> str:
    return environment_path(owner, environment_id) + "/roles"


def catalog_url(owner: Owner, what: str) -> str:
    return f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}/{what}"


def role_of(api: httpx.Client, owner: Owner, name: str) -> dict[str, object] | None:
    roles = api.get(catalog_url(owner, "roles"), headers=owner.auth).json()
    return next((role for role in roles if role["name"] == name), None)


def test_custom_permissions_and_roles(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto(environment_path(owner))
    page.get_by_role("navigation", name="Environment default").get_by_role("link", name="Roles and permissions").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Roles and permissions")
    expect(page.locator("table.permissions tbody tr")).to_have_count(9)
    expect(page.locator("table.roles tbody tr")).to_have_count(3)
    builtin = page.get_by_test_id("permission-projects:read")
    expect(builtin.get_by_role("button", name="Delete permission projects:read")).to_be_disabled()
    expect(builtin.locator(".why")).to_have_text("The built-in permissions cannot be deleted.")
    expect(page.get_by_test_id("role-ORG_USER").locator(".why")).to_have_text("The built-in roles cannot be deleted.")

    page.get_by_label("Permission name").fill("invoices:read")
    page.get_by_label("Description (optional)").last.fill("Read invoices")
    page.get_by_role("button", name="Create permission").click()
    expect(page.get_by_role("status").first).to_have_text("Permission invoices:read created.")
    invoices = page.get_by_test_id("permission-invoices:read")
    expect(invoices).to_contain_text("Read invoices")
    expect(invoices.get_by_role("button", name="Delete permission invoices:read")).to_be_enabled()

    page.get_by_label("Role name").fill("BILLING")
    page.get_by_label("Description (optional)").first.fill("Pays the bills")
    page.locator("#roles").get_by_label("invoices:read").check()
    page.locator("#roles").get_by_label("projects:read").check()
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("status").first).to_have_text("Role BILLING created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("BILLING")
    assert role_of(api, owner, "BILLING") == {
        **(role_of(api, owner, "BILLING") or {}),
        "permissions": ["invoices:read", "projects:read"],
        "description": "Pays the bills",
        "builtin": False,
    }

    page.get_by_role("link", name="← Roles and permissions of default").click()
    in_use = page.get_by_test_id("permission-invoices:read")
    expect(in_use.get_by_role("button", name="Delete permission invoices:read")).to_be_disabled()
    expect(in_use.locator(".why")).to_have_text("Roles grant this permission (BILLING): remove it from them first.")
    expect(in_use).to_contain_text("BILLING")
    screenshot(page, "roles")

    # A role that members hold cannot be deleted; once nobody holds it, it can.
    end_user = create_end_user(api, owner, owner.environment_id)
    organization_id = create_organization(api, owner, end_user["id"])
    holder = create_end_user(api, owner, owner.environment_id)
    added = api.post(
        f"/environments/{owner.environment_id}/organizations/{organization_id}/members",
        json={"accountId": holder["id"], "role": "BILLING"},
        headers=owner.auth,
    )
    assert added.status_code == 201, added.text
    page.get_by_role("link", name="BILLING").click()
    expect(page.get_by_test_id("holders")).to_have_text("1")
    expect(page.get_by_role("button", name="Delete role")).to_be_disabled()
    expect(page.get_by_test_id("why-delete")).to_have_text("Members hold this role: give them another role first.")
    page.get_by_label("invoices:read").uncheck()
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status").first).to_have_text("Role BILLING saved.")
    expect(page.get_by_label("invoices:read")).not_to_be_checked()
    expect(page.get_by_label("projects:read")).to_be_checked()
    assert (role_of(api, owner, "BILLING") or {})["permissions"] == ["projects:read"]

    page.get_by_role("link", name="← Roles and permissions of default").click()
    page.get_by_role("button", name="Delete permission invoices:read").click()
    expect(page.get_by_role("status").first).to_have_text("Permission invoices:read deleted.")
    expect(page.get_by_test_id("permission-invoices:read")).to_have_count(0)
    names = [permission["name"] for permission in api.get(catalog_url(owner, "permissions"), headers=owner.auth).json()]
    assert "invoices:read" not in names

    removed = api.delete(
        f"/environments/{owner.environment_id}/organizations/{organization_id}/members/{holder['id']}",
        headers=owner.auth,
    )
    assert removed.status_code == 204
    page.get_by_role("link", name="BILLING").click()
    page.get_by_role("button", name="Delete role").click()
    expect(page.get_by_role("status").first).to_have_text("Role BILLING deleted.")
    expect(page.get_by_test_id("role-BILLING")).to_have_count(0)
    assert role_of(api, owner, "BILLING") is None


def test_forms_name_what_is_wrong(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto(roles_path(owner))
    page.get_by_role("button", name="Create permission").click()
    expect(page.locator("#e-permissionName")).to_have_text("This field is required.")
    page.get_by_label("Permission name").fill("Invoices")
    page.get_by_role("button", name="Create permission").click()
    expect(page.locator("#e-permissionName")).to_be_visible()
    expect(page.get_by_label("Permission name")).to_have_value("Invoices")
    page.get_by_label("Permission name").fill("projects:read")
    page.get_by_role("button", name="Create permission").click()
    expect(page.locator("#e-permissionName")).to_have_text("The catalog already has this permission.")

    page.get_by_label("Role name").fill("ORG_ADMIN")
    page.get_by_role("button", name="Create role").click()
    expect(page.locator("#e-roleName")).to_have_text("The environment already has this role.")
    page.get_by_label("Role name").fill("9 lives")
    page.locator("#roles").get_by_label("audit:read").check()
    page.get_by_role("button", name="Create role").click()
    expect(page.locator("#e-roleName")).to_be_visible()
    expect(page.locator("#roles").get_by_label("audit:read")).to_be_checked()  # the choice is kept
    assert role_of(api, owner, "9 lives") is None


def test_user_role_sees_why_controls_are_disabled_and_forged_forms_are_refused(
    page: Page, api: httpx.Client, owner: Owner
) -> None:
    created = api.post(catalog_url(owner, "permissions"), json={"name": "reports:read"}, headers=owner.auth)
    assert created.status_code == 201, created.text
    reader = add_member(api, owner, "user")
    sign_in(page, owner.tenant_id, reader)
    page.goto(roles_path(owner))
    expect(page.get_by_test_id("read-only")).to_contain_text(ADMIN_ONLY)
    expect(page.get_by_label("Permission name")).to_be_disabled()
    expect(page.get_by_label("Role name")).to_be_disabled()
    expect(page.get_by_test_id("why-new-permission")).to_have_text(ADMIN_ONLY)
    custom = page.get_by_test_id("permission-reports:read")
    expect(custom.get_by_role("button", name="Delete permission reports:read")).to_be_disabled()
    expect(custom.locator(".why")).to_have_text(ADMIN_ONLY)
    page.get_by_role("link", name="ORG_USER").click()
    expect(page.get_by_label("Description")).to_be_disabled()
    expect(page.get_by_role("button", name="Save role")).to_be_disabled()
    expect(page.get_by_test_id("why-edit")).to_have_text(ADMIN_ONLY)

    csrf = csrf_of(page)
    base = environment_path(owner)
    forged = {
        f"{base}/permissions/new": {"permissionName": "sneaky:read"},
        f"{base}/permissions/reports:read/delete": {},
        f"{base}/roles/new": {"roleName": "SNEAKY"},
        f"{base}/roles/ORG_USER": {"description": "sneaky", "permissions": "audit:read"},
        f"{base}/roles/ORG_USER/delete": {},
    }
    for path, fields in forged.items():
        response = page.request.post(path, form={"csrf": csrf, **fields}, max_redirects=0)
        assert response.status == 403, (path, response.status)
    names = [permission["name"] for permission in api.get(catalog_url(owner, "permissions"), headers=owner.auth).json()]
    assert "reports:read" in names
    assert "sneaky:read" not in names
    assert role_of(api, owner, "SNEAKY") is None
    assert "audit:read" not in (role_of(api, owner, "ORG_USER") or {})["permissions"]  # type: ignore[operator]


def test_another_tenants_environment_is_not_found(page: Page, api: httpx.Client, owner: Owner) -> None:
    other = make_owner(api)
    signed_in(page, owner)
    for path in ("", "/ORG_ADMIN"):
        response = page.goto(roles_path(other) + path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    for path in ("/NO_SUCH_ROLE", "/not%20a%20role"):
        response = page.goto(roles_path(owner) + path)
        assert response is not None
        assert response.status == 404, path
    page.goto(roles_path(owner))
    csrf = csrf_of(page)
    base = environment_path(other)
    for path, fields in {
        "/permissions/new": {"permissionName": "stolen:read"},
        "/permissions/projects:read/delete": {},
        "/roles/new": {"roleName": "STOLEN"},
        "/roles/ORG_USER": {"permissions": "audit:read"},
        "/roles/ORG_USER/delete": {},
    }.items():
        forged = page.request.post(base + path, form={"csrf": csrf, **fields}, max_redirects=0)
        assert forged.status == 404, (path, forged.status)
    roles = api.get(f"/tenants/{other.tenant_id}/environments/{other.environment_id}/roles", headers=other.auth)
    assert [role["name"] for role in roles.json()] == ["ORG_ADMIN", "ORG_USER", "READ_ONLY"]


def test_hostile_descriptions_are_shown_as_text(page: Page, api: httpx.Client, owner: Owner) -> None:
    opened = no_dialogs(page)
    created = api.post(
        catalog_url(owner, "permissions"), json={"name": "evil:read", "description": HOSTILE}, headers=owner.auth
    )
    assert created.status_code == 201, created.text
    role = api.post(catalog_url(owner, "roles"), json={"name": "EVIL", "description": HOSTILE}, headers=owner.auth)
    assert role.status_code == 201, role.text
    signed_in(page, owner)
    page.goto(roles_path(owner))
    expect(page.get_by_test_id("permission-evil:read")).to_contain_text(HOSTILE)
    expect(page.get_by_test_id("role-EVIL")).to_contain_text(HOSTILE)
    page.get_by_role("link", name="EVIL").click()
    expect(page.get_by_label("Description")).to_have_value(HOSTILE)
    assert page.locator("img[src=x]").count() == 0
    assert opened == []


def test_phone_width(phone: Page, owner: Owner) -> None:
    signed_in(phone, owner)
    phone.goto(roles_path(owner))
    expect(phone.get_by_role("button", name="Create role")).to_be_visible()
    screenshot(phone, "roles")
    assert_fits(phone, "roles")
    phone.goto(roles_path(owner) + "/ORG_ADMIN")
    expect(phone.get_by_role("button", name="Save role")).to_be_visible()
    screenshot(phone, "role-detail")
    assert_fits(phone, "role-detail")
