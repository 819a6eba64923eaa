"""Rules that close ways around the flow: consent is the account's that gave it, a client's token reads only
userinfo, introspection shows a client its own tokens, a bare link signs no one out, a refresh may narrow the
scope, and odd characters are refused instead of failing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sump.environments import service as environments
from sump.tokens import service as tokens
from tests.hosted.support import CSRF, found, pages, sign_in
from tests.oidc.support import CALLBACK, RP, answer, authorize, hosted, new_rp, tokens_for
from tests.support import PASSWORD, TenantWorld, bearer


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.43", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        yield http


async def test_consent_given_by_one_account_is_not_spent_by_another(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world, firstParty=False)
    attacker, victim = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
    started = await browser.get(f"/api/v1/environments/{rp.environment_id}/authorize", params=rp.query())
    token = parse_qs(urlsplit(started.headers["location"]).query)["request"][0]
    await sign_in(browser, world.environment_id, attacker.email, PASSWORD, request=token)
    page = await browser.get(f"{pages(rp.environment_id)}/consent", params={"request": token})
    form = {"csrf": found(CSRF, page.text), "request": token, "decision": "allow"}
    allowed = await browser.post(f"{pages(rp.environment_id)}/consent", data=form)
    landed = await client.get(allowed.headers["location"], headers=hosted(victim))  # the victim follows it
    assert landed.status_code == 302
    assert urlsplit(landed.headers["location"]).path.endswith("/hosted/consent")
    assert not landed.headers["location"].startswith(CALLBACK)


async def test_a_clients_access_token_does_not_read_me(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user, scope="openid")
    userinfo = await client.get(
        f"/api/v1/environments/{rp.environment_id}/userinfo", headers=bearer(body["access_token"])
    )
    assert userinfo.json() == {"sub": user.account_id}
    me = await client.get(f"/api/v1/auth/environments/{rp.environment_id}/me", headers=bearer(body["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "invalid_token"
    assert (await client.get(f"{user.auth_base}/me", headers=user.auth)).status_code == 200  # its own session does


@pytest.mark.parametrize("max_age", ["\u00b2", "\u2460", "١٢"])
async def test_max_age_of_other_digits_is_invalid_request(
    client: httpx.AsyncClient, world: TenantWorld, max_age: str
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    assert answer(await authorize(client, rp, user, max_age=max_age))["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["token", "token/revoke", "token/introspect"])
async def test_a_nul_in_a_form_is_invalid_request(client: httpx.AsyncClient, world: TenantWorld, path: str) -> None:
    url = f"/api/v1/auth/environments/{world.environment_id}/{path}"
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "x",
        "token": "x",
        "client_id": "a\x00",
        "client_secret": "b",
    }
    posted = await client.post(url, data=form)
    assert posted.status_code == 400, posted.text
    assert posted.json()["error"] == "invalid_request"
    basic = await client.post(url, data={"token": "x"}, auth=("a\x00b", "c"))
    assert basic.status_code == 400, basic.text
    logout = await client.post(f"/api/v1/environments/{world.environment_id}/end-session", data={"client_id": "a\x00"})
    assert logout.status_code == 400


async def test_introspection_shows_a_client_only_its_own_tokens(client: httpx.AsyncClient, world: TenantWorld) -> None:
    holder, other = await new_rp(client, world), await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, holder, user)
    for token in (body["refresh_token"], body["access_token"]):
        seen = await client.post(f"{holder.token_url}/introspect", data={"token": token}, headers=other.basic)
        assert seen.json() == {"active": False}
        own = await client.post(f"{holder.token_url}/introspect", data={"token": token}, headers=holder.basic)
        assert own.json()["active"] is True


async def test_end_session_without_a_hint_signs_no_one_out(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user, other = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
    url = f"/api/v1/environments/{rp.environment_id}/end-session"
    bare = await client.get(url, headers=hosted(user))
    assert bare.status_code == 400
    assert bare.json()["code"] == "invalid_logout_request"
    assert (await client.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200
    # Another end user's hint ends that one's sign-in, not the browser's.
    theirs = await tokens_for(client, rp, other)
    done = await client.get(url, params={"id_token_hint": theirs["id_token"]}, headers=hosted(user))
    assert done.status_code == 303
    assert (await client.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200
    assert (await client.get(f"{other.auth_base}/session", headers=other.auth)).status_code == 401


async def _refresh(client: httpx.AsyncClient, rp: RP, token: str, scope: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, "scope": scope}
    return await client.post(rp.token_url, data=form, headers=rp.basic)


async def test_a_refresh_may_narrow_the_scope_but_not_widen_it(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user, scope="openid email profile")
    wider = await _refresh(client, rp, body["refresh_token"], "openid email phone")
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"
    narrower = await _refresh(client, rp, body["refresh_token"], "openid")
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "openid"
    assert jwt.decode(narrower.json()["access_token"], options={"verify_signature": False})["scope"] == "openid"
    again = await _refresh(client, rp, narrower.json()["refresh_token"], "")
    assert again.json()["scope"] == "openid email profile"  # the grant stays what was consented


async def test_userinfo_needs_the_openid_scope_and_a_token_issued_to_a_client(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A client's token narrowed by a refresh to scopes without openid, and a token of this environment with
    openid but issued to no client, both answer 403 insufficient_scope."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user, scope="openid email")
    narrowed = await _refresh(client, rp, body["refresh_token"], "email")
    assert narrowed.status_code == 200, narrowed.text
    userinfo = f"/api/v1/environments/{rp.environment_id}/userinfo"
    for token in (narrowed.json()["access_token"], await _openid_without_client(app, client, db, rp, user.credentials)):
        refused = await client.get(userinfo, headers=bearer(token))
        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]


async def _openid_without_client(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession, rp: RP, credentials: dict[str, str]
) -> str:
    """The end user's own access token (no client), signed again by the environment with scope openid."""
    own = await client.post(rp.token_url, json={"grantType": "password", **credentials})
    assert own.status_code == 200, own.text
    claims = jwt.decode(own.json()["accessToken"], options={"verify_signature": False})
    assert "client_id" not in claims
    environment = await environments.named(db, uuid.UUID(rp.environment_id))
    token = await tokens.sign(db, app.state.settings, environment, claims | {"scope": "openid"}, tokens.TOKEN_TYPE)
    await db.commit()
    return token
