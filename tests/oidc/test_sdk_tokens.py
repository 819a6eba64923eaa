"""An access token from the code flow is still Sump's: the SDK a resource server uses verifies it (issuer,
the environment as audience, the environment's keys), and sees the client it went to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sump.sdk import JwksVerifier, TokenError
from tests.oidc.support import new_rp, tokens_for
from tests.support import TenantWorld


@pytest.fixture
async def sump_http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sump.test") as http:
        yield http


async def test_the_sdk_verifies_a_code_flow_access_token(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, sump_http: httpx.AsyncClient
) -> None:
    rp = await new_rp(client, world)
    user = await world.add_end_user(world.environment_id)
    body = await tokens_for(client, rp, user)
    verifier = JwksVerifier.for_environment("http://sump.test", world.environment_id, client=sump_http)
    principal = await verifier.verify(body["access_token"])
    assert str(principal.account_id) == user.account_id
    assert principal.claims["client_id"] == rp.client_id
    elsewhere = JwksVerifier.for_environment("http://sump.test", other.environment_id, client=sump_http)
    with pytest.raises(TokenError):
        await elsewhere.verify(body["access_token"])
    with pytest.raises(TokenError):
        await verifier.verify(body["id_token"])  # an ID token is no access token
