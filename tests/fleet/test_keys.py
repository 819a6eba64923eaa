"""A key rotation made on one node reaches every node's JWKS within `JWKS_FRESH` seconds, and the tokens the
new keys sign verify against every node (the SDK's verifier, as an application uses it)."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest

from sump.sdk import JwksVerifier
from sump.tokens.service import JWKS_FRESH
from tests.fleet.fleet import Fleet, Tenant
from tests.support import PASSWORD

pytestmark = pytest.mark.fleet
# The documented delay, plus the time one poll of three nodes and the proxy may take on a busy machine.
PUBLISHED_WITHIN = JWKS_FRESH + 3


def kids(fleet: Fleet, url: str, environment_id: str) -> set[str]:
    with fleet.client(url) as http:
        response = http.get(f"/api/v1/environments/{environment_id}/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    return {key["kid"] for key in response.json()["keys"]}


def rotate(fleet: Fleet, url: str, tenant: Tenant) -> str:
    with fleet.client(url) as http:
        response = http.post(
            f"/api/v1/tenants/{tenant.tenant_id}/environments/{tenant.environment_id}/keys/rotate",
            headers=tenant.owner_auth,
        )
    assert response.status_code == 200, response.text
    kid: str = response.json()["kid"]
    return kid


def access_token(fleet: Fleet, url: str, tenant: Tenant) -> str:
    user = fleet.new_end_user(tenant)
    with fleet.client(url) as http:
        response = http.post(
            f"/api/v1/auth/environments/{tenant.environment_id}/token",
            json={"grantType": "password", "email": user.email, "password": PASSWORD},
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["accessToken"]
    return token


async def verified_everywhere(fleet: Fleet, tenant: Tenant, token: str) -> None:
    """A fresh verifier per node (and the proxy), as each application would have, verifies the token."""
    for url in fleet.everywhere:
        async with httpx.AsyncClient(verify=fleet.trust, timeout=10) as http:
            verifier = JwksVerifier.for_environment(
                url, tenant.environment_id, public_url=fleet.public_url, client=http
            )
            principal = await verifier.verify(token)
        assert str(principal.environment_id) == tenant.environment_id, url


async def test_a_rotation_on_one_node_is_published_and_verified_by_every_node(fleet: Fleet) -> None:
    tenant = fleet.new_tenant()
    first, second, third = (node.base_url for node in fleet.nodes)
    access_token(fleet, first, tenant)  # the environment's first keys
    before = {url: kids(fleet, url, tenant.environment_id) for url in fleet.everywhere}  # each node keeps its JWKS
    assert len(set(map(frozenset, before.values()))) == 1, before

    rotated = rotate(fleet, first, tenant)
    rotated_at = time.monotonic()
    assert rotated in before[first], "the key made active was published before it signs"
    [upcoming] = kids(fleet, first, tenant.environment_id) - before[first]  # the next key, made by the rotation
    waiting = set(fleet.everywhere)
    while waiting and time.monotonic() - rotated_at < PUBLISHED_WITHIN:
        waiting -= {url for url in waiting if upcoming in kids(fleet, url, tenant.environment_id)}
        await asyncio.sleep(0.2)  # between polls of the JWKS, which is what is awaited
    assert not waiting, f"not published within {PUBLISHED_WITHIN} s of the rotation: {sorted(waiting)}"

    token = access_token(fleet, second, tenant)
    assert jwt.get_unverified_header(token)["kid"] == rotated
    await verified_everywhere(fleet, tenant, token)

    # A second rotation, on another node, makes the key that the first one published active: its tokens verify
    # on every node because every node published it before it signed anything.
    assert rotate(fleet, third, tenant) == upcoming
    token = access_token(fleet, first, tenant)
    assert jwt.get_unverified_header(token)["kid"] == upcoming
    await verified_everywhere(fleet, tenant, token)
