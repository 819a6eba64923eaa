"""A passkey on the hosted sign-in page in Chromium, at phone width, with a virtual authenticator (DevTools'
WebAuthn domain), against the console's `sump serve` on localhost: the environment's relying party is
`localhost` with the server's origin; the end user registers a passkey through the API from the page's
origin, then the page's "Sign in with a passkey" signs them in through the shared script."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import PHONE, make_owner
from tests.console.test_passkeys import local_api, localhost_server, with_authenticator  # noqa: F401  (fixtures)
from tests.hosted.browser.test_pages import fits
from tests.servers import Server
from tests.support import PASSWORD

REGISTER = """async ([base, token]) => {
  const auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"};
  const options = await (await fetch(base + "/me/factors/passkey/options", {method: "POST", headers: auth})).json();
  const created = await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
  });
  const body = JSON.stringify({credential: created.toJSON(), label: "phone"});
  return (await fetch(base + "/me/factors/passkey", {method: "POST", headers: auth, body})).status;
}"""


@pytest.fixture
def key_phone(browser: Browser, localhost_server: Server) -> Iterator[Page]:  # noqa: F811
    yield from with_authenticator(browser, localhost_server, PHONE)


def test_a_passkey_signs_in_on_the_hosted_page(
    key_phone: Page,
    local_api: httpx.Client,  # noqa: F811
    localhost_server: Server,  # noqa: F811
) -> None:
    owner = make_owner(local_api)
    settings = {"passkeyRpId": "localhost", "passkeyOrigins": [localhost_server.base_url]}
    url = f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}"
    assert local_api.patch(url, json={"settings": settings}, headers=owner.auth).status_code == 204
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"Hedy {tag}", "email": f"hedy-{tag}@example.com", "username": f"hedy_{tag}", "password": PASSWORD}
    created = local_api.post(f"/auth/environments/{owner.environment_id}/signup", json=body)
    assert created.status_code == 201, created.text

    key_phone.goto(f"/api/v1/environments/{owner.environment_id}/hosted/sign-in")
    api_base = f"/api/v1/auth/environments/{owner.environment_id}"
    assert key_phone.evaluate(REGISTER, [api_base, created.json()["token"]]) == 201
    button = key_phone.get_by_role("button", name="Sign in with a passkey")
    expect(button).to_be_visible()
    fits(key_phone, "passkey-sign-in-phone")
    button.click()
    expect(key_phone.get_by_test_id("signed-in-as")).to_have_text(body["name"])
