"""Console clients in a real browser: an environment's Clients tab (an application registered with its secret
shown once, edited, its secret rotated, deleted after a confirmation page; a machine client with its audience and
permissions), the tenant's automation clients (owners only), the read-only `user` role, another tenant's client,
and the phone width."""

from __future__ import annotations

import base64

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, screenshot, sign_in, signed_in
from tests.console.organization_pages import environment_path, no_dialogs
from tests.console.test_environments import add_member
from tests.console.test_layout import assert_fits


def clients_api(owner: Owner) -> str:
    return f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}/clients"


def client_token(api: httpx.Client, owner: Owner, client_id: str, secret: str) -> httpx.Response:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return api.post(
        f"/auth/tenants/{owner.tenant_id}/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )


def test_application_lifecycle(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto(environment_path(owner))
    page.get_by_role("navigation", name="Environment default").get_by_role("link", name="Clients").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clients")

    form = page.locator("#new-application")
    form.get_by_label("Name", exact=True).fill("Web shop")
    form.get_by_label("Redirect URIs", exact=True).fill("http://app.example.com/callback")
    form.get_by_role("button", name="Create application").click()
    expect(form.locator("#e-redirectUris")).to_contain_text("must be https")
    form.get_by_label("Redirect URIs", exact=True).fill("https://shop.example.com/callback\nhttp://127.0.0.1/callback")
    form.get_by_label("email").check()
    form.get_by_role("button", name="Create application").click()

    secret = page.get_by_test_id("client-secret").input_value()
    assert len(secret) == 43
    client_id = page.get_by_test_id("client-id").inner_text().replace("\u200b", "")
    screenshot(page, "client-secret")
    registered = api.get(clients_api(owner), headers=owner.auth).json()
    assert [(item["name"], item["redirectUris"], item["scopes"]) for item in registered] == [
        ("Web shop", ["https://shop.example.com/callback", "http://127.0.0.1/callback"], ["openid", "email"])
    ]
    assert registered[0]["idTokenSignedResponseAlg"] == "RS256"  # the form's default, as the API's
    assert registered[0]["clientId"] == client_id

    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_test_id("client-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(page.get_by_label("RS256")).to_be_checked()
    page.get_by_label("First party").uncheck()
    page.get_by_label("Refresh tokens").uncheck()
    page.get_by_label("ES256").check()
    page.get_by_label("Redirect URIs", exact=True).fill("https://shop.example.com/new")
    page.get_by_role("button", name="Save client").click()
    expect(page.get_by_role("status").first).to_have_text("Client Web shop saved.")
    changed = api.get(f"{clients_api(owner)}/{registered[0]['id']}", headers=owner.auth).json()
    assert changed["firstParty"] is False
    assert changed["idTokenSignedResponseAlg"] == "ES256"
    expect(page.get_by_label("ES256")).to_be_checked()
    assert changed["grantTypes"] == ["authorization_code"]
    assert changed["redirectUris"] == ["https://shop.example.com/new"]

    page.get_by_label("Overlap (hours)").fill("0")
    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_test_id("client-secret").input_value()
    assert rotated != secret

    page.get_by_role("link", name="Continue").click()
    page.get_by_role("link", name="Delete client").click()
    expect(page.get_by_test_id("delete-consequences")).to_contain_text("Web shop")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").first).to_have_text("Client Web shop deleted.")
    assert api.get(clients_api(owner), headers=owner.auth).json() == []


def test_machine_client_and_public_application(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto(environment_path(owner) + "/clients")
    machine = page.locator("#new-machine")
    machine.get_by_label("Machine client name").fill("Billing worker")
    machine.get_by_role("button", name="Create machine client").click()
    expect(machine.locator("#e-audience")).to_have_text("This field is required.")
    expect(machine.get_by_label("Machine client name")).to_have_value("Billing worker")
    machine.get_by_label("Audience").fill("https://api.example.com")
    machine.get_by_label("projects:read").check()
    machine.get_by_role("button", name="Create machine client").click()
    expect(page.get_by_test_id("client-secret")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_label("Audience")).to_have_value("https://api.example.com")
    expect(page.get_by_label("projects:read")).to_be_checked()
    expect(page.get_by_label("Redirect URIs", exact=True)).to_have_count(0)

    page.goto(environment_path(owner) + "/clients")
    application = page.locator("#new-application")
    application.get_by_label("Name", exact=True).fill("Mobile app")
    application.get_by_label("Public").check()
    application.get_by_label("Redirect URIs", exact=True).fill("http://127.0.0.1/callback")
    application.get_by_role("button", name="Create application").click()
    expect(page.get_by_test_id("no-secret")).to_be_visible()
    kinds = {item["name"]: item["kind"] for item in api.get(clients_api(owner), headers=owner.auth).json()}
    assert kinds == {"Billing worker": "confidential", "Mobile app": "public"}


def test_automation_clients(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Automation clients").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Automation clients")
    page.get_by_label("Name", exact=True).fill("Nightly sync")
    page.get_by_label("environments:read").check()
    page.get_by_role("button", name="Create automation client").click()
    secret = page.get_by_test_id("client-secret").input_value()
    client_id = page.get_by_test_id("client-id").inner_text().replace("\u200b", "")
    issued = client_token(api, owner, client_id, secret)
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "environments:read"


def test_read_only_roles(page: Page, api: httpx.Client, owner: Owner) -> None:
    created = api.post(
        clients_api(owner),
        json={"purpose": "application", "name": "Shop", "redirectUris": ["https://shop.example.com/cb"]},
        headers=owner.auth,
    )
    assert created.status_code == 201
    email = add_member(api, owner, "user")
    sign_in(page, owner.tenant_id, email)
    page.goto(environment_path(owner) + "/clients")
    expect(page.get_by_test_id("read-only")).to_contain_text("This needs the admin role or higher.")
    expect(page.get_by_role("button", name="Create application")).to_be_disabled()
    page.get_by_role("link", name="Shop").click()
    expect(page.get_by_role("button", name="Save client")).to_be_disabled()
    expect(page.get_by_role("button", name="Rotate secret")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete client")).to_be_disabled()
    page.goto("/console/automation-clients")
    expect(page.get_by_role("button", name="Create automation client")).to_be_disabled()
    expect(page.get_by_test_id("why-new-automation")).to_have_text("This needs the owner role or higher.")


def test_another_tenants_client_is_not_found(page: Page, api: httpx.Client, owner: Owner) -> None:
    created = api.post(
        clients_api(owner),
        json={"purpose": "application", "name": "Shop", "redirectUris": ["https://shop.example.com/cb"]},
        headers=owner.auth,
    )
    assert created.status_code == 201
    stranger = make_owner(api)
    signed_in(page, stranger)
    response = page.goto(f"{environment_path(owner)}/clients/{created.json()['id']}")
    assert response is not None
    assert response.status == 404
    response = page.goto(f"/console/automation-clients/{created.json()['id']}")
    assert response is not None
    assert response.status == 404


def test_phone_width(phone: Page, api: httpx.Client, owner: Owner) -> None:
    no_dialogs(phone)
    api.post(
        clients_api(owner),
        json={"purpose": "application", "name": "Shop", "redirectUris": ["https://shop.example.com/callback"]},
        headers=owner.auth,
    )
    signed_in(phone, owner)
    phone.goto(environment_path(owner) + "/clients")
    assert_fits(phone, "clients")
    screenshot(phone, "clients")
    phone.get_by_role("link", name="Shop").click()
    assert_fits(phone, "client")
    phone.goto("/console/automation-clients")
    assert_fits(phone, "automation clients")
