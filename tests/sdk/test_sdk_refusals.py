"""The SDK's verifier refuses the same hostile access tokens as Sump's `…/me`, and never fetches a key from a
URL a token names."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from sump.sdk import JwksVerifier, Principal, TokenError, current_user, require_permissions
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
        # deeper than the JSON parser recurses (a few kilobytes: any server passes such a header)
        "nested 5,000 deep": base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("="),
    }
    tokens = {name: f"{header}.{payload}.{signature}" for name, header in headers.items()}
    await assert_refused(world, network, attacker, real, {**tokens, "one segment": "eyJhbGciOiJFUzI1NiJ9"})
    verifier = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=network)
    with pytest.raises(TokenError, match="malformed token"):  # no HTTP header carries it; a caller might
        await verifier.verify(f"ëyJhbGciOiJFUzI1NiJ9.{payload}.{signature}")


@pytest.mark.asvs("JWT-03")
async def test_sdk_refuses_tokens_without_a_claim_it_requires_or_issued_in_the_future(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, network: httpx.AsyncClient, attacker: Attacker
) -> None:
    """`iat` is required and may not lie in the future beyond the leeway; `jti`, `sub` and `sid` are required too:
    each token below is signed by the environment's real key."""
    real = await forgery.signed_in(client, world, db)
    now = int(time.time())
    without = {
        f"{name} absent": real.sign({claim: value for claim, value in real.claims.items() if claim != name})
        for name in ("iat", "jti", "sub", "sid")
    }
    future = {
        "iat in 61 s": real.with_claims(iat=now + 61),
        "iat in 1 h": real.with_claims(iat=now + 3600),
    }
    await assert_refused(world, network, attacker, real, {**without, **future})


async def test_sdk_dependencies_need_a_bearer_token_and_every_permission(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, network: httpx.AsyncClient
) -> None:
    """`current_user` reads the `Bearer` scheme only, and `require_permissions` lets through a caller holding every
    permission it names, not any one of them."""
    real = await forgery.signed_in(client, world, db)
    app = FastAPI()
    app.state.sump = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=network)

    @app.get("/projects")
    async def projects(
        user: Principal = Depends(require_permissions("projects:read", "projects:delete")),
    ) -> dict[str, str]:
        return {"account": str(user.account_id)}

    one = real.with_claims(permissions=["projects:read"])
    both = real.with_claims(permissions=["projects:read", "projects:delete"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        assert (await http.get("/projects", headers=bearer(both))).json() == {"account": real.claims["sub"]}
        partial = await http.get("/projects", headers=bearer(one))
        assert (partial.status_code, partial.json()) == (403, {"detail": "Missing permission: projects:delete"})
        for scheme in ("Basic", "Token", "Bearer-ish"):
            refused = await http.get("/projects", headers={"authorization": f"{scheme} {both}"})
            assert refused.status_code == 401, scheme
            assert refused.headers["www-authenticate"] == "Bearer", scheme
            assert refused.json() == {"detail": "A bearer access token is required."}, scheme
