"""The token endpoint's authorization_code and refresh_token grants for clients (form-encoded, RFC 6749), and
the OpenID Foundation's basic OP negative cases that the token endpoint decides."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.clients import AuthorizationCode, Client
from sump.db.tables.sessions import Session
from sump.db.tables.tokens import RefreshToken
from sump.kit.crypto import token_digest
from sump.oidc import repository as oidc_repository
from tests.clients.support import clients_url
from tests.oidc.support import (
    CALLBACK,
    RP,
    code_for,
    exchange,
    new_rp,
    tokens_for,
    used_by_another_after_read,
    verified_id_token,
)
from tests.support import TenantWorld, bearer, expire


def _oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["code"] == error
    assert "error_description" in response.json()
    assert response.headers["cache-control"] == "no-store"


async def _refresh(http: httpx.AsyncClient, rp: RP, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    if rp.secret:
        return await http.post(rp.token_url, data=form, headers=rp.basic)
    return await http.post(rp.token_url, data=form | {"client_id": rp.client_id})


async def test_the_code_becomes_tokens_with_an_id_token(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    response = await exchange(client, rp, await code_for(client, rp, user, nonce="n-0S6_WzA2Mj"))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid email profile"
    assert body["expires_in"] > 0
    assert body["refresh_token"]
    claims = await verified_id_token(client, rp, body["id_token"])
    assert claims["sub"] == user.account_id
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["sid"] == user.session_id
    assert claims["email"] == user.email
    assert claims["preferred_username"] == user.username
    assert "phone_number" not in claims
    assert {"iat", "exp", "auth_time", "amr"} <= claims.keys()
    assert jwt.get_unverified_header(body["id_token"])["typ"] == "JWT"
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["client_id"] == rp.client_id
    assert access["scope"] == "openid email profile"
    assert access["aud"] == rp.environment_id  # the SDK verifies the environment as audience


async def test_id_token_aud_and_azp_name_one_client(client: httpx.AsyncClient, world: TenantWorld) -> None:
    first, second = await new_rp(client, world), await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    one = await tokens_for(client, first, user)
    claims = await verified_id_token(client, first, one["id_token"])
    assert claims["aud"] == first.client_id
    assert claims["azp"] == first.client_id
    other = jwt.decode(one["id_token"], options={"verify_signature": False})
    assert other["aud"] != second.client_id


async def test_nonce_is_echoed_and_left_out_without_one(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    echoed = await tokens_for(client, rp, user, nonce="abc-123")
    assert (await verified_id_token(client, rp, echoed["id_token"]))["nonce"] == "abc-123"
    without = await tokens_for(client, rp, user, nonce=None)
    assert "nonce" not in await verified_id_token(client, rp, without["id_token"])


async def test_unknown_scope_is_ignored(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world, scopes=["openid", "email"])
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user, scope="openid email admin profile write:everything")
    assert body["scope"] == "openid email"  # profile is not the client's, the others are not Sump's
    claims = await verified_id_token(client, rp, body["id_token"])
    assert "preferred_username" not in claims


async def test_missing_or_wrong_code_verifier_is_invalid_grant(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    _oauth_error(await exchange(client, rp, code, verifier=None), 400, "invalid_grant")
    _oauth_error(await exchange(client, rp, code, verifier="x" * 43), 400, "invalid_grant")
    _oauth_error(await exchange(client, rp, code, verifier="short"), 400, "invalid_grant")
    assert (await exchange(client, rp, code)).status_code == 200  # refusals do not spend the code


async def test_a_public_client_must_send_its_code_verifier(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world, kind="public")
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    _oauth_error(await exchange(client, rp, code, verifier=None), 400, "invalid_request")
    body = (await exchange(client, rp, code)).json()
    assert body["id_token"]
    assert (await _refresh(client, rp, body["refresh_token"])).status_code == 200


async def test_mismatched_redirect_uri_is_invalid_grant(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    _oauth_error(await exchange(client, rp, code, redirect_uri=CALLBACK + "/x"), 400, "invalid_grant")
    _oauth_error(await exchange(client, rp, code, redirect_uri="http://127.0.0.1/callback"), 400, "invalid_grant")


async def test_reused_code_is_refused_and_revokes_what_it_issued(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    first = await exchange(client, rp, code)
    assert first.status_code == 200
    _oauth_error(await exchange(client, rp, code), 400, "invalid_grant")
    _oauth_error(await _refresh(client, rp, first.json()["refresh_token"]), 400, "invalid_grant")


async def test_a_replayed_code_ends_the_sign_in_so_its_access_token_stops_working(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """A code used twice has leaked (RFC 9700 §4.5): whoever redeemed it first may be the attacker, so the
    replay ends the sign-in it was issued in, and the first redemption's access token no longer reads userinfo."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    first = await exchange(client, rp, code)
    assert first.status_code == 200, first.text
    userinfo = f"/api/v1/environments/{rp.environment_id}/userinfo"
    access = bearer(first.json()["access_token"])
    assert (await client.get(userinfo, headers=access)).status_code == 200
    replayed = await exchange(client, rp, code)
    _oauth_error(replayed, 400, "invalid_grant")
    assert replayed.json()["error_description"] == "The authorization code was already used; the sign-in is revoked."
    refused = await client.get(userinfo, headers=access)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "invalid_token"
    assert (await client.get(f"{user.auth_base}/session", headers=user.auth)).status_code == 401


async def test_code_from_another_client_is_invalid_grant(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp, thief = await new_rp(client, world), await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    thief.verifier = rp.verifier
    _oauth_error(await exchange(client, thief, code), 400, "invalid_grant")
    assert (await exchange(client, rp, code)).status_code == 200


async def test_expired_code_is_invalid_grant(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    expired = utcnow() - timedelta(seconds=1)
    await db.execute(
        update(AuthorizationCode).where(AuthorizationCode.code_hash == token_digest(code)).values(expires_at=expired)
    )
    await db.commit()
    _oauth_error(await exchange(client, rp, code), 400, "invalid_grant")


async def test_client_authentication(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": rp.verifier}
    wrong = RP(rp.world, rp.environment_id, rp.client_id, "not-the-secret")
    refused = await client.post(rp.token_url, data=form, headers=wrong.basic)
    _oauth_error(refused, 401, "invalid_client")
    assert refused.headers["www-authenticate"].startswith("Basic")
    _oauth_error(await client.post(rp.token_url, data=form), 401, "invalid_client")
    _oauth_error(await client.post(rp.token_url, data=form | {"client_id": rp.client_id}), 401, "invalid_client")
    both = await client.post(rp.token_url, data=form | {"client_secret": "x"}, headers=rp.basic)
    _oauth_error(both, 400, "invalid_request")
    posted = await client.post(rp.token_url, data=form | {"client_id": rp.client_id, "client_secret": rp.secret})
    assert posted.status_code == 200, posted.text  # client_secret_post


async def test_a_public_client_cannot_use_a_secret(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world, kind="public")
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    with_secret = {"client_id": rp.client_id, "client_secret": "guessed"}
    _oauth_error(await exchange(client, rp, code, **with_secret), 401, "invalid_client")
    # An empty secret is none (RFC 6749 §2.3.1 lets it be left out), by Basic as in the form.
    empty = {"Authorization": "Basic " + base64.b64encode(f"{rp.client_id}:".encode()).decode()}
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": rp.verifier}
    by_basic = await client.post(rp.token_url, data=form, headers=empty)
    assert by_basic.status_code == 200, by_basic.text


async def test_another_environments_client_is_unknown_here(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    theirs = await new_rp(client, other)
    here = RP(world, world.environment_id, theirs.client_id, theirs.secret)
    form = {"grant_type": "refresh_token", "refresh_token": "x" * 43}
    _oauth_error(await client.post(here.token_url, data=form, headers=here.basic), 401, "invalid_client")


async def test_refresh_is_bound_to_its_client(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp, other = await new_rp(client, world), await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    _oauth_error(await _refresh(client, other, body["refresh_token"]), 400, "invalid_grant")
    first_party = await client.post(rp.token_url, json={"grantType": "refresh_token", "refreshToken": "x"})
    assert first_party.status_code == 401
    refused = await client.post(
        rp.token_url, json={"grantType": "refresh_token", "refreshToken": body["refresh_token"]}
    )
    assert refused.status_code == 401  # a client's refresh token is no first-party one
    rotated = await _refresh(client, rp, body["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    access = jwt.decode(rotated.json()["access_token"], options={"verify_signature": False})
    assert access["client_id"] == rp.client_id
    assert rotated.json()["scope"] == "openid email profile"


async def test_a_first_party_refresh_token_is_no_clients(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    password = await client.post(rp.token_url, json={"grantType": "password", **user.credentials})
    _oauth_error(await _refresh(client, rp, password.json()["refreshToken"]), 400, "invalid_grant")


async def test_unsupported_grants_and_requests(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    base = {"username": "a", "password": "b"}
    _oauth_error(
        await client.post(rp.token_url, data={"grant_type": "password", **base}), 400, "unsupported_grant_type"
    )
    repeated = "grant_type=authorization_code&code=a&code=b"
    form = {"Content-Type": "application/x-www-form-urlencoded", **rp.basic}
    _oauth_error(await client.post(rp.token_url, content=repeated, headers=form), 400, "invalid_request")
    machine = await client.post(
        f"{world.base}/environments/{world.environment_id}/clients",
        json={"name": f"m-{uuid.uuid4().hex[:6]}", "purpose": "machine", "audience": "https://api.example.com"},
        headers=world.owner.auth,
    )
    robot = RP(world, world.environment_id, machine.json()["clientId"], machine.json()["clientSecret"])
    code_form = {"grant_type": "authorization_code", "code": "x", "code_verifier": rp.verifier}
    _oauth_error(await client.post(rp.token_url, data=code_form, headers=robot.basic), 400, "unauthorized_client")


async def test_client_credentials_for_a_machine_client(client: httpx.AsyncClient, world: TenantWorld) -> None:
    rp = await new_rp(client, world)
    created = await client.post(
        f"{world.base}/environments/{world.environment_id}/clients",
        json={"name": f"m-{uuid.uuid4().hex[:6]}", "purpose": "machine", "audience": "https://api.example.com"},
        headers=world.owner.auth,
    )
    machine = RP(world, world.environment_id, created.json()["clientId"], created.json()["clientSecret"])
    response = await client.post(rp.token_url, data={"grant_type": "client_credentials"}, headers=machine.basic)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert "refresh_token" not in response.json()
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://api.example.com"
    assert claims["client_id"] == machine.client_id
    refused = await client.post(rp.token_url, data={"grant_type": "client_credentials"}, headers=rp.basic)
    _oauth_error(refused, 400, "unauthorized_client")


async def test_concurrent_redemptions_of_one_code_have_one_winner(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    answers = await asyncio.gather(*(exchange(client, rp, code) for _ in range(8)))
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200] + [400] * 7
    assert {response.json()["error"] for response in answers if response.status_code == 400} == {"invalid_grant"}


async def test_a_code_whose_sign_in_expired_is_invalid_grant(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """The session behind a code that expires before the exchange (not revoked: its row stays) issues nothing."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    await expire(db, Session, Session.id == uuid.UUID(user.session_id))
    _oauth_error(await exchange(client, rp, code), 400, "invalid_grant")


async def test_an_application_no_longer_granted_refresh_cannot_refresh(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """Taking refresh_token out of an application's grant types stops the refresh tokens it already holds."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    client_pk = await db.scalar(select(Client.id).where(Client.client_id == rp.client_id))
    url = f"{clients_url(world)}/{client_pk}"
    change = await client.patch(url, json={"grantTypes": ["authorization_code"]}, headers=world.owner.auth)
    assert change.status_code == 204, change.text
    _oauth_error(await _refresh(client, rp, body["refresh_token"]), 400, "unauthorized_client")


async def test_an_expired_refresh_token_is_invalid_grant(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A refresh token past its own lifetime is refused even while its sign-in is still live."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    await expire(db, RefreshToken, RefreshToken.token_hash == token_digest(body["refresh_token"]))
    _oauth_error(await _refresh(client, rp, body["refresh_token"]), 400, "invalid_grant")


async def test_a_code_replayed_after_its_expiry_still_revokes_what_it_issued(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A used code is a replay whenever it comes back with its verifier: past its 60 seconds too, it answers the
    replay's invalid_grant and ends the refresh token it issued."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    first = await exchange(client, rp, code)
    assert first.status_code == 200, first.text
    await expire(db, AuthorizationCode, AuthorizationCode.code_hash == token_digest(code))
    replayed = await exchange(client, rp, code)
    _oauth_error(replayed, 400, "invalid_grant")
    assert "already used" in replayed.json()["error_description"]
    _oauth_error(await _refresh(client, rp, first.json()["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("proof", ["verifier", "redirect_uri"])
async def test_a_spent_code_without_its_proof_revokes_nothing(
    client: httpx.AsyncClient, world: TenantWorld, proof: str
) -> None:
    """A public client is named, not authenticated: a used code that leaked (a browser's history, a log) and
    comes back without the verifier or the redirect_uri of its request proves nothing, and is refused as any
    mismatched code is, leaving the sign-in and the tokens the code issued alive. Only its verifier's holder
    ends them by a replay."""
    rp = await new_rp(client, world, kind="public")
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    first = await exchange(client, rp, code)
    assert first.status_code == 200, first.text
    stranger = {"verifier": {"verifier": "a-wrong-verifier-" + "x" * 40}, "redirect_uri": {}}[proof]
    form = {"redirect_uri": "https://wrong.example/"} if proof == "redirect_uri" else {}
    refused = await exchange(client, rp, code, **stranger, **form)
    _oauth_error(refused, 400, "invalid_grant")
    assert "already used" not in refused.json()["error_description"]
    assert (await _refresh(client, rp, first.json()["refresh_token"])).status_code == 200
    userinfo = await client.get(
        f"/api/v1/environments/{rp.environment_id}/userinfo", headers=bearer(first.json()["access_token"])
    )
    assert userinfo.status_code == 200, userinfo.text


async def test_a_redemption_that_read_the_code_before_another_used_it_issues_nothing(
    client: httpx.AsyncClient, world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order that a race makes, fixed: the redemption reads the code unused, another redemption uses it just
    after (its update lands first), and this one is the replay: invalid_grant, no tokens."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    used_by_another_after_read(monkeypatch, "code_by_digest", AuthorizationCode)
    refused = await exchange(client, rp, code)
    _oauth_error(refused, 400, "invalid_grant")
    assert "access_token" not in refused.json()


async def test_a_redemption_whose_sign_in_ends_meanwhile_is_invalid_grant(
    client: httpx.AsyncClient, world: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order that a race makes, fixed: the redemption reads the code unused, then its sign-in ends (a sign-out
    or end-session: the session row goes, and the code with it by ON DELETE CASCADE) before the redemption's
    single-use update. The answer is the unknown code's invalid_grant, never a server error."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    read = oidc_repository.code_by_digest

    async def read_then_sign_in_ended(db: AsyncSession, environment_id: uuid.UUID, digest: bytes) -> Any:
        row = await read(db, environment_id, digest)
        ended = delete(Session).where(Session.id == uuid.UUID(user.session_id))
        await db.execute(ended.execution_options(synchronize_session=False))  # the code read stays as read
        return row

    monkeypatch.setattr(oidc_repository, "code_by_digest", read_then_sign_in_ended)
    refused = await exchange(client, rp, code)
    _oauth_error(refused, 400, "invalid_grant")
    assert refused.json()["error_description"] == "The authorization code is not valid."


async def test_a_code_lives_sixty_seconds_and_a_verifier_must_have_the_rfc_7636_shape(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A code is valid for 60 seconds from its issue; a code_verifier shorter than 43 characters is refused even
    when its S256 challenge is the one the request sent."""
    rp = await new_rp(client, world)
    rp.verifier = "short-verifier"
    user = await world.add_end_user(world.environment_id)
    code = await code_for(client, rp, user)
    row = await db.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == token_digest(code)))
    assert row is not None
    assert row.expires_at - row.created_at == timedelta(seconds=60)
    refused = await exchange(client, rp, code)
    _oauth_error(refused, 400, "invalid_grant")
    assert "code_verifier" in refused.json()["error_description"]


async def test_the_id_tokens_auth_time_is_when_the_end_user_signed_in(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """auth_time is the sign-in's time (the hosted session's start), not the time of the code or the token."""
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    signed_in_at = (utcnow() - timedelta(minutes=10)).replace(microsecond=0)
    session_id = uuid.UUID(user.session_id)
    await db.execute(update(Session).where(Session.id == session_id).values(created_at=signed_in_at))
    await db.commit()
    body = await tokens_for(client, rp, user)
    claims = await verified_id_token(client, rp, body["id_token"])
    assert claims["auth_time"] == int(signed_in_at.timestamp())
    assert claims["iat"] - claims["auth_time"] >= 600


async def test_an_application_without_the_refresh_grant_gets_no_refresh_token(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The code exchange of an application registered for authorization_code alone answers the access and ID
    tokens, and no refresh token (first party, or third party with offline_access consented)."""
    rp = await new_rp(client, world, grantTypes=["authorization_code"])
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user, scope="openid email offline_access")
    assert body["access_token"]
    assert body["id_token"]
    assert "refresh_token" not in body
