"""End users: managed by the tenant's owners and admins, and by each end user for their own account."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.sessions import Session
from tests.support import PASSWORD, TenantWorld, bearer, new_tenant


def end_user_body(**overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {"name": f"End User {tag}", "email": f"eu-{tag}@example.com", "username": f"eu_{tag}"}
    body.update(overrides)
    return body


def accounts_url(world: TenantWorld, environment_id: str | None = None) -> str:
    return f"/api/v1/environments/{environment_id or world.environment_id}/accounts"


async def create_end_user(client: httpx.AsyncClient, world: TenantWorld, **overrides: Any) -> str:
    response = await client.post(accounts_url(world), json=end_user_body(**overrides), headers=world.owner.auth)
    assert response.status_code == 201, response.text
    account_id: str = response.json()["id"]
    return account_id


async def end_user_login(
    client: httpx.AsyncClient, world: TenantWorld, password: str = PASSWORD, **identifier: str
) -> str:
    response = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/login", json={**identifier, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def test_admin_creates_end_user_with_password_who_then_signs_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """The original dashboard posts `password` when creating an end user; it was rejected there."""
    account_id = await create_end_user(
        client, world, email="Mixed.Case@Example.COM", username="Mixed_User", password=PASSWORD, phone="+1 415 555 0100"
    )
    account = (await client.get(f"{accounts_url(world)}/{account_id}", headers=world.owner.auth)).json()
    assert account["email"] == "mixed.case@example.com"
    assert account["username"] == "mixed_user"
    assert account["phone"] == "+14155550100"
    assert account["hasPassword"] is True
    assert "passwordHash" not in account
    token = await end_user_login(client, world, email="MIXED.CASE@example.com")
    assert token


async def test_end_user_without_password_cannot_sign_in(client: httpx.AsyncClient, world: TenantWorld) -> None:
    await create_end_user(client, world, username="nopassword")
    response = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/login", json={"username": "nopassword", "password": PASSWORD}
    )
    assert response.status_code == 401


async def test_identifiers_unique_per_environment_not_across(client: httpx.AsyncClient, world: TenantWorld) -> None:
    second_env = await client.post(f"{world.base}/environments", json={"name": "second"}, headers=world.owner.auth)
    body = end_user_body()
    assert (await client.post(accounts_url(world), json=body, headers=world.owner.auth)).status_code == 201
    duplicate = await client.post(
        accounts_url(world), json={**body, "email": body["email"].upper()}, headers=world.owner.auth
    )
    assert duplicate.status_code == 409
    assert set(duplicate.json()["errors"]) == {"email", "username"}
    elsewhere = await client.post(accounts_url(world, second_env.json()["id"]), json=body, headers=world.owner.auth)
    assert elsewhere.status_code == 201


@pytest.mark.asvs("VAL-06")
async def test_duplicate_on_identifier_change_is_409(client: httpx.AsyncClient, world: TenantWorld) -> None:
    first = end_user_body(phone="+14155550111")
    await create_end_user(client, world, **first)
    second = await create_end_user(client, world)
    for field in ("email", "username", "phone"):
        response = await client.patch(
            f"{accounts_url(world)}/{second}/{field}", json={field: first[field]}, headers=world.owner.auth
        )
        assert response.status_code == 409, field


async def test_list_paginates_and_filters(client: httpx.AsyncClient, world: TenantWorld) -> None:
    ids = [
        await create_end_user(client, world, name=f"Alice {i}", username=f"alice_{i}_{uuid.uuid4().hex[:4]}")
        for i in range(3)
    ]
    bob = await create_end_user(client, world, name="Bob Stone", username=f"bob_{uuid.uuid4().hex[:4]}")
    await client.patch(f"{accounts_url(world)}/{bob}/disable", headers=world.owner.auth)

    seen: list[str] = []
    url: str | None = f"{accounts_url(world)}?limit=2"
    while url:
        page = await client.get(url, headers=world.owner.auth)
        seen += [account["id"] for account in page.json()]
        url = page.links.get("next", {}).get("url")
    assert seen == [*ids, bob]

    by_name = await client.get(accounts_url(world), params={"q": "ALICE"}, headers=world.owner.auth)
    assert [account["id"] for account in by_name.json()] == ids
    disabled = await client.get(accounts_url(world), params={"disabled": "true"}, headers=world.owner.auth)
    assert [account["id"] for account in disabled.json()] == [bob]
    first = (await client.get(f"{accounts_url(world)}/{ids[0]}", headers=world.owner.auth)).json()
    after = await client.get(accounts_url(world), params={"createdAfter": first["createdAt"]}, headers=world.owner.auth)
    assert ids[0] not in [account["id"] for account in after.json()]
    percent = await client.get(accounts_url(world), params={"q": "%"}, headers=world.owner.auth)
    assert percent.json() == [], "the prefix is literal, not a pattern"
    underscore = await client.get(accounts_url(world), params={"q": "alic_"}, headers=world.owner.auth)
    assert underscore.json() == [], "an underscore is itself, not any one character"
    literal = await client.get(accounts_url(world), params={"q": "alice_"}, headers=world.owner.auth)
    assert [account["id"] for account in literal.json()] == ids
    slashed = await create_end_user(client, world, name="A/B%_ Slash", username=f"slash_{uuid.uuid4().hex[:4]}")
    for prefix in ("a/b%_", "A/B", "a/"):  # the escape character of the pattern is itself too
        found = await client.get(accounts_url(world), params={"q": prefix}, headers=world.owner.auth)
        assert [account["id"] for account in found.json()] == [slashed], prefix


async def test_custom_properties_persist(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """The original's end-user custom-property routes answered 204 and stored nothing."""
    account_id = await create_end_user(client, world, customProperties={"tier": "free"})
    url = f"{accounts_url(world)}/{account_id}"
    assert (
        await client.patch(f"{url}/custom-property", json={"tier": "gold", "a.b": 1}, headers=world.owner.auth)
    ).status_code == 204
    await client.request("DELETE", f"{url}/custom-property", json={"customProperty": "a.b"}, headers=world.owner.auth)
    assert (await client.get(url, headers=world.owner.auth)).json()["customProperties"] == {"tier": "gold"}


@pytest.mark.asvs("SESS-07")
async def test_disable_revokes_sessions_and_enable_restores_sign_in(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    user = await world.add_end_user(world.environment_id)
    url = f"{accounts_url(world)}/{user.account_id}"
    assert (await client.patch(f"{url}/disable", headers=world.owner.auth)).status_code == 204
    session = await client.get(f"/api/v1/auth/environments/{world.environment_id}/session", headers=user.auth)
    assert session.status_code == 401
    refused = await client.post(f"/api/v1/auth/environments/{world.environment_id}/login", json=user.credentials)
    assert refused.status_code == 401
    assert (await client.patch(f"{url}/enable", headers=world.owner.auth)).status_code == 204
    assert await end_user_login(client, world, username=user.username)


async def test_admin_revokes_all_sessions(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    tokens = [user.token, await end_user_login(client, world, username=user.username)]
    revoked = await client.delete(f"{accounts_url(world)}/{user.account_id}/sessions", headers=world.owner.auth)
    assert revoked.json() == {"revoked": 2}
    for token in tokens:
        assert (
            await client.get(f"/api/v1/auth/environments/{world.environment_id}/session", headers=bearer(token))
        ).status_code == 401


@pytest.mark.asvs("RST-11")
async def test_admin_sends_a_reset_but_never_sets_a_password(client: httpx.AsyncClient, world: TenantWorld) -> None:
    account_id = await create_end_user(client, world)
    url = f"{accounts_url(world)}/{account_id}"
    assert (await client.post(f"{url}/password-reset", headers=world.owner.auth)).status_code == 202
    setting = await client.patch(url, json={"password": "admin-chosen-password"}, headers=world.owner.auth)
    assert setting.status_code == 400


async def test_end_user_manages_only_their_own_account(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    user = await world.add_end_user(world.environment_id)
    me, token = user.account_id, user.token
    other = await create_end_user(client, world)
    mine, theirs = f"{accounts_url(world)}/{me}", f"{accounts_url(world)}/{other}"

    assert (await client.get(mine, headers=bearer(token))).json()["username"] == user.username
    assert (await client.patch(mine, json={"name": "Self Renamed"}, headers=bearer(token))).status_code == 204
    assert (
        await client.patch(f"{mine}/custom-property", json={"theme": "dark"}, headers=bearer(token))
    ).status_code == 204
    for method, url in (("GET", theirs), ("PATCH", theirs), ("DELETE", theirs)):
        body = {"name": "Hijacked"} if method == "PATCH" else None
        response = await client.request(method, url, json=body, headers=bearer(token))
        assert response.status_code == 404, (method, url)
    assert (await client.get(accounts_url(world), headers=bearer(token))).status_code == 403
    assert (await client.patch(f"{mine}/disable", headers=bearer(token))).status_code == 403
    assert (await client.post(accounts_url(world), json=end_user_body(), headers=bearer(token))).status_code == 403

    assert (await client.delete(mine, headers=bearer(token))).status_code == 204
    assert await db.scalar(select(Session.id).where(Session.account_id == uuid.UUID(me))) is None


async def test_end_user_cannot_use_the_admin_routes_on_their_own_account(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    """Vouching for one's own email, ending one's sessions from the admin API, sending oneself a reset or
    enabling oneself are the tenant's owners' and admins' to do: an end user is refused on their own account."""
    user = await world.add_end_user(world.environment_id)
    mine = f"{accounts_url(world)}/{user.account_id}"
    before = (await client.get(mine, headers=world.owner.auth)).json()
    for method, path in (
        ("POST", f"{mine}/email-verified"),
        ("DELETE", f"{mine}/sessions"),
        ("POST", f"{mine}/password-reset"),
        ("PATCH", f"{mine}/enable"),
    ):
        response = await client.request(method, path, headers=user.auth)
        assert response.status_code == 403, (method, path, response.text)
        body = response.json()
        assert body["code"] == "tenant_account_required", (method, path)
        assert body["detail"] == "This needs a tenant account of this environment's tenant."
    after = (await client.get(mine, headers=world.owner.auth)).json()
    assert after == before
    assert after["emailVerified"] is False
    session = await client.get(f"/api/v1/auth/environments/{world.environment_id}/session", headers=user.auth)
    assert session.status_code == 200


async def test_end_user_session_is_worthless_elsewhere(client: httpx.AsyncClient, world: TenantWorld) -> None:
    token = (await world.add_end_user(world.environment_id)).token
    other = await new_tenant(client)
    assert (await client.get(world.base, headers=bearer(token))).status_code == 401
    assert (
        await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=bearer(token))
    ).status_code == 401
    assert (await client.get(accounts_url(other), headers=bearer(token))).status_code == 401
    assert (
        await client.get(f"/api/v1/auth/environments/{other.environment_id}/session", headers=bearer(token))
    ).status_code == 401


async def test_other_tenants_environment_is_not_found(client: httpx.AsyncClient, world: TenantWorld) -> None:
    other = await new_tenant(client)
    account_id = await create_end_user(client, other)
    for url in (accounts_url(other), f"{accounts_url(other)}/{account_id}"):
        response = await client.get(url, headers=world.owner.auth)
        assert response.status_code == 404
        assert response.json()["code"] == "environment_not_found"


async def test_tenant_roles_apply_to_end_user_management(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_member("user")
    admin = await world.add_member("admin")
    account_id = await create_end_user(client, world)
    url = f"{accounts_url(world)}/{account_id}"
    assert (await client.get(url, headers=user.auth)).status_code == 200
    assert (await client.get(accounts_url(world), headers=user.auth)).status_code == 200
    assert (await client.patch(url, json={"name": "By User"}, headers=user.auth)).status_code == 403
    assert (await client.post(accounts_url(world), json=end_user_body(), headers=user.auth)).status_code == 403
    assert (await client.patch(url, json={"name": "By Admin"}, headers=admin.auth)).status_code == 204
    assert (await client.delete(url, headers=admin.auth)).status_code == 204


async def test_deleting_the_environment_takes_its_end_users_and_sessions(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    token = (await world.add_end_user(world.environment_id)).token
    deleted = await client.delete(f"{world.base}/environments/{world.environment_id}", headers=world.owner.auth)
    assert deleted.status_code == 204
    assert (
        await client.get(f"/api/v1/auth/environments/{world.environment_id}/session", headers=bearer(token))
    ).status_code == 401
