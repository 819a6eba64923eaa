"""`GET …/me` refuses every access token that breaks a rule: type, issuer, audience, lifetime, keys named in
the header, and algorithms other than ES256. Each hostile token changes one thing of a genuine one."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tokens import KeyStatus, SigningKey
from sump.tokens import keys
from tests.clients.support import application, register
from tests.support import SECRET, TenantWorld, bearer, new_tenant
from tests.tokens import forgery
from tests.tokens.forgery import Attacker, Genuine

REFUSED = {
    "status": 401,
    "code": "invalid_token",
    "detail": "The access token is not valid.",
    "www-authenticate": "Bearer",
    "content-type": "application/problem+json",
}


async def answer(client: httpx.AsyncClient, world: TenantWorld, token: str) -> dict[str, object]:
    response = await client.get(f"/api/v1/auth/environments/{world.environment_id}/me", headers=bearer(token))
    if response.status_code == 200:
        return {"status": 200}
    body = response.json()
    return {
        "status": response.status_code,
        "code": body.get("code"),
        "detail": body.get("detail"),
        "www-authenticate": response.headers.get("www-authenticate"),
        "content-type": response.headers.get("content-type"),
    }


async def assert_refused(client: httpx.AsyncClient, world: TenantWorld, real: Genuine, tokens: dict[str, str]) -> None:
    assert await answer(client, world, real.genuine()) == {"status": 200}, "the forging itself yields good tokens"
    answers = {name: await answer(client, world, token) for name, token in tokens.items()}
    assert answers == dict.fromkeys(tokens, REFUSED)


@pytest.mark.asvs("JWT-04")
async def test_me_refuses_another_type_issuer_or_audience(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    real = await forgery.signed_in(client, world, db)
    await assert_refused(client, world, real, forgery.wrong_type_issuer_or_audience(real))


@pytest.mark.asvs("JWT-03")
async def test_me_refuses_expired_and_not_yet_valid_tokens(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    real = await forgery.signed_in(client, world, db)
    await assert_refused(client, world, real, forgery.outside_lifetime(real))


@pytest.mark.asvs("JWT-03")
async def test_issued_tokens_carry_their_lifetime(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """`iat`, `nbf` and `exp` are present and 15 minutes apart at most, so a future `nbf` is refused by the
    same check that reads every token's `nbf`."""
    real = await forgery.signed_in(client, world, db)
    now = int(time.time())
    assert abs(real.claims["iat"] - now) <= 60
    assert real.claims["nbf"] == real.claims["iat"]
    assert real.claims["exp"] - real.claims["iat"] == 900
    assert set(real.header) == {"alg", "typ", "kid"}
    assert (real.header["alg"], real.header["typ"]) == ("ES256", "at+jwt")


@pytest.mark.asvs("JWT-01")
async def test_me_ignores_keys_named_in_the_header(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    real = await forgery.signed_in(client, world, db)
    await assert_refused(client, world, real, forgery.key_in_header(real, Attacker()))


@pytest.mark.asvs("JWT-02")
async def test_me_accepts_es256_only(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    real = await forgery.signed_in(client, world, db)
    hostile = forgery.wrong_algorithm(real)
    assert jwt.get_unverified_header(hostile["HS256 keyed with the public PEM"])["alg"] == "HS256"
    await assert_refused(client, world, real, hostile)


@pytest.mark.asvs("JWT-02")
async def test_me_refuses_tokens_signed_by_the_environments_own_rsa_key(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """The environment's RS256 keys, published beside its ES256 ones for the ID tokens of clients registered for
    them, verify no access token: not one signed RS256 by the real RSA key under its own kid, nor one that names
    that kid over an ES256 signature (a key is used with its own algorithm, for its own purpose)."""
    real = await forgery.signed_in(client, world, db)
    await register(client, world, application(idTokenSignedResponseAlg="RS256"))
    row = await db.scalar(
        select(SigningKey).where(
            SigningKey.environment_id == uuid.UUID(world.environment_id),
            SigningKey.algorithm == "RS256",
            SigningKey.status == KeyStatus.ACTIVE,
        )
    )
    assert row is not None
    rsa_key = keys.unseal(SECRET, row.kid, row.private_key)
    header = {"kid": row.kid, "typ": "at+jwt"}
    hostile = {
        "RS256 by the environment's RSA key": jwt.encode(real.claims, rsa_key, algorithm="RS256", headers=header),
        "ES256 naming the RSA key's kid": real.sign(kid=row.kid),
    }
    await assert_refused(client, world, real, hostile)


@pytest.mark.asvs("JWT-05", "AC-02")
async def test_me_refuses_this_environments_claims_signed_by_another_tenants_key(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A token whose claims are this environment's in every way, signed by the signing key of an environment of
    another tenant (named by its own `kid`): a key is looked up within the environment the path names, so a
    tenant that leaked or chose its own key material can sign for no one else."""
    real = await forgery.signed_in(client, world, db)
    theirs = await forgery.signed_in(client, await new_tenant(client), db)
    foreign = jwt.encode(
        real.claims, theirs.key, algorithm="ES256", headers={"kid": theirs.header["kid"], "typ": "at+jwt"}
    )
    await assert_refused(client, world, real, {"another tenant's key": foreign})


@pytest.mark.asvs("JWT-01", "VAL-01")
async def test_a_kid_that_cannot_be_ours_is_refused_not_a_failure(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """A `kid` is looked up only when it has the shape of ours (an RFC 7638 thumbprint). One holding a NUL, which
    PostgreSQL cannot compare as text, is refused like an unknown key wherever Sump reads a token's header: the
    access tokens of `…/me` and userinfo, and the end-session's `id_token_hint`. Each token is signed by the
    environment's real key."""
    real = await forgery.signed_in(client, world, db)
    kids = {"NUL": "\x00", "NUL within our kid": real.header["kid"][:20] + "\x00" + real.header["kid"][21:]}
    await assert_refused(client, world, real, {name: real.sign(kid=kid) for name, kid in kids.items()})

    userinfo = f"/api/v1/environments/{world.environment_id}/userinfo"
    end_session = f"/api/v1/environments/{world.environment_id}/end-session"
    for name, kid in kids.items():
        answer = await client.get(userinfo, headers=bearer(real.sign(kid=kid)))
        assert (answer.status_code, answer.json()["code"]) == (401, "invalid_token"), name
        hint = real.sign(kid=kid, typ="JWT")
        ended = await client.get(end_session, params={"id_token_hint": hint})
        assert (ended.status_code, ended.json()["code"]) == (400, "invalid_logout_request"), name
