"""`GET …/session` renders its body itself: it must say exactly what the documented `SessionView` says."""

from __future__ import annotations

import httpx

from tests.support import TenantWorld


async def test_session_body_is_the_session_view_of_the_list(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    base = f"/api/v1/auth/environments/{world.environment_id}"
    one = await client.get(f"{base}/session", headers=user.auth)
    listed = await client.get(f"{base}/sessions", headers=user.auth)
    assert one.status_code == listed.status_code == 200
    assert one.headers["content-type"] == listed.headers["content-type"] == "application/json"
    [entry] = listed.json()
    assert entry.pop("current") is True
    assert one.json() == entry
    assert set(entry) >= {"id", "accountType", "accountId", "contextType", "contextId", "expiresAt", "createdAt"}


async def test_tenant_session_body_and_binding(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    own = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
    assert own.status_code == 200
    assert own.json()["contextType"] == "tenant"
    assert own.json()["contextId"] == world.tenant_id
    assert own.json()["accountType"] == "tenant_account"
    assert own.json()["accountId"] == world.owner.account_id
    for path in (
        f"/api/v1/auth/tenants/{other.tenant_id}/session",  # another tenant
        f"/api/v1/auth/environments/{world.environment_id}/session",  # the other family
    ):
        refused = await client.get(path, headers=world.owner.auth)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="sump"'
