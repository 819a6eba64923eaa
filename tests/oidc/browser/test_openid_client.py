"""A second relying party that no one here wrote: openid-client (Node.js, OpenID Certified), run against
`sump serve` with Chromium at the hosted sign-in page. It discovers the provider, builds the authorization
request (PKCE S256, nonce, state), checks the response's `iss` (RFC 9207), exchanges the code and validates
the ID token against the JWKS (its signature, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`), then calls userinfo
(the subject must match), introspection, refresh, revocation and builds the end-session URL; and a machine
client takes a client_credentials grant. openid-client is strict where Authlib is lenient (content types,
the authorization response's `iss`, the refreshed ID token's `sub` and `aud`), so each is a check of Sump."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page

from tests.console.conftest import Owner, make_owner
from tests.support import PASSWORD

RELYING_PARTY = Path(__file__).resolve().parents[1] / "relying_party"
CALLBACK = "http://127.0.0.1/rp/callback"  # loopback without a port: matches any (RFC 8252)


def _run(step: str, **fields: Any) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "Node.js is needed: the machine has it (`node --version`)"
    assert (RELYING_PARTY / "node_modules" / "openid-client").is_dir(), "`make test` installs it (npm ci)"
    finished = subprocess.run(  # noqa: S603
        [node, str(RELYING_PARTY / "relying_party.mjs"), json.dumps({"step": step, **fields})],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    answer: dict[str, Any] = json.loads(finished.stdout)
    return answer


def _end_user(api: httpx.Client, environment_id: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    body = {
        "name": f"Grace {tag}",
        "email": f"grace-{tag}@example.com",
        "username": f"grace_{tag}",
        "password": PASSWORD,
    }
    created = api.post(f"/auth/environments/{environment_id}/signup", json=body)
    assert created.status_code == 201, created.text
    return body


def _client(api: httpx.Client, owner: Owner, body: dict[str, Any]) -> dict[str, Any]:
    url = f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}/clients"
    created = api.post(url, json={"name": f"rp-{uuid.uuid4().hex[:6]}", **body}, headers=owner.auth)
    assert created.status_code == 201, created.text
    registered: dict[str, Any] = created.json()
    return registered


def _signed_in_callback(page: Page, url: str, user: dict[str, str] | None) -> str:
    """Follows the authorization request in Chromium, signing in when the hosted page asks, to the callback."""
    page.goto(url)
    if user is not None:
        page.get_by_label("Email, username or phone").fill(user["email"])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/rp/callback?**")
    return page.url


@pytest.mark.parametrize(("kind", "algorithm"), [("confidential", "RS256"), ("public", "ES256")])
def test_openid_client_runs_the_code_flow(page: Page, api: httpx.Client, kind: str, algorithm: str) -> None:
    owner = make_owner(api)
    user = _end_user(api, owner.environment_id)
    server = str(api.base_url).rstrip("/").removesuffix("/api/v1")
    issuer = f"{server}/api/v1/environments/{owner.environment_id}"
    after_logout = f"{server}/rp/signed-out"
    registered = _client(
        api,
        owner,
        {
            "purpose": "application",
            "kind": kind,
            "redirectUris": [CALLBACK],
            "postLogoutRedirectUris": [after_logout],
            "scopes": ["openid", "email", "profile", "offline_access"],
            "idTokenSignedResponseAlg": algorithm,
        },
    )
    rp = {"issuer": issuer, "clientId": registered["clientId"], "secret": registered.get("clientSecret")}
    assert (rp["secret"] is None) == (kind == "public")
    callback = f"{server}/rp/callback"

    started = _run("start", **rp, redirectUri=callback, scope="openid email profile offline_access")
    back = _signed_in_callback(page, started["url"], user)
    assert parse_qs(urlsplit(back).query)["iss"] == [issuer]

    done = _run("finish", **rp, callback=back, **{k: started[k] for k in ("verifier", "nonce", "state")},
                postLogoutRedirectUri=after_logout)  # fmt: skip
    assert "error" not in done, done
    assert done["tokenType"].lower() == "bearer"
    assert done["algorithm"] == algorithm
    claims = done["claims"]
    assert claims["iss"] == issuer
    assert claims["aud"] == registered["clientId"]
    assert claims["nonce"] == started["nonce"]
    assert claims["email"] == user["email"]
    assert claims["amr"] == ["pwd"]
    assert done["userinfo"]["sub"] == claims["sub"]
    assert done["userinfo"]["preferred_username"] == user["username"]
    assert done["refreshedDiffers"]
    # A refreshed ID token names the same subject and audience, and no nonce (OpenID Connect Core 12.2).
    refreshed = done["refreshedClaims"]
    if refreshed is not None:
        assert (refreshed["sub"], refreshed["aud"]) == (claims["sub"], claims["aud"])
        assert "nonce" not in refreshed
    # Revoked, the refresh token is refused; the code was single-use.
    assert done["afterRevocation"]["error"] == "invalid_grant"
    assert done["replayedCode"]["error"] == "invalid_grant"
    if kind == "confidential":
        assert done["introspected"]["active"] is True
        assert done["introspected"]["sub"] == claims["sub"]
        assert done["introspected"]["client_id"] == registered["clientId"]

    # The end-session URL openid-client built signs the browser out and returns to the registered address.
    page.goto(done["endSession"])
    page.wait_for_url(after_logout + "?**")
    assert parse_qs(urlsplit(page.url).query) == {"state": ["bye"]}


def test_openid_client_is_refused_a_wrong_secret_and_a_stolen_code(page: Page, api: httpx.Client) -> None:
    owner = make_owner(api)
    user = _end_user(api, owner.environment_id)
    server = str(api.base_url).rstrip("/").removesuffix("/api/v1")
    issuer = f"{server}/api/v1/environments/{owner.environment_id}"
    body = {"purpose": "application", "redirectUris": [CALLBACK], "scopes": ["openid", "email"]}
    victim, thief = _client(api, owner, body), _client(api, owner, body)
    callback = f"{server}/rp/callback"

    started = _run("start", issuer=issuer, clientId=victim["clientId"], secret=victim["clientSecret"],
                   redirectUri=callback, scope="openid email")  # fmt: skip
    back = _signed_in_callback(page, started["url"], user)
    checks = {k: started[k] for k in ("verifier", "nonce", "state")}

    wrong = _run("finish", issuer=issuer, clientId=victim["clientId"], secret="not-the-secret", callback=back,
                 postLogoutRedirectUri=callback, **checks)  # fmt: skip
    # 401 with a challenge (RFC 6749 §5.2: the client authenticated by Basic), which openid-client reads first.
    assert (wrong["status"], wrong["challenge"]) == (401, "basic")
    # Another client of the same environment, with its own right secret and the victim's verifier, gets nothing.
    stolen = _run("finish", issuer=issuer, clientId=thief["clientId"], secret=thief["clientSecret"], callback=back,
                  postLogoutRedirectUri=callback, **checks)  # fmt: skip
    assert stolen["error"] == "invalid_grant"


def test_openid_client_takes_a_client_credentials_grant(api: httpx.Client) -> None:
    owner = make_owner(api)
    server = str(api.base_url).rstrip("/").removesuffix("/api/v1")
    registered = _client(api, owner, {"purpose": "machine", "audience": "https://api.example.com"})

    done = _run("machine", issuer=f"{server}/api/v1/environments/{owner.environment_id}",
                clientId=registered["clientId"], secret=registered["clientSecret"])  # fmt: skip
    assert "error" not in done, done
    assert done["tokenType"].lower() == "bearer"
    assert 0 < done["expiresIn"] <= 3600
    assert done["hasRefreshToken"] is False
    assert done["introspected"]["active"] is True
    assert done["introspected"]["client_id"] == registered["clientId"]
    assert done["introspected"]["aud"] in ("https://api.example.com", ["https://api.example.com"])
