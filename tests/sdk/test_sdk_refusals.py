"""The SDK's verifier refuses the same hostile access tokens as Sump's `…/me`, and never fetches a key from a
URL a token names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sump.sdk import JwksVerifier, Principal, TokenError, current_user
from tests.support import TenantWorld, bearer
from tests.tokens import forgery
from tests.tokens.forgery import Attacker, Genuine


@pytest.fixture
def attacker() -> Attacker:
    return Attacker()


@pytest.fixture
async def network(app: FastAPI, attacker: Attacker) -> AsyncIterator[httpx.AsyncClient]:
    """The SDK's HTTP client: Sump in-process, and the attacker's server, which serves a JWKS and a certificate
    for its own key."""
    mounts = {"http://sump.test": httpx.ASGITransport(app=app), forgery.ATTACKER_URL: attacker.transport()}
    async with httpx.AsyncClient(mounts=mounts) as http:
        yield http


async def assert_refused(
    world: TenantWorld, network: httpx.AsyncClient, attacker: Attacker, real: Genuine, tokens: dict[str, str]
) -> None:
    verifier = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=network)
    principal = await verifier.verify(real.genuine())
    assert str(principal.account_id) == real.claims["sub"], "the forging itself yields good tokens"
    refused = {}
    for name, token in tokens.items():
        try:
            await verifier.verify(token)
        except TokenError:
            refused[name] = True
        else:
            refused[name] = False
    assert refused == dict.fromkeys(tokens, True)
    assert attacker.fetched == [], "no key is fetched from a URL a token names"

    app = FastAPI()
    app.state.sump = verifier

    @app.get("/whoami")
    async def whoami(user: Principal = Depends(current_user)) -> dict[str, str]:
        return {"account": str(user.account_id)}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        assert (await http.get("/whoami", headers=bearer(real.genuine()))).status_code == 200
        for name, token in tokens.items():
            response = await http.get("/whoami", headers=bearer(token))
            assert response.status_code == 401, name
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"', name
            assert response.json() == {"detail": "The access token is not valid."}, name


@pytest.mark.asvs("JWT-04")
async def test_sdk_refuses_another_type_issuer_or_audience(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, network: httpx.AsyncClient, attacker: Attacker
) -> None:
    real = await forgery.signed_in(client, world, db)
    await assert_refused(world, network, attacker, real, forgery.wrong_type_issuer_or_audience(real))


@pytest.mark.asvs("JWT-03")
async def test_sdk_refuses_expired_and_not_yet_valid_tokens(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, network: httpx.AsyncClient, attacker: Attacker
) -> None:
    real = await forgery.signed_in(client, world, db)
    await assert_refused(world, network, attacker, real, forgery.outside_lifetime(real))


@pytest.mark.asvs("JWT-01")
async def test_sdk_ignores_keys_named_in_the_header(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, network: httpx.AsyncClient, attacker: Attacker
) -> None:
    real = await forgery.signed_in(client, world, db)
    await assert_refused(world, network, attacker, real, forgery.key_in_header(real, attacker))


@pytest.mark.asvs("JWT-02")
async def test_sdk_accepts_es256_only(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, network: httpx.AsyncClient, attacker: Attacker
) -> None:
    real = await forgery.signed_in(client, world, db)
    await assert_refused(world, network, attacker, real, forgery.wrong_algorithm(real))


async def test_sdk_refuses_tokens_whose_header_is_not_a_json_object(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, network: httpx.AsyncClient, attacker: Attacker
) -> None:
    """The verifier reads the header itself to choose the key: whatever it cannot read is refused as malformed,
    never an exception of another kind."""
    real = await forgery.signed_in(client, world, db)
    _, payload, signature = real.genuine().split(".")
    headers = {
        "empty": "",
        "not base64": "!!!!",
        "not json": "bm90IGpzb24",  # "not json"
        "a json array": "WyJFUzI1NiJd",  # ["ES256"]
        "a json string": "IkVTMjU2Ig",  # "ES256"
        "truncated": "eyJhbGciOiJFUzI1Ni",
    }
    tokens = {name: f"{header}.{payload}.{signature}" for name, header in headers.items()}
    await assert_refused(world, network, attacker, real, {**tokens, "one segment": "eyJhbGciOiJFUzI1NiJ9"})
    verifier = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=network)
    with pytest.raises(TokenError, match="malformed token"):  # no HTTP header carries it; a caller might
        await verifier.verify(f"ëyJhbGciOiJFUzI1NiJ9.{payload}.{signature}")
