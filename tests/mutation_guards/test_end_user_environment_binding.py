"""An end user's session counts only in its own environment: another environment of the same tenant answers
401 on every environment route, and nothing is read or written there."""

from __future__ import annotations

import httpx
import pytest

from tests.support import TenantWorld


@pytest.mark.asvs("AC-02", "AC-08", "SESS-09")
async def test_an_end_user_is_a_stranger_in_a_sibling_environment(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user()
    sibling = await world.add_environment()
    there = f"/api/v1/environments/{sibling}"

    created = await client.post(f"{there}/organizations", json={"name": "planted-org"}, headers=user.auth)
    listed = await client.get(f"{there}/organizations", headers=user.auth)
    own_profile = await client.get(f"{there}/accounts/{user.account_id}", headers=user.auth)

    for response in (created, listed, own_profile):
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthenticated"
    seen_by_owner = await client.get(f"{there}/organizations", headers=world.owner.auth)
    assert seen_by_owner.status_code == 200
    assert seen_by_owner.json() == []
    at_home = await client.get(f"/api/v1/environments/{user.environment_id}/organizations", headers=user.auth)
    assert at_home.status_code == 200
