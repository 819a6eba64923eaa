"""Environments: create, list with pagination, read, rename, custom properties, delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.sessions import AccountType, Session
from tests.support import TenantWorld


async def create_environment(client: httpx.AsyncClient, world: TenantWorld, name: str, **extra: object) -> str:
    response = await client.post(f"{world.base}/environments", json={"name": name, **extra}, headers=world.owner.auth)
    assert response.status_code == 201, response.text
    environment_id: str = response.json()["id"]
    return environment_id


async def test_create_and_read(client: httpx.AsyncClient, world: TenantWorld) -> None:
    environment_id = await create_environment(client, world, "staging", customProperties={"tier": "gold"})
    response = await client.get(f"{world.base}/environments/{environment_id}", headers=world.owner.auth)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == environment_id
    assert body["tenantId"] == world.tenant_id
    assert body["name"] == "staging"
    assert body["customProperties"] == {"tier": "gold"}
    assert {"createdAt", "updatedAt"} <= set(body)


async def test_default_environment_is_readable(client: httpx.AsyncClient, world: TenantWorld) -> None:
    response = await client.get(f"{world.base}/environments/{world.environment_id}", headers=world.owner.auth)
    assert response.json()["name"] == "default"


async def test_names_are_unique_per_tenant(client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld) -> None:
    await create_environment(client, world, "prod")
    duplicate = await client.post(f"{world.base}/environments", json={"name": "prod"}, headers=world.owner.auth)
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "environment_name_taken"
    await create_environment(client, other, "prod")


async def test_rename_and_conflict(client: httpx.AsyncClient, world: TenantWorld) -> None:
    first = await create_environment(client, world, "one")
    await create_environment(client, world, "two")
    url = f"{world.base}/environments/{first}"
    assert (await client.patch(url, json={"name": "uno"}, headers=world.owner.auth)).status_code == 204
    assert (await client.get(url, headers=world.owner.auth)).json()["name"] == "uno"
    clash = await client.patch(url, json={"name": "two"}, headers=world.owner.auth)
    assert clash.status_code == 409
    assert (await client.patch(url, json={}, headers=world.owner.auth)).status_code == 400


async def test_list_pages_with_link_header(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = {world.environment_id} | {await create_environment(client, world, f"env-{i}") for i in range(4)}
    seen: list[str] = []
    url: str | None = f"{world.base}/environments?limit=2"
    while url:
        response = await client.get(url, headers=world.owner.auth)
        assert response.status_code == 200
        assert isinstance(response.json(), list)
        seen += [environment["id"] for environment in response.json()]
        url = response.links.get("next", {}).get("url")
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "AAAA"])
async def test_list_rejects_bad_cursor(client: httpx.AsyncClient, world: TenantWorld, cursor: str) -> None:
    response = await client.get(f"{world.base}/environments", params={"cursor": cursor}, headers=world.owner.auth)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


async def test_custom_properties_set_update_and_delete(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/environments/{world.environment_id}"
    await client.patch(f"{url}/custom-property", json={"max_users": 100, "tier": "free"}, headers=world.owner.auth)
    await client.patch(f"{url}/custom-property", json={"max_users": 200}, headers=world.owner.auth)
    assert (await client.get(url, headers=world.owner.auth)).json()["customProperties"] == {
        "max_users": 200,
        "tier": "free",
    }
    removed = await client.request(
        "DELETE", f"{url}/custom-property", json={"customProperty": "max_users"}, headers=world.owner.auth
    )
    assert removed.status_code == 204
    assert (await client.get(url, headers=world.owner.auth)).json()["customProperties"] == {"tier": "free"}


async def test_custom_property_limits_apply(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/environments/{world.environment_id}/custom-property"
    too_many = await client.patch(url, json={f"k{i}": 1 for i in range(65)}, headers=world.owner.auth)
    assert too_many.status_code == 400
    too_big = await client.patch(url, json={"blob": "x" * 17000}, headers=world.owner.auth)
    assert too_big.status_code == 413
    create_too_big = await client.post(
        f"{world.base}/environments",
        json={"name": "big", "customProperties": {"b": "x" * 17000}},
        headers=world.owner.auth,
    )
    assert create_too_big.status_code == 413


async def test_delete_removes_environment_and_its_sessions(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    """End-user sessions are bound to their environment and go with it."""
    environment_id = await create_environment(client, world, "doomed")
    end_user_session = Session(
        token_hash=uuid.uuid4().bytes * 2,
        tenant_id=uuid.UUID(world.tenant_id),
        environment_id=uuid.UUID(environment_id),
        account_type=AccountType.ENVIRONMENT_ACCOUNT,
        account_id=uuid.uuid4(),
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    db.add(end_user_session)
    await db.commit()

    url = f"{world.base}/environments/{environment_id}"
    assert (await client.delete(url, headers=world.owner.auth)).status_code == 204
    assert (await client.get(url, headers=world.owner.auth)).status_code == 404
    assert (await client.delete(url, headers=world.owner.auth)).status_code == 404
    remaining = await db.scalar(
        select(func.count()).select_from(Session).where(Session.environment_id == uuid.UUID(environment_id))
    )
    assert remaining == 0


async def test_user_reads_but_cannot_change(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    url = f"{world.base}/environments/{world.environment_id}"
    assert (await client.get(url, headers=user.auth)).status_code == 200
    assert (await client.get(f"{world.base}/environments", headers=user.auth)).status_code == 200
    assert (await client.patch(url, json={"name": "nope"}, headers=user.auth)).status_code == 403
    assert (await client.delete(url, headers=user.auth)).status_code == 403
    assert (await client.post(f"{world.base}/environments", json={"name": "x1"}, headers=user.auth)).status_code == 403


async def test_other_tenants_environment_is_not_found(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    """Even with the right environment id, a path through one's own tenant does not reach another tenant's."""
    response = await client.get(f"{world.base}/environments/{other.environment_id}", headers=world.owner.auth)
    assert response.status_code == 404
    assert response.json()["code"] == "environment_not_found"


OTHER_DEFAULTS = {
    "factorPolicy": "optional",
    "emailVerification": True,
    "requireVerifiedEmail": False,
    "magicLinksEnabled": False,
    "passkeyRpId": None,
    "passkeyOrigins": [],
    "displayName": None,
    "logoUrl": None,
    "primaryColor": None,
}


async def test_settings_patch_changes_only_the_given_fields(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/environments/{world.environment_id}"
    full = {"signupEnabled": True, "passwordMinLength": 12, "passwordMaxLength": 64}
    assert (await client.patch(url, json={"settings": full}, headers=world.owner.auth)).status_code == 204
    only_signup = await client.patch(url, json={"settings": {"signupEnabled": False}}, headers=world.owner.auth)
    assert only_signup.status_code == 204
    assert (await client.get(url, headers=world.owner.auth)).json()["settings"] == {
        "signupEnabled": False,
        "passwordMinLength": 12,
        "passwordMaxLength": 64,
        **OTHER_DEFAULTS,
    }
    only_max = await client.patch(url, json={"settings": {"passwordMaxLength": 200}}, headers=world.owner.auth)
    assert only_max.status_code == 204
    renamed = await client.patch(url, json={"name": "kept-settings"}, headers=world.owner.auth)
    assert renamed.status_code == 204
    assert (await client.get(url, headers=world.owner.auth)).json()["settings"] == {
        "signupEnabled": False,
        "passwordMinLength": 12,
        "passwordMaxLength": 200,
        **OTHER_DEFAULTS,
    }


async def test_origins_outside_the_relying_party_are_refused_by_their_place_never_echoed(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    url = f"{world.base}/environments/{world.environment_id}"
    origins = ["https://app.example.com", "https://chosen-text.test", "https://evil.example.org"]
    settings = {"passkeyRpId": "example.com", "passkeyOrigins": origins}
    refused = await client.patch(url, json={"settings": settings}, headers=world.owner.auth)
    assert (refused.status_code, refused.json()["code"]) == (400, "validation_failed")
    assert refused.json()["errors"] == {
        "settings": "passkeyOrigins must be on passkeyRpId's domain or under it (not so: entries 2, 3 of the list)."
    }
    assert "chosen-text" not in refused.text


async def test_settings_patch_checks_the_merged_result(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/environments/{world.environment_id}"
    await client.patch(url, json={"settings": {"passwordMinLength": 20}}, headers=world.owner.auth)
    below_min = await client.patch(url, json={"settings": {"passwordMaxLength": 10}}, headers=world.owner.auth)
    assert below_min.status_code == 400
    assert below_min.json()["code"] == "validation_failed"
    assert below_min.json()["errors"] == {"settings": "passwordMinLength must not exceed passwordMaxLength."}
    both = await client.patch(
        url, json={"settings": {"passwordMinLength": 100, "passwordMaxLength": 50}}, headers=world.owner.auth
    )
    assert both.status_code == 400
    assert both.json()["errors"] == {"settings": "passwordMinLength must not exceed passwordMaxLength."}
    for invalid in ({"passwordMinLength": None}, {"signupEnabled": None}, {}, {"passwordMinLength": 4}):
        refused = await client.patch(url, json={"settings": invalid}, headers=world.owner.auth)
        assert refused.status_code == 400, invalid
        assert refused.json()["code"] == "validation_failed", invalid
    assert (await client.get(url, headers=world.owner.auth)).json()["settings"] == {
        "signupEnabled": True,
        "passwordMinLength": 20,
        "passwordMaxLength": 128,
        **OTHER_DEFAULTS,
    }
