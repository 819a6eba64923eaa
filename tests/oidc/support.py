"""The code flow from a relying party's side, through the ASGI app: clients registered through the API, an
end user signed in on the hosted pages (the `sump_hosted` cookie of a session of theirs), PKCE, the redirects."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.kit.crypto import sign_cookie
from sump.oidc import repository as oidc_repository
from tests.clients.support import application, register
from tests.support import SECRET, EndUser, TenantWorld

CALLBACK = "https://app.example.com/callback"
AFTER_LOGOUT = "https://app.example.com/signed-out"


@dataclass
class RP:
    """A registered application, as its relying party knows it."""

    world: TenantWorld
    environment_id: str
    client_id: str
    secret: str | None
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    id_token_algorithm: str = "RS256"  # the default of a registration that names none

    @property
    def issuer(self) -> str:
        return f"http://sump.test/api/v1/environments/{self.environment_id}"

    @property
    def token_url(self) -> str:
        return f"/api/v1/auth/environments/{self.environment_id}/token"

    @property
    def basic(self) -> dict[str, str]:
        assert self.secret is not None
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def query(self, **overrides: str | None) -> dict[str, str]:
        """An authorization request's parameters; None leaves one out."""
        values: dict[str, str | None] = {
            "client_id": self.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid email profile",
            "state": "st-" + uuid.uuid4().hex,
            "nonce": "n-" + uuid.uuid4().hex,
            "code_challenge": create_s256_code_challenge(self.verifier),
            "code_challenge_method": "S256",
        }
        values.update(overrides)
        return {key: value for key, value in values.items() if value is not None}


async def new_rp(http: httpx.AsyncClient, world: TenantWorld, environment_id: str | None = None, **body: Any) -> RP:
    environment = environment_id or world.environment_id
    defaults = {"postLogoutRedirectUris": [AFTER_LOGOUT], "scopes": ["openid", "email", "profile", "phone"]}
    created = await register(http, world, application(**(defaults | body)), environment)
    rp = RP(world, environment, created["clientId"], created["clientSecret"])
    rp.id_token_algorithm = created["idTokenSignedResponseAlg"]
    return rp


def hosted(user: EndUser) -> dict[str, str]:
    """The cookie header of the hosted pages' session, as a sign-in there sets it."""
    return {"Cookie": f"sump_hosted={sign_cookie(SECRET, user.token)}"}


async def authorize(
    http: httpx.AsyncClient, rp: RP, user: EndUser | None = None, **overrides: str | None
) -> httpx.Response:
    url = f"/api/v1/environments/{rp.environment_id}/authorize"
    return await http.get(url, params=rp.query(**overrides), headers=hosted(user) if user else {})


def answer(response: httpx.Response) -> dict[str, str]:
    """The parameters of a redirect back to the client."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def code_for(http: httpx.AsyncClient, rp: RP, user: EndUser, **overrides: str | None) -> str:
    found = answer(await authorize(http, rp, user, **overrides))
    assert "code" in found, found
    return found["code"]


async def exchange(
    http: httpx.AsyncClient, rp: RP, code: str, *, verifier: str | None = "", **form: str
) -> httpx.Response:
    """The token request of the code (client_secret_basic for a confidential client, client_id alone for a
    public one); `verifier` None leaves code_verifier out."""
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **form}
    if verifier is not None:
        body["code_verifier"] = verifier or rp.verifier
    headers = rp.basic if rp.secret else {}
    if not rp.secret:
        body.setdefault("client_id", rp.client_id)
    return await http.post(rp.token_url, data=body, headers=headers)


async def tokens_for(http: httpx.AsyncClient, rp: RP, user: EndUser, **overrides: str | None) -> dict[str, Any]:
    response = await exchange(http, rp, await code_for(http, rp, user, **overrides))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def verified_id_token(http: httpx.AsyncClient, rp: RP, token: str) -> dict[str, Any]:
    """The ID token's claims, checked against the environment's JWKS (the key's own algorithm, which must be the
    one the client registered), the issuer and the client as audience."""
    keys = (await http.get(f"/api/v1/environments/{rp.environment_id}/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(key for key in keys["keys"] if key["kid"] == kid)
    assert key["alg"] == rp.id_token_algorithm
    claims: dict[str, Any] = jwt.decode(
        token, jwt.PyJWK(key).key, algorithms=[rp.id_token_algorithm], audience=rp.client_id, issuer=rp.issuer
    )
    return claims


def used_by_another_after_read(monkeypatch: pytest.MonkeyPatch, reader: str, table: Any) -> None:
    """The order that a race makes, fixed: `oidc.repository.<reader>` reads its row (a request or a code) unused,
    and another request's update marking it used lands just after, while the row read stays as read."""
    read = getattr(oidc_repository, reader)

    async def read_then_used_by_another(db: AsyncSession, environment_id: uuid.UUID, digest: bytes) -> Any:
        row = await read(db, environment_id, digest)
        if row is not None:
            used = update(table).where(table.id == row.id).values(used_at=utcnow())
            await db.execute(used.execution_options(synchronize_session=False))  # the row read stays as read
        return row

    monkeypatch.setattr(oidc_repository, reader, read_then_used_by_another)
