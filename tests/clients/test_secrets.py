"""Client authentication and secret rotation: the live secrets of a client of this environment (or of the
tenant's automation) and nothing else; a rotation's overlap, and an overlap of 0 that ends the old secret at
once."""

from __future__ import annotations

import base64
import hmac
import uuid

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sump.clients import service
from tests.clients.support import application, automation, clients_url, machine, register
from tests.support import TenantWorld


async def _check(
    db: AsyncSession, world: TenantWorld, client_id: str, secret: str | None, env: str | None = None
) -> bool:
    environment_id = uuid.UUID(env or world.environment_id) if env != "" else None
    found = await service.authenticate(db, environment_id, uuid.UUID(world.tenant_id), client_id, secret)
    matched = found is not None and found.client_id == client_id
    await db.rollback()
    return matched


async def test_authenticate(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, db: AsyncSession
) -> None:
    created = await register(client, world, machine())
    client_id, secret = created["clientId"], created["clientSecret"]
    assert await _check(db, world, client_id, secret)
    assert not await _check(db, world, client_id, secret + "x")
    assert not await _check(db, world, client_id, None)
    assert not await _check(db, world, client_id, "")
    assert not await _check(db, world, "sump_" + "0" * 32, secret)
    assert not await _check(db, world, client_id, secret, env=await world.add_environment())
    assert not await _check(db, world, client_id, secret, env="")  # not an automation client of the tenant
    assert not await _check(db, other, client_id, secret, env=other.environment_id)
    assert await service.for_environment(db, uuid.UUID(world.environment_id), client_id) is not None
    assert await service.for_environment(db, uuid.UUID(other.environment_id), client_id) is None


async def test_public_client_passes_only_without_a_secret(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    created = await register(client, world, application(kind="public"))
    assert await _check(db, world, created["clientId"], None)
    assert not await _check(db, world, created["clientId"], "anything")


async def test_automation_clients_authenticate_without_environment(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    created = await automation(client, world, ["environments:read"])
    assert await _check(db, world, created["clientId"], created["clientSecret"], env="")
    assert not await _check(db, world, created["clientId"], created["clientSecret"])
    assert await service.for_environment(db, uuid.UUID(world.environment_id), created["clientId"]) is None


async def test_rotation_overlaps(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    created = await register(client, world, machine())
    url = f"{clients_url(world)}/{created['id']}/secrets"
    rotated = await client.post(url, headers=world.owner.auth)
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    assert body["clientId"] == created["clientId"]
    assert body["clientSecret"] != created["clientSecret"]
    assert "previousSecretsExpireAt" in body
    assert await _check(db, world, created["clientId"], created["clientSecret"])  # the default 24 h overlap
    assert await _check(db, world, created["clientId"], body["clientSecret"])
    again = await client.post(url, json={"overlapSeconds": 0}, headers=world.owner.auth)
    assert again.status_code == 201
    assert not await _check(db, world, created["clientId"], created["clientSecret"])
    assert not await _check(db, world, created["clientId"], body["clientSecret"])
    assert await _check(db, world, created["clientId"], again.json()["clientSecret"])


async def test_rotation_bounds(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = await register(client, world, machine())
    url = f"{clients_url(world)}/{created['id']}/secrets"
    for overlap in (-1, 30 * 24 * 3600 + 1):
        response = await client.post(url, json={"overlapSeconds": overlap}, headers=world.owner.auth)
        assert response.status_code == 400
        assert "overlapSeconds" in response.json()["errors"]


async def test_deleted_client_no_longer_authenticates(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    created = await register(client, world, machine())
    await client.delete(f"{clients_url(world)}/{created['id']}", headers=world.owner.auth)
    assert not await _check(db, world, created["clientId"], created["clientSecret"])


async def test_automation_clients_are_the_owners(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    body = {"name": "robot", "permissions": ["environments:read"]}
    refused = await client.post(f"{world.base}/clients", json=body, headers=admin.auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_role"
    unknown = await client.post(
        f"{world.base}/clients", json={"name": "robot", "permissions": ["tenants:delete"]}, headers=world.owner.auth
    )
    assert unknown.status_code == 400
    none = await client.post(
        f"{world.base}/clients", json={"name": "robot", "permissions": []}, headers=world.owner.auth
    )
    assert none.status_code == 400
    created = await automation(client, world, ["end_users:write", "environments:read"])
    assert created["purpose"] == "automation"
    assert created["environmentId"] is None
    assert created["permissions"] == ["end_users:write", "environments:read"]
    listed = await client.get(f"{world.base}/clients", headers=admin.auth)
    assert [item["id"] for item in listed.json()] == [created["id"]]
    url = f"{world.base}/clients/{created['id']}"
    assert (await client.patch(url, json={"name": "renamed"}, headers=admin.auth)).status_code == 403
    assert (await client.delete(url, headers=admin.auth)).status_code == 403
    changed = await client.patch(url, json={"permissions": ["audit:read"]}, headers=world.owner.auth)
    assert changed.status_code == 204
    assert (await client.get(url, headers=world.owner.auth)).json()["permissions"] == ["audit:read"]
    in_environment = await client.get(f"{clients_url(world)}/{created['id']}", headers=world.owner.auth)
    assert in_environment.status_code == 404


async def test_unknown_client_costs_what_a_wrong_secret_does(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same statements and one constant-time comparison, whether the client exists or not."""
    created = await register(client, world, machine())
    counted = {"compare": 0, "statements": 0}
    real_compare = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        counted["compare"] += 1
        return real_compare(a, b)

    def statement(*_: object) -> None:
        counted["statements"] += 1

    monkeypatch.setattr(hmac, "compare_digest", compare)
    engine = db.bind.sync_engine if isinstance(db.bind, AsyncEngine) else None
    assert engine is not None
    costs = []
    event.listen(engine, "before_cursor_execute", statement)
    try:
        for client_id in (created["clientId"], "sump_" + "0" * 32):
            counted.update(compare=0, statements=0)
            assert not await _check(db, world, client_id, "not the secret")
            costs.append(dict(counted))
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert costs[0] == costs[1]
    assert costs[0]["compare"] == 1


@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize(
    "credentials",
    [b"Basic " + base64.b64encode(b"\xff\xfe:secret"), b"Basic " + base64.b64encode(b"sump_x:\xff")],
    ids=["client id not UTF-8", "secret not UTF-8"],
)
async def test_unreadable_basic_credentials_are_a_failed_authentication(
    client: httpx.AsyncClient, world: TenantWorld, credentials: bytes
) -> None:
    """`Authorization: Basic` with credentials that are not UTF-8 is a client that did not authenticate (401
    `invalid_client`, RFC 6749 §5.2), on every endpoint that authenticates clients: the automation clients'
    token endpoint (form and JSON) and the environment's token, revocation and introspection endpoints."""
    form = {"grant_type": "client_credentials", "token": "t"}
    automation = f"/api/v1/auth/tenants/{world.tenant_id}/token"
    environment = f"/api/v1/auth/environments/{world.environment_id}"
    headers = {"Authorization": credentials.decode("latin-1")}
    requests = {
        "automation token": client.post(automation, data=form, headers=headers),
        "automation token, JSON": client.post(automation, json={"grantType": "client_credentials"}, headers=headers),
        "token": client.post(f"{environment}/token", data=form, headers=headers),
        "revocation": client.post(f"{environment}/token/revoke", data=form, headers=headers),
        "introspection": client.post(f"{environment}/token/introspect", data=form, headers=headers),
    }
    answers = {}
    for name, request in requests.items():
        response = await request
        refusal = response.json()
        answers[name] = (response.status_code, refusal.get("code"), refusal.get("error"))
    assert answers == dict.fromkeys(requests, (401, "invalid_client", "invalid_client"))
