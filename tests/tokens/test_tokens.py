"""Access tokens, JWKS and key rotation, refresh-token rotation with reuse detection."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.tokens import RefreshToken, SigningKey
from sump.tokens import service
from tests.support import EndUser, TenantWorld, bearer, new_tenant


async def password_grant(client: httpx.AsyncClient, world: TenantWorld, user: EndUser) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/token",
        json={"grantType": "password", "email": user.email, "password": user.password},
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def refresh(client: httpx.AsyncClient, world: TenantWorld, token: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/token",
        json={"grantType": "refresh_token", "refreshToken": token},
    )


async def jwks(client: httpx.AsyncClient, world: TenantWorld) -> dict[str, Any]:
    response = await client.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
    assert response.status_code == 200
    keys: dict[str, Any] = response.json()
    return keys


def verify(token: str, keys: dict[str, Any], world: TenantWorld) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [key for key in keys["keys"] if key["kid"] == kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["ES256"],
        audience=world.environment_id,
        issuer=f"http://sump.test/api/v1/environments/{world.environment_id}",
    )
    return claims


async def test_password_grant_issues_verifiable_tokens(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    tokens = await password_grant(client, world, user)
    assert tokens["tokenType"] == "Bearer"
    assert tokens["expiresIn"] == 900
    keys = await jwks(client, world)
    assert all("d" not in key for key in keys["keys"]), "no private parameters in the JWKS"
    claims = verify(tokens["accessToken"], keys, world)
    assert claims["sub"] == user.account_id
    assert claims["env"] == world.environment_id
    assert claims["exp"] - claims["iat"] == 900
    assert {"sid", "jti", "org_id", "roles", "permissions"} <= set(claims)
    assert jwt.get_unverified_header(tokens["accessToken"])["typ"] == "at+jwt"
    me = await client.get(f"/api/v1/auth/environments/{world.environment_id}/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 200
    assert me.json()["accountId"] == user.account_id


async def test_session_grant_exchanges_the_current_session(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    url = f"/api/v1/auth/environments/{world.environment_id}/token"
    response = await client.post(url, json={"grantType": "session"}, headers=user.auth)
    assert response.status_code == 200
    claims = jwt.decode(response.json()["accessToken"], options={"verify_signature": False})
    session = await client.get(f"/api/v1/auth/environments/{world.environment_id}/session", headers=user.auth)
    assert claims["sid"] == session.json()["id"]
    assert (await client.post(url, json={"grantType": "session"})).status_code == 401


async def test_discovery_names_the_issuer_and_keys(client: httpx.AsyncClient, world: TenantWorld) -> None:
    response = await client.get(f"/api/v1/environments/{world.environment_id}/.well-known/openid-configuration")
    document = response.json()
    assert document["issuer"] == f"http://sump.test/api/v1/environments/{world.environment_id}"
    assert document["jwks_uri"].endswith(f"/environments/{world.environment_id}/.well-known/jwks.json")
    assert "max-age" in response.headers["cache-control"]


async def test_refresh_rotates_and_replay_revokes_the_family(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_end_user(world.environment_id)
    first = await password_grant(client, world, user)
    second = await refresh(client, world, first["refreshToken"])
    assert second.status_code == 200
    assert second.json()["refreshToken"] != first["refreshToken"]
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.rotated_at.is_not(None))
        .values(rotated_at=utcnow() - timedelta(seconds=30))
    )
    await db.commit()

    replay = await refresh(client, world, first["refreshToken"])
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_grant"
    revoked = await refresh(client, world, second.json()["refreshToken"])
    assert revoked.status_code == 401, "a replay revokes the whole family"


async def test_concurrent_refreshes_share_one_successor(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    first = await password_grant(client, world, user)
    responses = await asyncio.gather(*(refresh(client, world, first["refreshToken"]) for _ in range(20)))
    assert [response.status_code for response in responses] == [200] * 20
    successors = {response.json()["refreshToken"] for response in responses}
    assert len(successors) == 1
    onward = await refresh(client, world, successors.pop())
    assert onward.status_code == 200, "the user stays signed in with one surviving family"


async def test_logout_all_ends_refresh_tokens(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    tokens = await password_grant(client, world, user)
    out = await client.post(f"/api/v1/auth/environments/{world.environment_id}/logout-all", headers=user.auth)
    assert out.json()["revoked"] >= 2
    assert (await refresh(client, world, tokens["refreshToken"])).status_code == 401
    me = await client.get(f"/api/v1/auth/environments/{world.environment_id}/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 401, "Sump checks the token's session"


async def test_revoke_endpoint(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    tokens = await password_grant(client, world, user)
    url = f"/api/v1/auth/environments/{world.environment_id}/token/revoke"
    assert (await client.post(url, json={"refreshToken": tokens["refreshToken"]})).status_code == 200
    assert (await client.post(url, json={"refreshToken": "unknown"})).status_code == 200
    assert (await refresh(client, world, tokens["refreshToken"])).status_code == 401


@pytest.mark.asvs("JWT-07")
async def test_key_rotation_keeps_old_tokens_valid_until_they_expire(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_end_user(world.environment_id)
    before = await password_grant(client, world, user)
    old_kid = jwt.get_unverified_header(before["accessToken"])["kid"]
    rotated = await client.post(
        f"{world.base}/environments/{world.environment_id}/keys/rotate", headers=world.owner.auth
    )
    assert rotated.status_code == 200
    assert rotated.json()["kid"] != old_kid
    after = await password_grant(client, world, user)
    assert jwt.get_unverified_header(after["accessToken"])["kid"] == rotated.json()["kid"]
    me = f"/api/v1/auth/environments/{world.environment_id}/me"
    assert (await client.get(me, headers=bearer(before["accessToken"]))).status_code == 200
    assert old_kid in {key["kid"] for key in (await jwks(client, world))["keys"]}

    await db.execute(
        update(SigningKey).where(SigningKey.kid == old_kid).values(retired_at=utcnow() - timedelta(hours=1))
    )
    await db.commit()
    service.PUBLISHED.forget(uuid.UUID(world.environment_id))  # as the worker does `JWKS_FRESH` seconds on
    assert old_kid not in {key["kid"] for key in (await jwks(client, world))["keys"]}
    assert (await client.get(me, headers=bearer(before["accessToken"]))).status_code == 401


async def test_a_retired_key_stays_published_for_as_long_as_its_tokens_live(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A key retired by a rotation stays in the JWKS, and its tokens verify, until the last token it signed has
    expired (the access-token lifetime and the clock leeway after its retirement), and no longer."""
    user = await world.add_end_user(world.environment_id)
    before = await password_grant(client, world, user)
    old_kid = jwt.get_unverified_header(before["accessToken"])["kid"]
    rotated = await client.post(
        f"{world.base}/environments/{world.environment_id}/keys/rotate", headers=world.owner.auth
    )
    assert rotated.status_code == 200, rotated.text
    me = f"/api/v1/auth/environments/{world.environment_id}/me"
    lifetime = timedelta(seconds=app.state.settings.access_token_ttl)

    async def retired_ago(age: timedelta) -> set[str]:
        """The JWKS's kids once the old key has been retired for `age`."""
        await db.execute(update(SigningKey).where(SigningKey.kid == old_kid).values(retired_at=utcnow() - age))
        await db.commit()
        service.PUBLISHED.forget(uuid.UUID(world.environment_id))  # as the worker does `JWKS_FRESH` seconds on
        return {key["kid"] for key in (await jwks(client, world))["keys"]}

    assert lifetime > service.LEEWAY + timedelta(minutes=2)
    assert old_kid in await retired_ago(service.LEEWAY + timedelta(minutes=1))
    assert (await client.get(me, headers=bearer(before["accessToken"]))).status_code == 200
    assert old_kid in await retired_ago(lifetime)
    assert old_kid not in await retired_ago(lifetime + service.LEEWAY + timedelta(seconds=5))
    refused = await client.get(me, headers=bearer(before["accessToken"]))
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "invalid_token"


@pytest.mark.asvs("JWT-01", "JWT-02", "JWT-04")
async def test_forged_and_foreign_tokens_fail(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    tokens = await password_grant(client, world, user)
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens["accessToken"])
    attacker = ec.generate_private_key(ec.SECP256R1())
    forged = [
        jwt.encode(claims, attacker, algorithm="ES256", headers={"kid": header["kid"], "typ": "at+jwt"}),
        jwt.encode(claims, "", algorithm="none", headers={"kid": header["kid"], "typ": "at+jwt"}),
        jwt.encode(claims, "secret-used-as-hmac-key-0123456789", algorithm="HS256", headers={"kid": header["kid"]}),
    ]
    me = f"/api/v1/auth/environments/{world.environment_id}/me"
    for token in forged:
        assert (await client.get(me, headers=bearer(token))).status_code == 401
    other = await new_tenant(client)
    elsewhere = f"/api/v1/auth/environments/{other.environment_id}/me"
    assert (await client.get(elsewhere, headers=bearer(tokens["accessToken"]))).status_code == 401
