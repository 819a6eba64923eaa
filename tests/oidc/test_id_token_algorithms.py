"""ID tokens in the algorithm the application registered (`idTokenSignedResponseAlg`): RS256 by default, as
OpenID Connect requires of every provider and Registration names the default, or ES256. Each algorithm has its
own keys in the environment's JWKS, published before they sign, rotated together by an admin; access tokens stay
ES256 whatever the client."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import jwt
import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tokens import KeyStatus, SigningKey
from tests.clients.support import clients_url, machine, register
from tests.oidc.support import new_rp, tokens_for, verified_id_token
from tests.support import TenantWorld


async def published(client: httpx.AsyncClient, world: TenantWorld) -> dict[str, dict[str, Any]]:
    jwks = await client.get(f"/api/v1/environments/{world.environment_id}/.well-known/jwks.json")
    return {key["kid"]: key for key in jwks.json()["keys"]}


async def ring(db: AsyncSession, world: TenantWorld, algorithm: str) -> dict[str, KeyStatus]:
    """The environment's keys of `algorithm` by kid, as stored now."""
    rows = await db.execute(
        select(SigningKey.kid, SigningKey.status).where(
            SigningKey.environment_id == uuid.UUID(world.environment_id), SigningKey.algorithm == algorithm
        )
    )
    await db.commit()
    return {row.kid: row.status for row in rows}


def header(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


@pytest.mark.asvs("JWT-02", "JWT-07")
async def test_an_application_gets_rs256_id_tokens_by_default_from_keys_published_at_its_registration(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world)
    assert rp.id_token_algorithm == "RS256"
    rsa_keys = {kid: key for kid, key in (await published(client, world)).items() if key["kty"] == "RSA"}
    assert sorted(await ring(db, world, "RS256")) == sorted(rsa_keys), "published before any token is signed"
    assert sorted((await ring(db, world, "RS256")).values()) == [KeyStatus.ACTIVE, KeyStatus.NEXT]
    for kid, key in rsa_keys.items():
        assert (key["alg"], key["use"], key["e"]) == ("RS256", "sig", "AQAB")
        assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256, "2048 bits"
        assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}, "the public half only"
        assert RSAKey.import_key(key).thumbprint() == kid, "the kid is its RFC 7638 thumbprint"

    body = await tokens_for(client, rp, await world.add_end_user(world.environment_id))
    assert header(body["id_token"])["alg"] == "RS256"
    assert header(body["id_token"])["kid"] in rsa_keys
    assert (await verified_id_token(client, rp, body["id_token"]))["aud"] == rp.client_id
    assert header(body["access_token"])["alg"] == "ES256", "access tokens stay ES256"
    assert (await published(client, world))[header(body["access_token"])["kid"]]["kty"] == "EC"


@pytest.mark.asvs("JWT-02")
async def test_an_es256_application_gets_es256_id_tokens_and_makes_no_rsa_key(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world, idTokenSignedResponseAlg="ES256")
    body = await tokens_for(client, rp, await world.add_end_user(world.environment_id))
    assert header(body["id_token"])["alg"] == "ES256"
    assert (await verified_id_token(client, rp, body["id_token"]))["sub"]
    assert await ring(db, world, "RS256") == {}
    assert {key["kty"] for key in (await published(client, world)).values()} == {"EC"}


async def test_the_algorithm_is_changed_like_the_rest_and_refused_where_it_means_nothing(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world, idTokenSignedResponseAlg="ES256")
    [created] = (await client.get(clients_url(world), headers=world.owner.auth)).json()
    url = f"{clients_url(world)}/{created['id']}"
    for refused in ("HS256", "none", "RS512", None):
        answer = await client.patch(url, json={"idTokenSignedResponseAlg": refused}, headers=world.owner.auth)
        assert (answer.status_code, answer.json()["code"]) == (400, "validation_failed"), refused
        assert "idTokenSignedResponseAlg" in answer.json()["errors"]

    changed = await client.patch(url, json={"idTokenSignedResponseAlg": "RS256"}, headers=world.owner.auth)
    assert changed.status_code == 204, changed.text
    assert (await client.get(url, headers=world.owner.auth)).json()["idTokenSignedResponseAlg"] == "RS256"
    assert len(await ring(db, world, "RS256")) == 2, "its keys are made with the change, before any ID token"
    rp.id_token_algorithm = "RS256"
    body = await tokens_for(client, rp, await world.add_end_user(world.environment_id))
    assert header(body["id_token"])["alg"] == "RS256"
    await verified_id_token(client, rp, body["id_token"])

    robot = await register(client, world, machine())
    assert robot["idTokenSignedResponseAlg"] is None
    wrong = await client.patch(
        f"{clients_url(world)}/{robot['id']}", json={"idTokenSignedResponseAlg": "RS256"}, headers=world.owner.auth
    )
    assert (wrong.status_code, wrong.json()["code"]) == (400, "client_field_not_applicable")


@pytest.mark.asvs("JWT-07")
async def test_a_rotation_rotates_every_ring_and_keeps_the_retired_keys_published(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    before = await tokens_for(client, rp, user)
    rsa_before, ec_before = await ring(db, world, "RS256"), await ring(db, world, "ES256")

    rotated = await client.post(
        f"{world.base}/environments/{world.environment_id}/keys/rotate", headers=world.owner.auth
    )
    assert rotated.status_code == 200, rotated.text
    rsa_after, ec_after = await ring(db, world, "RS256"), await ring(db, world, "ES256")
    for was, now in ((rsa_before, rsa_after), (ec_before, ec_after)):
        [next_before] = [kid for kid, status in was.items() if status is KeyStatus.NEXT]
        [active_before] = [kid for kid, status in was.items() if status is KeyStatus.ACTIVE]
        assert now[next_before] is KeyStatus.ACTIVE, "the published next key is the one promoted"
        assert now[active_before] is KeyStatus.RETIRED
        assert sorted(now.values()) == [KeyStatus.ACTIVE, KeyStatus.NEXT, KeyStatus.RETIRED]
    assert rotated.json()["kid"] in ec_after, "the answer names the key that signs access tokens"
    assert set(rsa_after) | set(ec_after) == set(await published(client, world)), "retired keys stay published"

    after = await tokens_for(client, rp, user)
    assert header(after["id_token"])["kid"] == next(k for k, s in rsa_after.items() if s is KeyStatus.ACTIVE)
    await verified_id_token(client, rp, before["id_token"])  # signed by the retired key, still verifiable
