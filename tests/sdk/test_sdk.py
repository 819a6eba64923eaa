"""The SDK verifies Sump's tokens against Sump's own JWKS, follows key rotation and protects an app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.base import utcnow
from sump.db.tables.tokens import KeyStatus, SigningKey
from sump.sdk import JwksVerifier, Principal, TokenError, current_user, require_permissions
from sump.tokens import keys
from tests.clients.support import application, register
from tests.support import SECRET, TenantWorld, bearer


@pytest.fixture
async def sump_http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The SDK's own HTTP client, reaching Sump in-process."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sump.test") as http:
        yield http


def verifier_for(world: TenantWorld, http: httpx.AsyncClient, refetch_floor_seconds: float = 30) -> JwksVerifier:
    return JwksVerifier.for_environment(
        "http://sump.test", world.environment_id, client=http, refetch_floor_seconds=refetch_floor_seconds
    )


async def access_token(client: httpx.AsyncClient, world: TenantWorld) -> str:
    user = await world.add_end_user(world.environment_id)
    response = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/token",
        json={"grantType": "password", "email": user.email, "password": user.password},
    )
    token: str = response.json()["accessToken"]
    return token


async def test_verifies_a_sump_token(
    client: httpx.AsyncClient, world: TenantWorld, sump_http: httpx.AsyncClient
) -> None:
    token = await access_token(client, world)
    principal = await verifier_for(world, sump_http).verify(token)
    assert str(principal.environment_id) == world.environment_id
    assert principal.claims["sub"] == str(principal.account_id)


async def test_verifies_beside_rsa_keys_and_refuses_what_they_sign(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, sump_http: httpx.AsyncClient
) -> None:
    """An environment that signs ID tokens RS256 publishes RSA keys beside its EC ones: the verifier reads the
    JWKS as before, holding its EC keys only, and takes no access token signed by the environment's own RSA key:
    not as RS256, nor under an ES256 header naming that key (an unknown key to it)."""
    await register(client, world, application(idTokenSignedResponseAlg="RS256"))
    row = await db.scalar(
        select(SigningKey).where(
            SigningKey.algorithm == "RS256",
            SigningKey.status == KeyStatus.ACTIVE,
            SigningKey.environment_id == uuid.UUID(world.environment_id),
        )
    )
    assert row is not None
    token = await access_token(client, world)
    verifier = verifier_for(world, sump_http)
    principal = await verifier.verify(token)
    claims = principal.claims
    rsa_signed = jwt.encode(
        claims,
        keys.unseal(SECRET, row.kid, row.private_key),
        algorithm="RS256",
        headers={"kid": row.kid, "typ": "at+jwt"},
    )
    with pytest.raises(TokenError):
        await verifier.verify(rsa_signed)
    as_ec = jwt.encode(
        claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": row.kid, "typ": "at+jwt"}
    )
    with pytest.raises(TokenError, match="unknown signing key"):
        await verifier.verify(as_ec)
    assert verifier.fetches == 1


async def test_rejects_tokens_of_another_environment(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, sump_http: httpx.AsyncClient
) -> None:
    token = await access_token(client, other)
    with pytest.raises(TokenError):
        await verifier_for(world, sump_http).verify(token)


async def test_unknown_kid_refetches_but_not_more_often_than_the_floor(
    client: httpx.AsyncClient, world: TenantWorld, sump_http: httpx.AsyncClient
) -> None:
    verifier = verifier_for(world, sump_http, refetch_floor_seconds=0)
    await verifier.verify(await access_token(client, world))
    assert verifier.fetches == 1
    rotate = f"{world.base}/environments/{world.environment_id}/keys/rotate"
    assert (await client.post(rotate, headers=world.owner.auth)).status_code == 200
    await verifier.verify(await access_token(client, world))
    assert verifier.fetches == 1, "the next key was published before it signed"
    await client.post(rotate, headers=world.owner.auth)
    await verifier.verify(await access_token(client, world))
    assert verifier.fetches == 2, "a kid the cache never saw is learnt by fetching again"

    floored = verifier_for(world, sump_http, refetch_floor_seconds=3600)
    await floored.verify(await access_token(client, world))
    attacker = ec.generate_private_key(ec.SECP256R1())
    for kid in ("forged-1", "forged-2", "forged-3"):
        forged = jwt.encode({"sub": "x"}, attacker, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})
        with pytest.raises(TokenError):
            await floored.verify(forged)
    assert floored.fetches == 1, "unknown kids within the floor do not reach the network"


async def test_retired_and_expired_key_fails(
    client: httpx.AsyncClient, world: TenantWorld, sump_http: httpx.AsyncClient, db: AsyncSession
) -> None:
    token = await access_token(client, world)
    await client.post(f"{world.base}/environments/{world.environment_id}/keys/rotate", headers=world.owner.auth)
    kid = jwt.get_unverified_header(token)["kid"]
    await db.execute(update(SigningKey).where(SigningKey.kid == kid).values(retired_at=utcnow().replace(year=2020)))
    await db.commit()
    with pytest.raises(TokenError):
        await verifier_for(world, sump_http).verify(token)


async def test_fastapi_dependencies_protect_an_app(
    client: httpx.AsyncClient, world: TenantWorld, sump_http: httpx.AsyncClient
) -> None:
    app = FastAPI()
    app.state.sump = verifier_for(world, sump_http)

    @app.get("/whoami")
    async def whoami(user: Principal = Depends(current_user)) -> dict[str, str]:
        return {"account": str(user.account_id)}

    @app.get("/secret")
    async def secret(user: Principal = Depends(require_permissions("projects:delete"))) -> dict[str, str]:
        return {"account": str(user.account_id)}

    token = await access_token(client, world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        assert (await http.get("/whoami")).status_code == 401
        assert (await http.get("/whoami", headers=bearer("garbage"))).status_code == 401
        responses = await asyncio.gather(*(http.get("/whoami", headers=bearer(token)) for _ in range(5)))
        assert {response.status_code for response in responses} == {200}
        assert (await http.get("/secret", headers=bearer(token))).status_code == 403


@pytest.mark.asvs("JWT-07")
async def test_a_key_retired_since_the_cache_was_filled_fails_once_the_cache_is_stale(
    client: httpx.AsyncClient, world: TenantWorld, sump_http: httpx.AsyncClient, db: AsyncSession
) -> None:
    """The cached JWKS is fetched again once `cache_seconds` have passed, even for a kid it holds: a key Sump no
    longer publishes stops verifying within that time, not at the verifier's restart."""
    verifier = JwksVerifier.for_environment(
        "http://sump.test", world.environment_id, client=sump_http, cache_seconds=0, refetch_floor_seconds=3600
    )
    token = await access_token(client, world)
    await verifier.verify(token)
    assert verifier.fetches == 1
    await client.post(f"{world.base}/environments/{world.environment_id}/keys/rotate", headers=world.owner.auth)
    kid = jwt.get_unverified_header(token)["kid"]
    await db.execute(update(SigningKey).where(SigningKey.kid == kid).values(retired_at=utcnow().replace(year=2020)))
    await db.commit()
    with pytest.raises(TokenError, match="unknown signing key"):
        await verifier.verify(token)
    assert verifier.fetches == 2, "a stale cache is fetched again for a kid it holds"


class FlakySump(httpx.AsyncBaseTransport):
    """Sump's JWKS as a verifier reaches it, or an answer that is not the JWKS (`failure`), counting requests."""

    def __init__(self, app: FastAPI) -> None:
        self.sump = httpx.ASGITransport(app=app)
        self.failure: httpx.Response | None = None
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self.failure if self.failure is not None else await self.sump.handle_async_request(request)


async def test_a_failing_jwks_is_asked_again_no_more_often_than_the_floor(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """While the JWKS cannot be fetched, every request the app serves would fetch it again, each waiting for the
    one before under the verifier's lock: a failed fetch is not retried within `refetch_floor_seconds`. Keys
    fetched before keep verifying meanwhile, and the verifier recovers once the floor has passed."""
    token = await access_token(client, world)
    sump = FlakySump(app)
    async with httpx.AsyncClient(transport=sump) as http:
        sump.failure = httpx.Response(503)
        down = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=http)
        for _ in range(5):
            with pytest.raises(TokenError, match="the signing keys cannot be fetched"):
                await down.verify(token)
        assert sump.requests == 1, "Sump is asked once, not once per request"

        sump.failure, sump.requests = None, 0
        stale = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=http, cache_seconds=0)
        await stale.verify(token)
        sump.failure = httpx.Response(503)
        for _ in range(5):
            await stale.verify(token)  # the keys it holds, while Sump does not answer
        assert sump.requests == 2, "one fetch, then one failed attempt within the floor"

        sump.failure = None
        down.refetch_floor_seconds = 0
        assert str((await down.verify(token)).environment_id) == world.environment_id


@pytest.mark.asvs("JWT-07")
async def test_keys_held_past_their_staleness_stop_verifying_while_sump_cannot_be_reached(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """Cut off from Sump, the verifier keeps the keys it holds for `max_stale_seconds` after their fetch, then
    refuses every token until Sump answers again: a key withdrawn meanwhile is not trusted for ever."""
    token = await access_token(client, world)
    sump = FlakySump(app)
    async with httpx.AsyncClient(transport=sump) as http:
        verifier = JwksVerifier.for_environment(
            "http://sump.test", world.environment_id, client=http, cache_seconds=0, refetch_floor_seconds=0
        )
        await verifier.verify(token)
        sump.failure = httpx.Response(503)
        await verifier.verify(token)  # within a day of the fetch: the keys held still count
        verifier.max_stale_seconds = 0
        with pytest.raises(TokenError, match="the signing keys cannot be fetched"):
            await verifier.verify(token)
        sump.failure = None
        assert str((await verifier.verify(token)).environment_id) == world.environment_id


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>Sign in to the proxy</html>"),
        httpx.Response(200, json=["not", "a", "key", "set"]),
        httpx.Response(200, json={"keys": "none"}),
        httpx.Response(200, json={"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": "AA", "y": "AA"}]}),
        httpx.Response(200, json={"keys": ["k", keys.public_jwk(ec.generate_private_key(ec.SECP256R1()))]}),
    ],
    ids=["html", "a list", "keys not a list", "a key off the curve", "keys without a kid"],
)
async def test_an_answer_that_is_no_jwks_refuses_the_token_not_the_app(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, answer: httpx.Response
) -> None:
    """What a proxy or a misconfigured URL answers instead of the JWKS is a fetch that failed: the verifier raises
    `TokenError` (so `current_user` answers 401), never another exception (a 500 of the app)."""
    token = await access_token(client, world)
    sump = FlakySump(app)
    sump.failure = answer
    async with httpx.AsyncClient(transport=sump) as http:
        verifier = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=http)
        with pytest.raises(TokenError):
            await verifier.verify(token)
