"""An environment's permission catalog and roles, managed by the tenant's owners and admins."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.organizations.support import (
    ALL_NINE,
    ORG_USER_PERMISSIONS,
    READ_ONLY_PERMISSIONS,
    add_member,
    catalog_url,
    create_org,
    orgs_url,
)
from tests.support import TenantWorld


@pytest.mark.asvs("AC-02", "AC-03")
async def test_tenant_admins_manage_the_catalog_and_roles(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    permissions = await client.get(catalog_url(world, "permissions"), headers=world.owner.auth)
    assert permissions.status_code == 200
    assert [permission["name"] for permission in permissions.json()] == ALL_NINE
    roles = await client.get(catalog_url(world, "roles"), headers=world.owner.auth)
    assert {role["name"]: (role["permissions"], role["builtin"]) for role in roles.json()} == {
        "ORG_ADMIN": (ALL_NINE, True),
        "ORG_USER": (ORG_USER_PERMISSIONS, True),
        "READ_ONLY": (READ_ONLY_PERMISSIONS, True),
    }

    tenant_admin, tenant_user = await world.add_member("admin"), await world.add_member("user")
    existing = await client.post(
        catalog_url(world, "permissions"), json={"name": "projects:read"}, headers=world.owner.auth
    )
    assert existing.status_code == 409, "projects:read is one of the nine"
    assert existing.json()["code"] == "permission_exists"
    archive = {"name": "projects:archive", "description": "Archive projects"}
    assert (
        await client.post(catalog_url(world, "permissions"), json=archive, headers=tenant_user.auth)
    ).status_code == 403
    created = await client.post(catalog_url(world, "permissions"), json=archive, headers=tenant_admin.auth)
    assert created.status_code == 201
    assert created.json()["name"] == "projects:archive"
    malformed = await client.post(
        catalog_url(world, "permissions"), json={"name": "Projects"}, headers=world.owner.auth
    )
    assert malformed.status_code == 400
    listed = await client.get(catalog_url(world, "permissions"), headers=tenant_user.auth)
    assert "projects:archive" in [permission["name"] for permission in listed.json()]

    archivist = {"name": "ARCHIVIST", "description": "Archives", "permissions": ["projects:read", "projects:archive"]}
    role = await client.post(catalog_url(world, "roles"), json=archivist, headers=world.owner.auth)
    assert role.status_code == 201
    assert role.json() | {"createdAt": None, "updatedAt": None} == {
        "name": "ARCHIVIST",
        "description": "Archives",
        "permissions": ["projects:archive", "projects:read"],
        "builtin": False,
        "createdAt": None,
        "updatedAt": None,
    }
    assert (await client.post(catalog_url(world, "roles"), json=archivist, headers=world.owner.auth)).status_code == 409
    unknown = {"name": "GHOST", "permissions": ["ghost:walk"]}
    rejected = await client.post(catalog_url(world, "roles"), json=unknown, headers=world.owner.auth)
    assert rejected.status_code == 400
    assert rejected.json()["code"] == "unknown_permission"
    assert (
        await client.post(catalog_url(world, "roles"), json={"name": "X"}, headers=tenant_user.auth)
    ).status_code == 403

    edit = await client.patch(
        catalog_url(world, "roles/ORG_USER"),
        json={"permissions": [*ORG_USER_PERMISSIONS, "projects:archive"]},
        headers=tenant_admin.auth,
    )
    assert edit.status_code == 200
    assert edit.json()["permissions"] == sorted([*ORG_USER_PERMISSIONS, "projects:archive"])
    bad_edit = await client.patch(
        catalog_url(world, "roles/ORG_USER"), json={"permissions": ["ghost:walk"]}, headers=world.owner.auth
    )
    assert bad_edit.status_code == 400
    assert (await client.patch(catalog_url(world, "roles/NOPE"), json={}, headers=world.owner.auth)).status_code == 404

    for builtin in ("ORG_ADMIN", "ORG_USER", "READ_ONLY"):
        kept = await client.delete(catalog_url(world, f"roles/{builtin}"), headers=world.owner.auth)
        assert kept.status_code == 409
        assert kept.json()["code"] == "builtin_role"

    admin, holder = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
    organization_id = await create_org(client, admin)
    await add_member(client, world.owner, organization_id, holder, "ARCHIVIST")
    in_use = await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=world.owner.auth)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "role_in_use"
    members_url = orgs_url(world.environment_id, organization_id, "members")
    await client.patch(f"{members_url}/{holder.account_id}", json={"role": "ORG_USER"}, headers=admin.auth)
    assert (await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=tenant_user.auth)).status_code == 403
    assert (await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=world.owner.auth)).status_code == 204
    assert (await client.delete(catalog_url(world, "roles/ARCHIVIST"), headers=world.owner.auth)).status_code == 404
    names = [role["name"] for role in (await client.get(catalog_url(world, "roles"), headers=world.owner.auth)).json()]
    assert names == ["ORG_ADMIN", "ORG_USER", "READ_ONLY"]

    for method, what in (
        ("GET", "permissions"),
        ("POST", "permissions"),
        ("GET", "roles"),
        ("DELETE", "roles/ORG_USER"),
    ):
        body = {"name": "stolen:thing"} if method == "POST" else None
        answer = await client.request(method, catalog_url(world, what), json=body, headers=other.owner.auth)
        assert answer.status_code == 404, (method, what)
        foreign_environment = catalog_url(world, what, other.environment_id)
        assert (
            await client.request(method, foreign_environment, json=body, headers=world.owner.auth)
        ).status_code == 404
    assert (await client.get(catalog_url(world, "roles"))).status_code == 401
    end_user = await world.add_end_user(world.environment_id)
    assert (await client.get(catalog_url(world, "roles"), headers=end_user.auth)).status_code == 401


# --- audit --------------------------------------------------------------------------------------------------


async def catalog_events(client: httpx.AsyncClient, world: TenantWorld) -> list[dict[str, Any]]:
    """The environment's role and permission events, oldest first, as the tenant's audit log shows them."""
    response = await client.get(
        f"{world.base}/audit-events", params={"environmentId": world.environment_id}, headers=world.owner.auth
    )
    assert response.status_code == 200, response.text
    kinds = ("permission.", "role.")
    return [event for event in reversed(response.json()) if event["action"].startswith(kinds)]


@pytest.mark.asvs("LOG-04")
async def test_catalog_and_role_changes_are_audited(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    permission = {"name": "reports:read", "description": "Read reports"}
    assert (
        await client.post(catalog_url(world, "permissions"), json=permission, headers=admin.auth)
    ).status_code == 201
    auditor = {"name": "AUDITOR", "description": "Audits", "permissions": ["reports:read", "audit:read"]}
    assert (await client.post(catalog_url(world, "roles"), json=auditor, headers=world.owner.auth)).status_code == 201
    edit = {"description": "Reads the log", "permissions": ["audit:read"]}
    assert (await client.patch(catalog_url(world, "roles/AUDITOR"), json=edit, headers=admin.auth)).status_code == 200
    same = await client.patch(catalog_url(world, "roles/AUDITOR"), json=edit, headers=admin.auth)
    assert same.status_code == 200, "a change to the same values is no change"
    builtin = {"permissions": ["tenant:read"]}
    assert (
        await client.patch(catalog_url(world, "roles/READ_ONLY"), json=builtin, headers=world.owner.auth)
    ).status_code == 200
    assert (await client.delete(catalog_url(world, "roles/AUDITOR"), headers=world.owner.auth)).status_code == 204

    events = await catalog_events(client, world)
    assert [(event["action"], event["actorId"], event["targetType"]) for event in events] == [
        ("permission.created", admin.account_id, "permission"),
        ("role.created", world.owner.account_id, "role"),
        ("role.updated", admin.account_id, "role"),
        ("role.updated", world.owner.account_id, "role"),
        ("role.deleted", world.owner.account_id, "role"),
    ]
    assert [event["details"] for event in events] == [
        {"name": "reports:read"},
        {"name": "AUDITOR", "permissions": ["audit:read", "reports:read"]},
        {
            "name": "AUDITOR",
            "description": "Reads the log",
            "previousPermissions": ["audit:read", "reports:read"],
            "permissions": ["audit:read"],
        },
        {
            "name": "READ_ONLY",
            "previousPermissions": READ_ONLY_PERMISSIONS,
            "permissions": ["tenant:read"],
        },
        {"name": "AUDITOR"},
    ]
    created, updated, _, deleted = events[1:]
    assert created["targetId"] == updated["targetId"] == deleted["targetId"] is not None
    assert {event["environmentId"] for event in events} == {world.environment_id}
    assert {event["actorType"] for event in events} == {"tenant_account"}
    assert {event["outcome"] for event in events} == {"success"}


@pytest.mark.asvs("LOG-04")
async def test_refused_catalog_changes_leave_no_success_event(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """Events are written in the change's transaction: a change refused after its first write records nothing."""
    holder_role = {"name": "HOLDER", "permissions": ["projects:read"]}
    assert (
        await client.post(catalog_url(world, "roles"), json=holder_role, headers=world.owner.auth)
    ).status_code == 201
    admin, holder = await world.add_end_user(world.environment_id), await world.add_end_user(world.environment_id)
    organization_id = await create_org(client, admin)
    await add_member(client, world.owner, organization_id, holder, "HOLDER")
    in_use = await client.delete(catalog_url(world, "roles/HOLDER"), headers=world.owner.auth)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "role_in_use"
    builtin = await client.delete(catalog_url(world, "roles/ORG_USER"), headers=world.owner.auth)
    assert builtin.json()["code"] == "builtin_role"
    tenant_user = await world.add_member("user")
    denied = await client.post(catalog_url(world, "permissions"), json={"name": "x:y"}, headers=tenant_user.auth)
    assert denied.status_code == 403
    unknown = await client.patch(
        catalog_url(world, "roles/HOLDER"), json={"permissions": ["ghost:walk"]}, headers=world.owner.auth
    )
    assert unknown.json()["code"] == "unknown_permission"

    assert [event["action"] for event in await catalog_events(client, world)] == ["role.created"]
    roles = (await client.get(catalog_url(world, "roles"), headers=world.owner.auth)).json()
    assert {role["name"]: role["permissions"] for role in roles}["HOLDER"] == ["projects:read"]
