"""A relying party that no one here wrote runs the whole code flow against `sump serve`: Authlib's OAuth 2.0
client performs discovery, authorization with PKCE (S256) and a nonce through the hosted sign-in page in
Chromium, the code exchange (client_secret_basic), ID-token validation with Authlib's OpenID Connect claims
over joserfc's signature check against the JWKS (RS256, the default), userinfo, refresh, revocation and
RP-initiated logout."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from playwright.sync_api import Page

from tests.console.conftest import Owner, make_owner
from tests.support import PASSWORD

# A native relying party on this machine (RFC 8252): its loopback redirect URI is registered without a port and
# matches any; the browser lands on Sump's own origin, whose 404 page is as good as the app's for reading the URL.
REGISTERED_CALLBACK = "http://127.0.0.1/rp/callback"


def _end_user(api: httpx.Client, environment_id: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"Ada {tag}", "email": f"ada-{tag}@example.com", "username": f"ada_{tag}", "password": PASSWORD}
    created = api.post(f"/auth/environments/{environment_id}/signup", json=body)
    assert created.status_code == 201, created.text
    return body


def _application(api: httpx.Client, owner: Owner, after_logout: str) -> tuple[str, str]:
    body = {
        "name": "Relying Party",
        "purpose": "application",
        "redirectUris": [REGISTERED_CALLBACK],
        "postLogoutRedirectUris": [after_logout],
        "scopes": ["openid", "email", "profile"],
    }
    created = api.post(
        f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}/clients", json=body, headers=owner.auth
    )
    assert created.status_code == 201, created.text
    return created.json()["clientId"], created.json()["clientSecret"]


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _validated_id_token(rp: OAuth2Client, metadata: dict[str, Any], token: dict[str, Any], nonce: str) -> CodeIDToken:
    keys = KeySet.import_key_set(rp.request("GET", metadata["jwks_uri"], withhold_token=True).json())
    algorithms = metadata["id_token_signing_alg_values_supported"]
    decoded = jwt.decode(token["id_token"], key=keys, registry=JWSRegistry(algorithms=algorithms))
    assert decoded.header["alg"] == "RS256", "a registration that names no algorithm gets OpenID Connect's default"
    options = {"iss": {"values": [metadata["issuer"]]}}
    params = {"nonce": nonce, "client_id": rp.client_id, "access_token": token["access_token"]}
    claims = CodeIDToken(decoded.claims, decoded.header, options, params)
    claims.validate(leeway=30)
    return claims


def test_a_relying_party_runs_the_code_flow(page: Page, api: httpx.Client) -> None:
    owner = make_owner(api)
    user = _end_user(api, owner.environment_id)
    server = str(api.base_url).rstrip("/").removesuffix("/api/v1")
    callback, after_logout = f"{server}/rp/callback", f"{server}/rp/signed-out"
    client_id, secret = _application(api, owner, after_logout)

    with OAuth2Client(client_id, secret, scope="openid email profile", redirect_uri=callback) as rp:
        rp.code_challenge_method = "S256"
        discovery = f"{server}/api/v1/environments/{owner.environment_id}/.well-known/openid-configuration"
        metadata = rp.request("GET", discovery, withhold_token=True).json()
        assert metadata["issuer"] == f"{server}/api/v1/environments/{owner.environment_id}"
        assert "S256" in metadata["code_challenge_methods_supported"]

        verifier, nonce = generate_token(64), generate_token(24)
        url, state = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        page.goto(url)
        page.get_by_label("Email, username or phone").fill(user["email"])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(callback + "?**")
        back = page.url
        assert _query(back)["state"] == state
        assert _query(back)["iss"] == metadata["issuer"]  # RFC 9207

        token = rp.fetch_token(metadata["token_endpoint"], authorization_response=back, code_verifier=verifier)
        claims = _validated_id_token(rp, metadata, token, nonce)
        assert claims["aud"] == client_id
        assert claims["email"] == user["email"]

        info = rp.get(metadata["userinfo_endpoint"])
        assert info.status_code == 200, info.text
        assert info.json()["sub"] == claims["sub"]
        assert info.json()["preferred_username"] == user["username"]

        refreshed = rp.refresh_token(metadata["token_endpoint"])
        assert refreshed["access_token"] != token["access_token"]
        assert refreshed["refresh_token"] != token["refresh_token"]
        revoked = rp.revoke_token(metadata["revocation_endpoint"], token=refreshed["refresh_token"])
        assert revoked.status_code == 200
        with pytest.raises(OAuthError, match="invalid_grant"):
            rp.refresh_token(metadata["token_endpoint"], refresh_token=refreshed["refresh_token"])

        logout = {"id_token_hint": token["id_token"], "post_logout_redirect_uri": after_logout, "state": "bye"}
        page.goto(metadata["end_session_endpoint"] + "?" + urlencode(logout))
        page.wait_for_url(after_logout + "?**")
        assert _query(page.url) == {"state": "bye"}

        # The hosted session ended: a silent authorization now answers login_required.
        silent, silent_state = rp.create_authorization_url(
            metadata["authorization_endpoint"],
            code_verifier=generate_token(64),
            nonce=generate_token(24),
            prompt="none",
        )
        page.goto(silent)
        page.wait_for_url(callback + "?**")
        assert _query(page.url)["error"] == "login_required"
        assert _query(page.url)["state"] == silent_state
