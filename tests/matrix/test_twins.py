"""Twin tenants, whose owners, members, environments and end users carry the same identifiers, each list only
their own rows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.matrix.scene import person
from tests.support import PASSWORD, TenantWorld, new_tenant


async def twin(client: httpx.AsyncClient, owner: dict[str, Any], member: dict[str, Any]) -> TenantWorld:
    """A tenant whose owner, member, environment and end user carry the same identifiers as its twin's."""
    world = await new_tenant(client, account=owner, environment={"name": "production"})
    for url, body in (
        (f"{world.base}/accounts", member),
        (f"{world.base}/environments", {"name": "staging"}),
        (f"/api/v1/environments/{world.environment_id}/accounts", member),
    ):
        response = await client.post(url, json=body, headers=world.owner.auth)
        assert response.status_code == 201, response.text
    return world


async def listed(client: httpx.AsyncClient, world: TenantWorld, url: str) -> list[dict[str, Any]]:
    response = await client.get(url, params={"limit": 200}, headers=world.owner.auth)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


@pytest.mark.asvs("AC-08")
async def test_twin_tenants_list_only_their_own_rows(client: httpx.AsyncClient) -> None:
    owner = {**person(), "password": PASSWORD}
    member = person()
    a = await twin(client, owner, member)
    b = await twin(client, owner, member)

    for one, other in ((a, b), (b, a)):
        lists = {
            "accounts": await listed(client, one, f"{one.base}/accounts"),
            "environments": await listed(client, one, f"{one.base}/environments"),
            "end users": await listed(client, one, f"/api/v1/environments/{one.environment_id}/accounts"),
            "tenant environments": (await client.get(one.base, headers=one.owner.auth)).json()["environments"],
        }
        others = {
            "accounts": await listed(client, other, f"{other.base}/accounts"),
            "environments": await listed(client, other, f"{other.base}/environments"),
            "end users": await listed(client, other, f"/api/v1/environments/{other.environment_id}/accounts"),
        }
        for name, rows in lists.items():
            assert {row["tenantId"] for row in rows} == {one.tenant_id}, name
        assert len(lists["accounts"]) == 2
        assert {row["name"] for row in lists["environments"]} == {"production", "staging"}
        assert [row["environmentId"] for row in lists["end users"]] == [one.environment_id]
        for name, rows in others.items():
            assert not {row["id"] for row in lists[name]} & {row["id"] for row in rows}, name

        found = await client.get(
            f"{one.base}/accounts/user-defined-identification",
            params={"email": member["email"]},
            headers=one.owner.auth,
        )
        assert found.status_code == 200
        assert found.json()["tenantId"] == one.tenant_id
        assert found.json()["id"] in {row["id"] for row in lists["accounts"]}
