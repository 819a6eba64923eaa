"""`GET …/me` refuses every access token that breaks a rule: type, issuer, audience, lifetime, keys named in
the header, and algorithms other than ES256. Each hostile token changes one thing of a genuine one."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support import TenantWorld, bearer, new_tenant
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
