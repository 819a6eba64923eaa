"""One test per tenant-side bug of the original Sump (reference-systems.md §A.9 and the notes of §A.4-§A.8)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.sessions import Session
from sump.kit.crypto import token_digest
from tests.support import PASSWORD, TenantWorld, bearer


@pytest.mark.asvs("AC-05")
async def test_bug3_sole_owner_cannot_delete_demote_or_disable_themselves(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    admin = await world.add_member("admin")
    url = f"{world.base}/accounts/{world.owner.account_id}"
    for method, path, body in (
        ("DELETE", "", None),
        ("PATCH", "/role", {"role": "admin"}),
        ("PATCH", "/disable", None),
    ):
        response = await client.request(method, url + path, json=body, headers=world.owner.auth)
        assert response.status_code == 409, (method, path)
        assert response.json()["code"] == "last_owner"
    assert (await client.delete(url, headers=admin.auth)).status_code == 403
    owner = await client.get(url, headers=world.owner.auth)
    assert (owner.json()["role"], owner.json()["disabled"]) == ("owner", False)

    second = await world.add_member("owner")
    stepped_down = await client.patch(f"{url}/role", json={"role": "user"}, headers=world.owner.auth)
    assert stepped_down.status_code == 204
    last = await client.delete(f"{world.base}/accounts/{second.account_id}", headers=second.auth)
    assert last.status_code == 409


@pytest.mark.asvs("AC-04")
async def test_bug4_no_cross_tenant_role_grant(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    body = {
        "name": "Mallory",
        "email": "mallory@example.com",
        "username": "mallory",
        "password": PASSWORD,
        "roles": [{"role": "owner", "target": "tenant", "targetId": other.tenant_id}],
    }
    response = await client.post(f"{world.base}/accounts", json=body, headers=world.owner.auth)
    assert response.status_code == 400
    assert response.json()["code"] == "role_target_invalid"
    environment_role = {**body, "roles": [{"role": "owner", "target": "environment", "targetId": other.tenant_id}]}
    assert (
        await client.post(f"{world.base}/accounts", json=environment_role, headers=world.owner.auth)
    ).status_code == 400
    login = await client.post(
        f"/api/v1/auth/tenants/{other.tenant_id}/login", json={"username": "mallory", "password": PASSWORD}
    )
    assert login.status_code == 401


@pytest.mark.asvs("AC-03")
async def test_bug5_admin_cannot_create_owner(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    body = {
        "name": "Would Be Owner",
        "email": "wbo@example.com",
        "username": "wbo",
        "roles": [{"role": "owner", "target": "tenant", "targetId": world.tenant_id}],
    }
    response = await client.post(f"{world.base}/accounts", json=body, headers=admin.auth)
    assert response.status_code == 403
    assert response.json()["code"] == "role_not_grantable"


@pytest.mark.asvs("SESS-09")
async def test_bug6_session_is_bound_to_its_tenant(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    foreign = f"/api/v1/auth/tenants/{other.tenant_id}"
    assert (await client.get(f"{foreign}/session", headers=world.owner.auth)).status_code == 401
    assert (await client.get(f"{foreign}/sessions", headers=world.owner.auth)).status_code == 401
    assert (await client.post(f"{foreign}/logout-all", headers=world.owner.auth)).status_code == 401
    assert (await client.post(f"{foreign}/logout", headers=world.owner.auth)).status_code == 204
    own = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
    assert own.status_code == 200, "a logout on another tenant's URL must not end this session"


@pytest.mark.asvs("AC-07")
async def test_bug7_no_password_hash_anywhere(client: httpx.AsyncClient, world: TenantWorld) -> None:
    found = await client.get(
        f"{world.base}/accounts/user-defined-identification",
        params={"email": world.owner.email},
        headers=world.owner.auth,
    )
    listed = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    duplicate = await client.post(
        f"{world.base}/accounts",
        json={"name": "Dup Licate", "email": world.owner.email, "username": "dup", "password": PASSWORD},
        headers=world.owner.auth,
    )
    assert duplicate.status_code == 409
    for response in (found, listed, duplicate):
        text = response.text
        assert "$argon2" not in text
        assert "passwordHash" not in text
        assert "password_hash" not in text
        assert PASSWORD not in text


@pytest.mark.asvs("VAL-06")
@pytest.mark.parametrize(("field", "path"), [("email", "email"), ("username", "username"), ("phone", "phone")])
async def test_bug9_duplicate_on_update_is_409(
    client: httpx.AsyncClient, world: TenantWorld, field: str, path: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    first = {"name": "First One", "email": f"a{tag}@example.com", "username": f"a{tag}", "phone": "+14155550100"}
    second = {"name": "Second One", "email": f"b{tag}@example.com", "username": f"b{tag}", "phone": "+14155550101"}
    await client.post(f"{world.base}/accounts", json=first, headers=world.owner.auth)
    created = await client.post(f"{world.base}/accounts", json=second, headers=world.owner.auth)
    target = created.json()["id"]
    response = await client.patch(
        f"{world.base}/accounts/{target}/{path}", json={field: first[field]}, headers=world.owner.auth
    )
    assert response.status_code == 409
    assert response.json()["errors"] == {field: f"This {field} is already in use in this tenant."}


@pytest.mark.asvs("AC-06")
async def test_bug10_unknown_keys_are_400_not_500(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = {"name": "Extra Keys", "email": "extra@example.com", "username": "extra", "isAdmin": True}
    response = await client.post(f"{world.base}/accounts", json=body, headers=world.owner.auth)
    assert response.status_code == 400
    assert response.json()["errors"] == {"isAdmin": "This field is not allowed."}
    email_extra = await client.patch(
        f"{world.base}/accounts/{world.owner.account_id}/email",
        json={"email": "new@example.com", "role": "owner"},
        headers=world.owner.auth,
    )
    assert email_extra.status_code == 400


@pytest.mark.asvs("AUTH-06")
async def test_bug11_identifiers_are_unique_per_tenant_only(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    body = {"name": "Same Person", "email": "same@example.com", "username": "same", "phone": "+14155550199"}
    first = await client.post(f"{world.base}/accounts", json={**body, "password": PASSWORD}, headers=world.owner.auth)
    second = await client.post(
        f"{other.base}/accounts", json={**body, "password": "a different passphrase"}, headers=other.owner.auth
    )
    assert (first.status_code, second.status_code) == (201, 201)
    in_world = await client.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": "same@example.com", "password": PASSWORD}
    )
    crossed = await client.post(
        f"/api/v1/auth/tenants/{other.tenant_id}/login", json={"email": "same@example.com", "password": PASSWORD}
    )
    assert in_world.json()["accountId"] == first.json()["id"]
    assert crossed.status_code == 401


@pytest.mark.asvs("SESS-01", "REL-08")
async def test_bug14_sessions_go_with_their_account_and_are_hashed(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_member("user")
    row = await db.scalar(select(Session).where(Session.token_hash == token_digest(user.token)))
    assert row is not None
    stored = await db.scalars(select(Session.token_hash))
    assert all(user.token.encode() not in value for value in stored)

    assert (
        await client.delete(f"{world.base}/accounts/{user.account_id}", headers=world.owner.auth)
    ).status_code == 204
    remaining = await db.scalar(
        select(Session.id)
        .where(Session.account_id == uuid.UUID(user.account_id))
        .execution_options(populate_existing=True)
    )
    assert remaining is None
    session = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=bearer(user.token))
    assert session.status_code == 401


@pytest.mark.asvs("SESS-07")
async def test_disabled_account_session_is_refused(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """§A.4: the original still answered 200 on /session for a disabled account."""
    user = await world.add_member("user")
    disabled = await client.patch(f"{world.base}/accounts/{user.account_id}/disable", headers=world.owner.auth)
    assert disabled.status_code == 204
    session = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=user.auth)
    assert session.status_code == 401


async def test_identification_with_two_keys_stays_in_tenant(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    """§A.6: with two keys the original's tenant filter applied only to the last one and leaked accounts."""
    response = await client.get(
        f"{world.base}/accounts/user-defined-identification",
        params={"email": other.owner.email, "username": world.owner.username},
        headers=world.owner.auth,
    )
    assert response.status_code == 404
    legacy_body = await client.request(
        "GET",
        f"{world.base}/accounts/user-defined-identification",
        json={"email": other.owner.email},
        headers=world.owner.auth,
    )
    assert legacy_body.status_code == 404


async def test_a_user_can_read_their_own_account(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """§A.5: a role-less user of the original could not read their own account."""
    user = await world.add_member("user")
    response = await client.get(f"{world.base}/accounts/{user.account_id}", headers=user.auth)
    assert response.status_code == 200
    assert response.json()["role"] == "user"


async def test_non_uuid_ids_are_400(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """§A.3: non-UUID ids gave 500 on some routes."""
    login = await client.post("/api/v1/auth/tenants/not-a-uuid/login", json={"username": "xyz", "password": "y"})
    assert login.status_code == 400
    assert login.json()["errors"] == {"tenantId": "Must be a UUID."}
    account = await client.get(f"{world.base}/accounts/not-a-uuid", headers=world.owner.auth)
    assert account.status_code == 400
    assert account.json()["errors"] == {"accountId": "Must be a UUID."}
    trailing = await client.get(f"{world.base}/accounts/", headers=world.owner.auth)
    assert trailing.status_code == 404, "no redirects built from the Host header"


@pytest.mark.asvs("VAL-01")
async def test_nul_characters_are_400_not_500(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """PostgreSQL refuses NUL in text and JSON; such input must be refused before it reaches the database."""
    for body in ({"name": "Nul\u0000Name"}, {"name": "Fine"} | {"x": "\u0000"}):
        response = await client.patch(world.base, json=body, headers=world.owner.auth)
        assert response.status_code == 400
    properties = await client.patch(f"{world.base}/custom-property", json={"k": "a\u0000b"}, headers=world.owner.auth)
    assert properties.json()["code"] == "nul_character"
    query = await client.get(
        f"/api/v1/environments/{world.environment_id}/accounts", params={"q": "a\x00"}, headers=world.owner.auth
    )
    assert query.status_code == 400
    literal = await client.patch(f"{world.base}/custom-property", json={"k": "a\\u0000b"}, headers=world.owner.auth)
    assert literal.status_code == 204, "an escaped backslash followed by u0000 is ordinary text"
