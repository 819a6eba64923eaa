"""A third-party client's access token reads userinfo and nothing else: its audience is the userinfo endpoint,
so the builder's APIs (through the SDK) and Sump's end-user routes refuse it, and it carries none of the end
user's organization, roles, permissions or metadata. A first-party client's token keeps them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.clients import Client, Consent
from sump.sdk import JwksVerifier, TokenError
from tests.oidc.support import RP, new_rp, tokens_for
from tests.organizations.support import create_org
from tests.support import EndUser, TenantWorld, bearer

SCOPE = "openid email"
OFFLINE = "openid email offline_access"


@pytest.fixture
async def sump_http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sump.test") as http:
        yield http


async def _consented(db: AsyncSession, rp: RP, user: EndUser, scope: str) -> None:
    """The end user allowed the client these scopes before (as the consent page records it)."""
    client_pk = await db.scalar(select(Client.id).where(Client.client_id == rp.client_id))
    assert client_pk is not None
    environment_id, account_id = uuid.UUID(rp.environment_id), uuid.UUID(user.account_id)
    db.add(Consent(environment_id=environment_id, account_id=account_id, client_pk=client_pk, scopes=scope.split()))
    await db.commit()


async def _tokens(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, *, first_party: bool, scope: str = SCOPE
) -> tuple[RP, EndUser, dict[str, Any]]:
    scopes = ["openid", "email", "profile", "phone", "offline_access"]
    rp = await new_rp(client, world, firstParty=first_party, scopes=scopes)
    user = await world.add_end_user(world.environment_id)
    await create_org(client, user)  # the user's one membership: ORG_ADMIN
    if not first_party:
        await _consented(db, rp, user, scope)
    return rp, user, await tokens_for(client, rp, user, scope=scope)


async def test_a_third_party_token_is_for_userinfo_only(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, sump_http: httpx.AsyncClient
) -> None:
    rp, user, body = await _tokens(client, world, db, first_party=False)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == f"http://sump.test/api/v1/environments/{rp.environment_id}/userinfo"
    assert (claims["org_id"], claims["roles"], claims["permissions"], claims["metadata"]) == (None, [], [], {})
    userinfo = await client.get(
        f"/api/v1/environments/{rp.environment_id}/userinfo", headers=bearer(body["access_token"])
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == user.account_id
    verifier = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=sump_http)
    with pytest.raises(TokenError):
        await verifier.verify(body["access_token"])
    me = await client.get(f"/api/v1/auth/environments/{rp.environment_id}/me", headers=bearer(body["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "invalid_token"
    assert "refresh_token" not in body  # no offline_access asked: no access while the user is away


async def test_introspection_shows_a_third_party_client_its_own_access_token(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """The token's audience is the userinfo endpoint, not the environment: its own client sees it active, and
    another client of the environment still sees it inactive."""
    rp, user, body = await _tokens(client, world, db, first_party=False)
    url = f"{rp.token_url}/introspect"
    shown = (await client.post(url, data={"token": body["access_token"]}, headers=rp.basic)).json()
    assert shown["active"] is True
    assert (shown["client_id"], shown["sub"], shown["scope"]) == (rp.client_id, user.account_id, SCOPE)
    assert shown["aud"] == f"http://sump.test/api/v1/environments/{rp.environment_id}/userinfo"
    other = await new_rp(client, world)
    hidden = await client.post(url, data={"token": body["access_token"]}, headers=other.basic)
    assert hidden.json() == {"active": False}


async def test_a_third_party_refresh_keeps_the_userinfo_audience(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp, _, body = await _tokens(client, world, db, first_party=False, scope=OFFLINE)
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    refreshed = await client.post(rp.token_url, data=form, headers=rp.basic)
    assert refreshed.status_code == 200, refreshed.text
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"].endswith("/userinfo")
    assert (claims["roles"], claims["permissions"]) == ([], [])


async def test_a_first_party_token_acts_for_the_user(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, sump_http: httpx.AsyncClient
) -> None:
    _, _, body = await _tokens(client, world, db, first_party=True)
    verifier = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=sump_http)
    principal = await verifier.verify(body["access_token"])
    assert principal.claims["aud"] == world.environment_id
    assert "ORG_ADMIN" in principal.claims["roles"]


@pytest.mark.parametrize("first_party", [True, False], ids=["first_to_third", "third_to_first"])
async def test_changing_whether_a_client_is_a_first_party_ends_its_refresh_tokens(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, first_party: bool
) -> None:
    """Its grants were made under the other trust: a first party's carry the end user's organization and roles
    without consent, a third party's were consented to for userinfo only. The end users sign in to it again;
    a change that keeps the trust ends nothing, and another client's tokens go on."""
    rp, _, body = await _tokens(client, world, db, first_party=first_party, scope=OFFLINE)
    other, _, others = await _tokens(client, world, db, first_party=True, scope=OFFLINE)
    client_pk = await db.scalar(select(Client.id).where(Client.client_id == rp.client_id))
    url = f"{world.base}/environments/{world.environment_id}/clients/{client_pk}"

    async def refreshed(by: RP, token: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": token}
        return await client.post(by.token_url, data=form, headers=by.basic)

    kept = await client.patch(url, json={"firstParty": first_party, "name": "Same trust"}, headers=world.owner.auth)
    assert kept.status_code == 204, kept.text
    still = await refreshed(rp, body["refresh_token"])
    assert still.status_code == 200, still.text
    changed = await client.patch(url, json={"firstParty": not first_party}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    refused = await refreshed(rp, still.json()["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert (await refreshed(other, others["refresh_token"])).status_code == 200
