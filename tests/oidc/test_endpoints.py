"""userinfo, RP-initiated logout, revocation (RFC 7009) and introspection (RFC 7662) for clients."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.sessions import Session
from sump.db.tables.tokens import RefreshToken
from sump.environments import service as environments
from sump.kit.crypto import token_digest
from sump.tokens import service as tokens
from tests.clients.support import application, clients_url, register
from tests.oidc.support import AFTER_LOGOUT, RP, code_for, exchange, hosted, new_rp, tokens_for, verified_id_token
from tests.support import SECRET, EndUser, TenantWorld, bearer, expire, set_cookies
from tests.tokens import forgery


def _userinfo(rp: RP) -> str:
    return f"/api/v1/environments/{rp.environment_id}/userinfo"


def _end_session(rp: RP) -> str:
    return f"/api/v1/environments/{rp.environment_id}/end-session"


async def _refresh(http: httpx.AsyncClient, rp: RP, token: str) -> httpx.Response:
    return await http.post(rp.token_url, data={"grant_type": "refresh_token", "refresh_token": token}, headers=rp.basic)


async def test_userinfo_answers_the_claims_of_the_granted_scopes(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user, scope="openid email")
    got = await client.get(_userinfo(rp), headers=bearer(body["access_token"]))
    assert got.status_code == 200, got.text
    assert got.json() == {"sub": user.account_id, "email": user.email, "email_verified": False}
    posted = await client.post(_userinfo(rp), data={"access_token": body["access_token"]})
    assert posted.json() == got.json()


USER_CLAIMS = {"name", "preferred_username", "email", "email_verified", "phone_number", "phone_number_verified"}


@pytest.mark.parametrize(
    ("scope", "released"),
    [
        ("openid", set()),
        ("openid profile", {"name", "preferred_username"}),
        ("openid email", {"email", "email_verified"}),
        ("openid profile email", {"name", "preferred_username", "email", "email_verified"}),
    ],
)
async def test_each_scope_releases_its_claims_and_no_other_in_userinfo_and_the_id_token(
    client: httpx.AsyncClient, world: TenantWorld, scope: str, released: set[str]
) -> None:
    """What a client learns of the end user is what the scopes it was granted name (OpenID Connect Core 5.4):
    `openid` alone gives `sub` and nothing else, in the userinfo answer and in the ID token alike."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user, scope=scope)
    info = await client.get(_userinfo(rp), headers=bearer(body["access_token"]))
    assert info.status_code == 200, info.text
    assert set(info.json()) == {"sub", *released}
    assert info.json()["sub"] == user.account_id
    id_token = await verified_id_token(client, rp, body["id_token"])
    assert set(id_token) & USER_CLAIMS == released
    assert {name: id_token[name] for name in released} == {name: info.json()[name] for name in released}


async def test_a_refresh_drops_the_scopes_the_clients_registration_lost_since(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """An admin who takes `email` from an application's scopes means its tokens no longer reach the address:
    its refresh tokens granted before are narrowed at their next use, not for their whole lifetime."""
    created = await register(client, world, application(scopes=["openid", "email", "profile"]))
    rp = RP(world, world.environment_id, created["clientId"], created["clientSecret"])
    user = await world.add_end_user(world.environment_id)
    granted = await tokens_for(client, rp, user, scope="openid email")
    url = f"{clients_url(world)}/{created['id']}"
    narrowed = await client.patch(url, json={"scopes": ["openid", "profile"]}, headers=world.owner.auth)
    assert narrowed.status_code == 204, narrowed.text

    refreshed = await _refresh(client, rp, granted["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["scope"] == "openid"
    info = await client.get(_userinfo(rp), headers=bearer(refreshed.json()["access_token"]))
    assert info.status_code == 200, info.text
    assert "email" not in info.json()
    # Given back, the scope returns within what the end user granted (`openid email`), never beyond it.
    restored = await client.patch(url, json={"scopes": ["openid", "email", "profile"]}, headers=world.owner.auth)
    assert restored.status_code == 204, restored.text
    again = await _refresh(client, rp, refreshed.json()["refresh_token"])
    assert again.json()["scope"] == "openid email"


async def test_openid_is_kept_at_a_refresh_when_the_registration_names_only_other_scopes(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """`openid` is every application's (an authorization request must carry it): a registration that lists only
    `email` does not take it from the tokens a refresh gives, so userinfo still answers them."""
    created = await register(client, world, application(scopes=["email"]))
    rp = RP(world, world.environment_id, created["clientId"], created["clientSecret"])
    user = await world.add_end_user(world.environment_id)
    granted = await tokens_for(client, rp, user, scope="openid email")
    refreshed = await _refresh(client, rp, granted["refresh_token"])
    assert refreshed.json()["scope"] == "openid email"
    info = await client.get(_userinfo(rp), headers=bearer(refreshed.json()["access_token"]))
    assert (info.status_code, info.json()["email"]) == (200, user.email)


async def test_a_code_exchange_grants_only_the_scopes_the_registration_still_allows(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """A scope taken from the registration while the request waited (or its code was on its way) is not granted."""
    created = await register(client, world, application(scopes=["openid", "email"]))
    rp = RP(world, world.environment_id, created["clientId"], created["clientSecret"])
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user, scope="openid email")
    narrowed = await client.patch(
        f"{clients_url(world)}/{created['id']}", json={"scopes": ["openid"]}, headers=world.owner.auth
    )
    assert narrowed.status_code == 204, narrowed.text
    exchanged = await exchange(client, rp, code)
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json()["scope"] == "openid"
    assert "email" not in await verified_id_token(client, rp, exchanged.json()["id_token"])
    info = await client.get(_userinfo(rp), headers=bearer(exchanged.json()["access_token"]))
    assert "email" not in info.json()


async def test_userinfo_refusals_say_why_in_www_authenticate(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    missing = await client.get(_userinfo(rp))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    forged = await client.get(_userinfo(rp), headers=bearer("a.b.c"))
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    first_party = await client.post(rp.token_url, json={"grantType": "password", **user.credentials})
    no_openid = await client.get(_userinfo(rp), headers=bearer(first_party.json()["accessToken"]))
    assert no_openid.status_code == 403
    assert no_openid.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in no_openid.headers["www-authenticate"]


async def test_userinfo_of_another_environment_refuses_the_token(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    elsewhere = await client.get(
        f"/api/v1/environments/{other.environment_id}/userinfo", headers=bearer(body["access_token"])
    )
    assert elsewhere.status_code == 401
    assert elsewhere.json()["code"] == "invalid_token"


async def test_end_session_goes_to_the_registered_uri_with_state_and_ends_the_sign_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    params = {"id_token_hint": body["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT, "state": "bye"}
    response = await client.get(_end_session(rp), params=params, headers=hosted(user))
    assert response.status_code == 303, response.text
    assert response.headers["location"] == AFTER_LOGOUT + "?state=bye"
    cleared = set_cookies(response)["sump_hosted"]
    assert cleared.clears
    assert cleared.path == f"/api/v1/environments/{rp.environment_id}/"
    session = await client.get(f"{user.auth_base}/session", headers=user.auth)
    assert session.status_code == 401


async def test_refresh_after_logout_is_refused(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    logout = await client.post(_end_session(rp), data={"id_token_hint": body["id_token"]})
    assert logout.status_code == 303
    assert logout.headers["location"].endswith(f"/environments/{rp.environment_id}/hosted/signed-out")
    refused = await _refresh(client, rp, body["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert (await client.get(_userinfo(rp), headers=bearer(body["access_token"]))).status_code == 401


async def test_an_expired_id_token_hint_is_accepted(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    past = int((utcnow() - timedelta(hours=2)).timestamp())
    environment = await environments.named(db, uuid.UUID(rp.environment_id))
    expired = await tokens.sign(db, app.state.settings, environment, claims | {"iat": past, "exp": past + 60}, "JWT")
    await db.commit()
    response = await client.get(
        _end_session(rp), params={"id_token_hint": expired, "post_logout_redirect_uri": AFTER_LOGOUT}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == AFTER_LOGOUT
    refused = await _refresh(client, rp, body["refresh_token"])  # the hint's sign-in ended
    assert refused.json()["error"] == "invalid_grant"


async def test_end_session_refuses_open_redirects_and_foreign_hints(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, db: AsyncSession
) -> None:
    rp, second = await new_rp(client, world), await new_rp(client, world, postLogoutRedirectUris=[])
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    jwks = await client.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
    hint = await forgery.take_apart(db, jwks.json(), body["id_token"])  # signed by this environment's own key
    another_issuer = hint.with_claims(iss=rp.issuer.replace(world.environment_id, other.environment_id))
    theirs = await new_rp(client, other)
    their_user = await other.add_end_user(other.environment_id)
    foreign = await tokens_for(client, theirs, their_user)
    forged = jwt.encode({"iss": rp.issuer, "sub": user.account_id, "aud": rp.client_id, "sid": "x"}, SECRET)
    cases: list[dict[str, Any]] = [
        {"id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://evil.example.com/"},
        {"id_token_hint": body["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT + "/../evil"},
        {"post_logout_redirect_uri": AFTER_LOGOUT},  # no client named
        {"client_id": second.client_id, "post_logout_redirect_uri": AFTER_LOGOUT},  # not registered for it
        {"id_token_hint": body["id_token"], "client_id": second.client_id},  # not the hint's audience
        {"id_token_hint": foreign["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT},
        {"id_token_hint": forged},
        {"id_token_hint": another_issuer, "post_logout_redirect_uri": AFTER_LOGOUT},
        {"id_token_hint": body["access_token"]},
    ]
    for params in cases:
        response = await client.get(_end_session(rp), params=params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "invalid_logout_request"
        assert "location" not in response.headers
    assert (await _refresh(client, rp, body["refresh_token"])).status_code == 200  # nothing was ended


async def test_revocation_by_the_client_that_holds_the_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp, other = await new_rp(client, world), await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    url = f"{rp.token_url}/revoke"
    form = {"token": body["refresh_token"], "token_type_hint": "refresh_token"}
    for refused in (
        await client.post(url, data=form, headers=other.basic),
        await client.post(url, data=form),
        await client.post(url, json={"refreshToken": body["refresh_token"]}),
    ):
        assert refused.status_code == 200  # RFC 7009: the same answer, and the token stands
    assert (await _refresh(client, rp, body["refresh_token"])).status_code == 200
    fresh = await tokens_for(client, rp, user)
    revoked = await client.post(url, data={"token": fresh["refresh_token"]}, headers=rp.basic)
    assert revoked.status_code == 200
    assert revoked.headers["cache-control"] == "no-store"
    assert (await _refresh(client, rp, fresh["refresh_token"])).json()["error"] == "invalid_grant"
    wrong = RP(world, rp.environment_id, rp.client_id, "wrong")
    assert (await client.post(url, data={"token": "x"}, headers=wrong.basic)).status_code == 401
    assert (await client.post(url, data={"token": ""}, headers=rp.basic)).json()["error"] == "invalid_request"


async def test_revocation_and_introspection_forms_are_what_the_document_says(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """A parameter over its documented length or outside its values is `invalid_request` (named, its value never
    echoed), with or without a client; unknown parameters are ignored (RFC 6749 §3.2). An over-long token was
    answered 200 by revocation, which the conformance fuzzer found."""
    rp = await new_rp(client, world)
    long_token = "*" * 4097
    for path, form in (
        ("revoke", {"token": "r" * 257}),
        ("revoke", {"token": "x", "token_type_hint": "id_token"}),
        ("introspect", {"token": long_token}),
        ("introspect", {"token": "x", "token_type_hint": "authorization_code"}),
    ):
        for headers in (rp.basic, {}):
            refused = await client.post(f"{rp.token_url}/{path}", data=form, headers=headers)
            if path == "introspect" and not headers:
                assert refused.json()["error"] == "invalid_client"  # no client: refused before the token is read
                continue
            assert refused.status_code == 400, (path, form, refused.text)
            assert refused.json()["error"] == "invalid_request"
            assert form["token"] not in refused.text
            name = "token_type_hint" if "token_type_hint" in form else "token"
            assert refused.json()["error_description"] == f"The parameter {name} is not valid."
    ignored = await client.post(f"{rp.token_url}/revoke", data={"token": "x", "extra": "y"}, headers=rp.basic)
    assert ignored.status_code == 200


async def test_introspection_for_confidential_clients(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp, spa = await new_rp(client, world), await new_rp(client, world, kind="public")
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    url = f"{rp.token_url}/introspect"
    access = (await client.post(url, data={"token": body["access_token"]}, headers=rp.basic)).json()
    assert access["active"] is True
    assert access["client_id"] == rp.client_id
    assert access["sub"] == user.account_id
    assert access["scope"] == "openid email profile"
    refresh = (await client.post(url, data={"token": body["refresh_token"]}, headers=rp.basic)).json()
    assert refresh["active"] is True
    assert refresh["sub"] == user.account_id
    assert (await client.post(url, data={"token": "nonsense"}, headers=rp.basic)).json() == {"active": False}
    public = await client.post(url, data={"token": body["access_token"], "client_id": spa.client_id})
    assert public.status_code == 401
    assert public.json()["error"] == "invalid_client"
    anonymous = await client.post(url, data={"token": body["access_token"]})
    assert anonymous.status_code == 401
    await client.post(f"{rp.token_url}/revoke", data={"token": body["refresh_token"]}, headers=rp.basic)
    gone = await client.post(url, data={"token": body["refresh_token"]}, headers=rp.basic)
    assert gone.json() == {"active": False}


async def test_introspection_of_another_environments_token_is_inactive(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    rp, theirs = await new_rp(client, world), await new_rp(client, other)
    their_user = await other.add_end_user(other.environment_id)
    foreign = await tokens_for(client, theirs, their_user)
    url = f"{rp.token_url}/introspect"
    for token in (foreign["access_token"], foreign["refresh_token"]):
        assert (await client.post(url, data={"token": token}, headers=rp.basic)).json() == {"active": False}


async def test_introspection_after_the_sign_in_expired_is_inactive(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Both tokens stand only while the sign-in they were issued in does, even before their own expiry."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    await expire(db, Session, Session.id == uuid.UUID(user.session_id))
    url = f"{rp.token_url}/introspect"
    for token in (body["access_token"], body["refresh_token"]):
        answer = await client.post(url, data={"token": token}, headers=rp.basic)
        assert answer.status_code == 200
        assert answer.json() == {"active": False}


async def test_introspection_of_a_rotated_or_expired_refresh_token_is_inactive(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    first = (await tokens_for(client, rp, user))["refresh_token"]
    refreshed = await _refresh(client, rp, first)
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()["refresh_token"]
    url = f"{rp.token_url}/introspect"
    assert (await client.post(url, data={"token": second}, headers=rp.basic)).json()["active"] is True
    assert (await client.post(url, data={"token": first}, headers=rp.basic)).json() == {"active": False}
    await expire(db, RefreshToken, RefreshToken.token_hash == token_digest(second))
    assert (await client.post(url, data={"token": second}, headers=rp.basic)).json() == {"active": False}


async def test_end_session_also_ends_the_browsers_later_hosted_session_of_the_same_end_user(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The hint names the sign-in the tokens came from; the browser's hosted session, when it is a later sign-in
    of the same end user, ends too. Another end user's hosted session in the browser is left alone."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    again = await client.post(f"{user.auth_base}/login", json=user.credentials)
    assert again.status_code == 200, again.text
    later = EndUser(**{**user.__dict__, "session_id": again.json()["session"]["id"], "token": again.json()["token"]})
    response = await client.get(_end_session(rp), params={"id_token_hint": body["id_token"]}, headers=hosted(later))
    assert response.status_code == 303, response.text
    assert (await client.get(f"{user.auth_base}/session", headers=later.auth)).status_code == 401

    stranger = await world.add_end_user(world.environment_id)
    signed_out = await world.add_end_user(world.environment_id)
    second = await tokens_for(client, rp, signed_out)
    kept = await client.get(_end_session(rp), params={"id_token_hint": second["id_token"]}, headers=hosted(stranger))
    assert kept.status_code == 303, kept.text
    assert (await client.get(f"{stranger.auth_base}/session", headers=stranger.auth)).status_code == 200


async def test_end_session_with_another_end_users_hint_keeps_the_browsers_cookie(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """Logout CSRF: an end user of the environment sends a victim a link to end-session with the sender's own ID
    token. The sender's sign-in ends; the victim's browser keeps its hosted session and its cookie."""
    rp = await new_rp(client, world)
    sender, victim = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
    hint = (await tokens_for(client, rp, sender))["id_token"]
    response = await client.get(_end_session(rp), params={"id_token_hint": hint}, headers=hosted(victim))
    assert response.status_code == 303, response.text
    assert response.headers.get_list("set-cookie") == []
    assert (await client.get(f"{victim.auth_base}/session", headers=victim.auth)).status_code == 200
    assert (await client.get(f"{sender.auth_base}/session", headers=sender.auth)).status_code == 401


async def test_an_end_session_parameter_over_4096_characters_is_refused(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    params = {"id_token_hint": body["id_token"], "state": "s" * 4097}
    response = await client.get(_end_session(rp), params=params, headers=hosted(user))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_logout_request"
    assert "location" not in response.headers
    assert (await client.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 200  # still signed in


async def test_the_phone_number_is_released_only_with_the_phone_scope(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """An end user with a phone number: without the phone scope neither userinfo nor the ID token tells it;
    with it, both do."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    phone = "+14155550142"
    accounts = f"/api/v1/environments/{world.environment_id}/accounts/{user.account_id}"
    changed = await client.patch(f"{accounts}/phone", json={"phone": phone}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    without = await tokens_for(client, rp, user, scope="openid email profile")
    claims = jwt.decode(without["id_token"], options={"verify_signature": False})
    info = (await client.get(_userinfo(rp), headers=bearer(without["access_token"]))).json()
    for shown in (claims, info):
        assert "phone_number" not in shown
        assert "phone_number_verified" not in shown
    with_phone = await tokens_for(client, rp, user, scope="openid phone")
    info = (await client.get(_userinfo(rp), headers=bearer(with_phone["access_token"]))).json()
    assert info["phone_number"] == phone
    assert jwt.decode(with_phone["id_token"], options={"verify_signature": False})["phone_number"] == phone
