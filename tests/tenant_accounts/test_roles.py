"""Tenant accounts: the role hierarchy (owner > admin > user), and roles that never name another tenant."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.tenant_accounts import TenantAccount
from tests.support import PASSWORD, TenantWorld
from tests.tenant_accounts.accounts import (
    Attempt,
    account_body,
    create,
    enabled_owners,
    fetch,
    login_status,
    session_status,
)

# Role hierarchy


@pytest.mark.asvs("AC-03")
async def test_admin_creates_users_only(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    for role in ("owner", "admin"):
        response = await create(world, by=admin, **account_body(world, role))
        assert response.status_code == 403
        assert response.json()["code"] == "role_not_grantable"
    assert (await create(world, by=admin, **account_body(world, "user"))).status_code == 201
    assert (await create(world, by=admin, **account_body(world))).status_code == 201
    accounts = (await client.get(f"{world.base}/accounts", headers=admin.auth)).json()
    assert sorted(account["role"] for account in accounts) == ["admin", "owner", "user", "user"]


@pytest.mark.asvs("AC-03")
async def test_owner_creates_any_role(client: httpx.AsyncClient, world: TenantWorld) -> None:
    for role in ("owner", "admin", "user"):
        response = await create(world, **account_body(world, role))
        assert response.status_code == 201
        assert (await fetch(world, response.json()["id"]))["role"] == role


@pytest.mark.asvs("AC-03")
async def test_admin_cannot_act_on_owner_or_admin(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    peer = await world.add_member("admin")
    for target in (world.owner, peer):
        url = f"{world.base}/accounts/{target.account_id}"
        before = await fetch(world, target.account_id)
        attempts: list[Attempt] = [
            ("PATCH", url, {"name": "Hijacked"}),
            ("PATCH", f"{url}/email", {"email": "hijack@example.com"}),
            ("PATCH", f"{url}/username", {"username": "hijacked"}),
            ("PATCH", f"{url}/phone", {"phone": "+14155550100"}),
            ("PATCH", f"{url}/role", {"role": "user"}),
            ("PATCH", f"{url}/disable", None),
            ("PATCH", f"{url}/enable", None),
            ("DELETE", url, None),
        ]
        for method, path, body in attempts:
            response = await client.request(method, path, json=body, headers=admin.auth)
            assert response.status_code == 403, (method, path)
            assert response.json()["code"] == "insufficient_role"
        assert await fetch(world, target.account_id) == before
        assert await session_status(world, target.token) == 200


@pytest.mark.asvs("AC-03")
async def test_admin_manages_users(client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession) -> None:
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    url = f"{world.base}/accounts/{user.account_id}"
    assert (await client.patch(url, json={"name": "Set By Admin"}, headers=admin.auth)).status_code == 204
    assert (await client.patch(f"{url}/disable", headers=admin.auth)).status_code == 204
    assert (await client.patch(f"{url}/enable", headers=admin.auth)).status_code == 204
    assert (await client.delete(url, headers=admin.auth)).status_code == 204
    assert await db.scalar(select(TenantAccount).where(TenantAccount.id == uuid.UUID(user.account_id))) is None


@pytest.mark.asvs("AC-03")
async def test_user_cannot_call_admin_routes(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    peer = await world.add_member("user")
    url = f"{world.base}/accounts/{peer.account_id}"
    attempts: list[Attempt] = [
        ("POST", f"{world.base}/accounts", account_body(world)),
        ("PATCH", f"{url}/role", {"role": "admin"}),
        ("PATCH", f"{world.base}/accounts/{user.account_id}/role", {"role": "owner"}),
        ("PATCH", f"{url}/disable", None),
        ("PATCH", f"{url}/enable", None),
        ("DELETE", url, None),
        ("PATCH", url, {"name": "Not Yours"}),
        ("PATCH", f"{url}/email", {"email": "not-yours@example.com"}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=user.auth)
        assert response.status_code == 403, (method, path)
    assert (await fetch(world, peer.account_id))["name"] != "Not Yours"
    assert (await fetch(world, user.account_id))["role"] == "user"
    assert len((await client.get(f"{world.base}/accounts", headers=user.auth)).json()) == 3
    own = await client.patch(f"{world.base}/accounts/{user.account_id}", json={"name": "My Own"}, headers=user.auth)
    assert own.status_code == 204


@pytest.mark.asvs("AC-03")
async def test_admin_cannot_act_on_themselves(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    url = f"{world.base}/accounts/{admin.account_id}"
    attempts: list[Attempt] = [
        ("PATCH", f"{url}/disable", None),
        ("PATCH", f"{url}/enable", None),
        ("DELETE", url, None),
        ("PATCH", f"{url}/role", {"role": "user"}),
        ("PATCH", f"{url}/role", {"role": "owner"}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=admin.auth)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "cannot_act_on_self"
    account = await fetch(world, admin.account_id)
    assert (account["role"], account["disabled"]) == ("admin", False)
    assert await session_status(world, admin.token) == 200
    own = await client.patch(url, json={"name": "Admin Renamed"}, headers=admin.auth)
    assert own.status_code == 204


@pytest.mark.asvs("AC-05")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("DELETE", "", None), ("PATCH", "/role", {"role": "admin"}), ("PATCH", "/disable", None)],
)
async def test_sole_owner_cannot_remove_themselves(
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: AsyncSession,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """A disabled owner does not count: the only enabled owner is the last one."""
    await world.add_member("admin")
    disabled_owner = await world.add_member("owner")
    disabling = await client.patch(
        f"{world.base}/accounts/{disabled_owner.account_id}/disable", headers=world.owner.auth
    )
    assert disabling.status_code == 204
    url = f"{world.base}/accounts/{world.owner.account_id}"
    before = await fetch(world, world.owner.account_id)

    response = await client.request(method, url + path, json=body, headers=world.owner.auth)

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert await fetch(world, world.owner.account_id) == before
    assert await enabled_owners(db, world.tenant_id) == [uuid.UUID(world.owner.account_id)]
    assert await session_status(world, world.owner.token) == 200


@pytest.mark.asvs("AC-05")
async def test_owner_may_step_down_while_another_owner_remains(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    second = await world.add_member("owner")
    url = f"{world.base}/accounts/{world.owner.account_id}"
    assert (await client.patch(f"{url}/role", json={"role": "admin"}, headers=world.owner.auth)).status_code == 204
    assert (await fetch(world, world.owner.account_id))["role"] == "admin"
    assert await enabled_owners(db, world.tenant_id) == [uuid.UUID(second.account_id)]
    last = await client.patch(
        f"{world.base}/accounts/{second.account_id}/role", json={"role": "user"}, headers=second.auth
    )
    assert last.status_code == 409
    assert last.json()["code"] == "last_owner"


@pytest.mark.asvs("AC-04")
@pytest.mark.parametrize("role", ["owner", "admin", "user"])
async def test_role_naming_another_tenant_is_rejected(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, role: str
) -> None:
    body = account_body(world, password=PASSWORD)
    body["roles"] = [{"role": role, "target": "tenant", "targetId": other.tenant_id}]
    response = await create(world, **body)

    assert response.status_code == 400
    assert response.json()["code"] == "role_target_invalid"
    assert "roles.0.targetId" in response.json()["errors"]
    lookup = await client.get(
        f"{world.base}/accounts/user-defined-identification", params={"email": body["email"]}, headers=world.owner.auth
    )
    assert lookup.status_code == 404
    assert await login_status(world, email=body["email"]) == 401
    assert await login_status(other, email=body["email"]) == 401
    for path in ("", "/accounts", f"/accounts/{other.owner.account_id}"):
        assert (await client.get(f"{other.base}{path}", headers=world.owner.auth)).status_code == 404


@pytest.mark.asvs("AC-03", "AC-09")
async def test_owner_promotes_and_admin_cannot(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    url = f"{world.base}/accounts/{user.account_id}/role"

    refused = await client.patch(url, json={"role": "admin"}, headers=admin.auth)
    assert refused.status_code == 403
    assert (await fetch(world, user.account_id))["role"] == "user"
    assert (await create(world, by=user, **account_body(world))).status_code == 403

    assert (await client.patch(url, json={"role": "admin"}, headers=world.owner.auth)).status_code == 204
    promoted = await fetch(world, user.account_id)
    assert promoted["role"] == "admin"
    assert promoted["roles"] == [{"role": "admin", "target": "tenant", "targetId": world.tenant_id}]
    assert (await create(world, by=user, **account_body(world))).status_code == 201

    assert (await client.patch(url, json={"role": "user"}, headers=world.owner.auth)).status_code == 204
    assert (await create(world, by=user, **account_body(world))).status_code == 403


async def test_owner_grants_owner(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    url = f"{world.base}/accounts/{admin.account_id}/role"
    assert (await client.patch(url, json={"role": "owner"}, headers=world.owner.auth)).status_code == 204
    assert (await fetch(world, admin.account_id))["role"] == "owner"
    demote_first_owner = await client.patch(
        f"{world.base}/accounts/{world.owner.account_id}/role", json={"role": "admin"}, headers=admin.auth
    )
    assert demote_first_owner.status_code == 204
    assert (await fetch(world, world.owner.account_id))["role"] == "admin"


@pytest.mark.parametrize("body", [{}, {"role": "emperor"}, {"role": "OWNER"}, {"role": "user", "x": 1}])
async def test_role_change_rejects_bad_bodies(
    client: httpx.AsyncClient, world: TenantWorld, body: dict[str, Any]
) -> None:
    user = await world.add_member("user")
    response = await client.patch(f"{world.base}/accounts/{user.account_id}/role", json=body, headers=world.owner.auth)
    assert response.status_code == 400
    assert (await fetch(world, user.account_id))["role"] == "user"


@pytest.mark.parametrize("action", ["role", "disable", "enable", "delete"])
async def test_unknown_or_foreign_target_is_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld, action: str
) -> None:
    for target in (str(uuid.uuid4()), other.owner.account_id):
        url = f"{world.base}/accounts/{target}"
        if action == "delete":
            response = await client.delete(url, headers=world.owner.auth)
        else:
            body = {"role": "user"} if action == "role" else None
            response = await client.patch(f"{url}/{action}", json=body, headers=world.owner.auth)
        assert response.status_code == 404
    assert (await fetch(other, other.owner.account_id, by=other.owner))["role"] == "owner"
    assert await session_status(other, other.owner.token) == 200
