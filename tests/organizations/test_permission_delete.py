"""`DELETE …/permissions/{permissionName}`: a custom permission goes once no role grants it; the nine built-in
permissions stay."""

from __future__ import annotations

import httpx
import pytest

from tests.organizations.support import catalog_url
from tests.support import TenantWorld


@pytest.mark.asvs("AC-02", "AC-03")
async def test_custom_permissions_are_deleted_once_no_role_grants_them(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    owner = world.owner.auth
    created = await client.post(catalog_url(world, "permissions"), json={"name": "invoices:read"}, headers=owner)
    assert created.status_code == 201, created.text
    role = {"name": "BILLING", "permissions": ["invoices:read"]}
    assert (await client.post(catalog_url(world, "roles"), json=role, headers=owner)).status_code == 201
    url = catalog_url(world, "permissions/invoices:read")

    in_use = await client.delete(url, headers=owner)
    assert (in_use.status_code, in_use.json()["code"]) == (409, "permission_in_use")
    assert "BILLING" in in_use.json()["detail"]
    builtin = await client.delete(catalog_url(world, "permissions/projects:read"), headers=owner)
    assert (builtin.status_code, builtin.json()["code"]) == (409, "builtin_permission")
    user = await world.add_member("user")
    assert (await client.delete(url, headers=user.auth)).status_code == 403
    assert (await client.delete(catalog_url(world, "permissions/Not%20A%20Name"), headers=owner)).status_code == 400

    changed = await client.patch(catalog_url(world, "roles/BILLING"), json={"permissions": []}, headers=owner)
    assert changed.status_code == 200, changed.text
    admin = await world.add_member("admin")
    assert (await client.delete(url, headers=admin.auth)).status_code == 204
    listed = await client.get(catalog_url(world, "permissions"), headers=owner)
    assert "invoices:read" not in [permission["name"] for permission in listed.json()]
    assert (await client.delete(url, headers=owner)).status_code == 404
    events = await client.get(f"{world.base}/audit-events", params={"action": "permission.deleted"}, headers=owner)
    assert [event["action"] for event in events.json()] == ["permission.deleted"]
