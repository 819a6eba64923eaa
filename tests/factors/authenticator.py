"""A real WebAuthn client for API tests: Debian's Chromium with a virtual authenticator (Chrome DevTools protocol
`WebAuthn.addVirtualAuthenticator`, through Playwright's CDP session), on a small blank page served by Playwright
itself at a `localhost` origin (a secure context). The server's options go in, `PublicKeyCredential.toJSON()`
comes out; no verifier is mocked. The async API, so it shares the test's event loop."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import CDPSession, Page, Route, async_playwright

from tests.console.conftest import CHROMIUM, CHROMIUM_FLAGS  # the browser the console tests use

ORIGIN = "http://localhost:8123"
# Other sites (Playwright answers their requests itself, so no certificate or DNS is involved), for relying-party
# ids that are registrable domains rather than localhost.
OTHER_SITE = "https://app.example.test"
SIBLING_SITE = "https://www.example.test"
PAGE = "<!doctype html><html><head><title>passkeys</title></head><body>passkeys</body></html>"

CREATE = """async (options) => {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
  const credential = await navigator.credentials.create({publicKey});
  return credential.toJSON();
}"""
GET = """async (options) => {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
  const credential = await navigator.credentials.get({publicKey});
  return credential.toJSON();
}"""


class Authenticator:
    """One virtual platform authenticator (resident keys, user verification) seen from pages of any origin."""

    def __init__(self, page: Page, cdp: CDPSession, authenticator_id: str) -> None:
        self.page = page
        self.cdp = cdp
        self.id = authenticator_id

    async def at(self, origin: str) -> None:
        await self.page.goto(origin + "/")

    async def create(self, options: dict[str, Any], origin: str = ORIGIN, **overrides: Any) -> dict[str, Any]:
        """Registers a passkey with the server's creation options (`publicKey`), from a page of `origin`."""
        await self.at(origin)
        options = {**options, **overrides}
        result: dict[str, Any] = await self.page.evaluate(CREATE, options)
        return result

    async def get(self, options: dict[str, Any], origin: str = ORIGIN, **overrides: Any) -> dict[str, Any]:
        """Signs the server's request options (`publicKey`) with a passkey, from a page of `origin`."""
        await self.at(origin)
        options = {**options, **overrides}
        result: dict[str, Any] = await self.page.evaluate(GET, options)
        return result

    async def credentials(self) -> list[dict[str, Any]]:
        found = await self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        credentials: list[dict[str, Any]] = found["credentials"]
        return credentials

    async def replace(self, credential: dict[str, Any]) -> None:
        """Puts `credential` (as `getCredentials` lists it, changed) in place of the one of its id."""
        await self.cdp.send(
            "WebAuthn.removeCredential", {"authenticatorId": self.id, "credentialId": credential["credentialId"]}
        )
        await self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})

    async def set_user_verified(self, verified: bool) -> None:
        await self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified})


def b64url(data: str) -> str:
    """The base64url form of a credential id as the DevTools protocol lists it (plain base64)."""
    return base64.urlsafe_b64encode(base64.b64decode(data)).rstrip(b"=").decode()


@asynccontextmanager
async def virtual_authenticator(
    *, user_verification: bool = True, transport: str = "internal"
) -> AsyncIterator[Authenticator]:
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context()

            async def serve(route: Route) -> None:
                await route.fulfill(status=200, content_type="text/html", body=PAGE)

            await context.route("**/*", serve)
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("WebAuthn.enable", {"enableUI": False})
            added = await cdp.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "ctap2Version": "ctap2_1",
                        "transport": transport,
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": user_verification,
                        "automaticPresenceSimulation": True,
                    }
                },
            )
            yield Authenticator(page, cdp, added["authenticatorId"])
        finally:
            await browser.close()
