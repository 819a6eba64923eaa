"""A session counts only where its account belongs: a tenant account's on its own tenant's `/auth/tenants/…`
routes, an end user's on its own environment's; anywhere else it is no session at all (401)."""

from __future__ import annotations

import httpx

from tests.support import TenantWorld


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthenticated"


async def test_a_tenant_accounts_session_is_no_session_on_another_tenants_routes(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    elsewhere = f"/api/v1/auth/tenants/{other.tenant_id}"
    assert_unauthenticated(await client.get(f"{elsewhere}/sessions", headers=world.owner.auth))
    assert_unauthenticated(await client.get(f"{elsewhere}/me/factors", headers=world.owner.auth))
    assert_unauthenticated(await client.post(f"{elsewhere}/logout-all", headers=world.owner.auth))
    own = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/sessions", headers=world.owner.auth)
    assert own.status_code == 200, own.text  # nothing was ended
    assert len(own.json()) == 1


async def test_an_end_users_session_is_no_session_in_another_environment_of_the_tenant(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    elsewhere = f"/api/v1/auth/environments/{await world.add_environment()}"
    assert_unauthenticated(await client.get(f"{elsewhere}/sessions", headers=user.auth))
    assert_unauthenticated(await client.get(f"{elsewhere}/me/factors", headers=user.auth))
    assert_unauthenticated(await client.post(f"{elsewhere}/logout-all", headers=user.auth))
    own = await client.get(f"{user.auth_base}/sessions", headers=user.auth)
    assert own.status_code == 200, own.text  # nothing was ended
    assert len(own.json()) == 1


async def test_an_end_users_session_is_no_session_on_another_environments_routes(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The environment's own routes (`/environments/{environmentId}/…`) that end users may call answer another
    environment's end user as they answer no session, even in the same tenant."""
    user = await world.add_end_user(world.environment_id)
    own = f"/api/v1/environments/{world.environment_id}"
    elsewhere = f"/api/v1/environments/{await world.add_environment()}"
    assert (await client.get(f"{own}/accounts/{user.account_id}", headers=user.auth)).status_code == 200
    assert_unauthenticated(await client.get(f"{elsewhere}/accounts/{user.account_id}", headers=user.auth))
    assert_unauthenticated(await client.get(f"{elsewhere}/audit-events", headers=user.auth))
    assert_unauthenticated(
        await client.patch(f"{elsewhere}/accounts/{user.account_id}", json={"name": "Moved"}, headers=user.auth)
    )
