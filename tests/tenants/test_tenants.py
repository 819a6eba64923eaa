"""Tenants: creation in one transaction, reading, renaming, custom properties and deletion."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.environments import Environment
from sump.db.tables.sessions import Session
from sump.db.tables.tenant_accounts import TenantAccount
from sump.db.tables.tenants import Tenant
from tests.support import PASSWORD, TenantWorld, new_tenant, set_cookies, signup_body, tenant_body


async def test_create_returns_ids_session_cookie_and_default_environment(client: httpx.AsyncClient) -> None:
    body = tenant_body()
    response = await client.post("/api/v1/tenants", json=body)

    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"tenantId", "accountId", "environmentId", "session", "token"}
    assert data["session"]["accountType"] == "tenant_account"
    assert data["session"]["contextType"] == "tenant"
    assert data["session"]["contextId"] == data["tenantId"]
    cookie = set_cookies(response)["sump_session"]
    assert cookie.value.startswith("s%3A")
    assert cookie.httponly
    assert cookie.path == "/"
    assert cookie.samesite == "lax"
    tenant = await client.get(
        f"/api/v1/tenants/{data['tenantId']}", headers={"Authorization": f"Bearer {data['token']}"}
    )
    assert [env["name"] for env in tenant.json()["environments"]] == ["default"]
    assert tenant.json()["environments"][0]["id"] == data["environmentId"]


async def test_create_with_custom_properties_and_named_environment(client: httpx.AsyncClient) -> None:
    world = await new_tenant(
        client,
        tenant={"name": "Acme", "customProperties": {"plan": "premium", "seats": 10}},
        environment={"name": "production", "customProperties": {"region": "eu"}},
    )
    tenant = (await client.get(world.base, headers=world.owner.auth)).json()
    assert tenant["name"] == "Acme"
    assert tenant["customProperties"] == {"plan": "premium", "seats": 10}
    assert tenant["environments"][0]["name"] == "production"
    assert tenant["environments"][0]["customProperties"] == {"region": "eu"}


@pytest.mark.asvs("REL-01")
async def test_create_is_one_transaction(client: httpx.AsyncClient, db: AsyncSession) -> None:
    """The environment fails after tenant and owner were inserted: nothing of the tenant remains."""
    body = tenant_body(environment={"name": "prod", "customProperties": {"blob": "x" * 17000}})
    before = await db.scalar(select(func.count()).select_from(Tenant))

    response = await client.post("/api/v1/tenants", json=body)

    assert response.status_code == 413
    assert response.json()["code"] == "custom_properties_too_large"
    assert await db.scalar(select(func.count()).select_from(Tenant)) == before
    owner = await db.scalar(select(TenantAccount).where(TenantAccount.email == body["account"]["email"]))
    assert owner is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tenant": {}}, "tenant.name"),
        ({"tenant": {"name": "A"}}, "tenant.name"),
        ({"tenant": {"name": "Acme"}}, "account"),
        ({"account": {"name": "Abc"}}, "tenant"),
    ],
)
async def test_create_rejects_missing_fields(client: httpx.AsyncClient, body: dict[str, object], field: str) -> None:
    response = await client.post("/api/v1/tenants", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["errors"]


async def test_create_rejects_weak_password_without_echoing_it(client: httpx.AsyncClient) -> None:
    body = tenant_body()
    body["account"]["password"] = "short"
    response = await client.post("/api/v1/tenants", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "password_too_short"
    assert "short" not in response.text.replace("password_too_short", "")


async def test_same_owner_email_may_create_two_tenants(client: httpx.AsyncClient) -> None:
    first = tenant_body()
    second = tenant_body()
    second["account"] = {**first["account"]}
    assert (await client.post("/api/v1/tenants", json=first)).status_code == 201
    assert (await client.post("/api/v1/tenants", json=second)).status_code == 201


async def test_roles_in_create_body_are_ignored(client: httpx.AsyncClient, other: TenantWorld) -> None:
    body = tenant_body()
    body["account"]["roles"] = [{"role": "owner", "target": "tenant", "targetId": other.tenant_id}]
    created = (await client.post("/api/v1/tenants", json=body)).json()
    me = await client.get(
        f"/api/v1/tenants/{created['tenantId']}/accounts/{created['accountId']}",
        headers={"Authorization": f"Bearer {created['token']}"},
    )
    assert me.json()["roles"] == [{"role": "owner", "target": "tenant", "targetId": created["tenantId"]}]
    elsewhere = await client.get(other.base, headers={"Authorization": f"Bearer {created['token']}"})
    assert elsewhere.status_code == 404


async def test_get_requires_a_session(client: httpx.AsyncClient, world: TenantWorld) -> None:
    response = await client.get(world.base)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


async def test_rename(client: httpx.AsyncClient, world: TenantWorld) -> None:
    assert (await client.patch(world.base, json={"name": "Renamed"}, headers=world.owner.auth)).status_code == 204
    assert (await client.get(world.base, headers=world.owner.auth)).json()["name"] == "Renamed"


@pytest.mark.parametrize("body", [{}, {"name": "A"}, {"name": "Ok", "x": 1}])
async def test_rename_rejects_bad_bodies(
    client: httpx.AsyncClient, world: TenantWorld, body: dict[str, object]
) -> None:
    response = await client.patch(world.base, json=body, headers=world.owner.auth)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"), [({"name": "Kept", "settings": None}, "settings"), ({"name": None}, "name")]
)
async def test_a_field_of_a_change_may_be_left_out_but_not_null(
    client: httpx.AsyncClient, world: TenantWorld, body: dict[str, object], field: str
) -> None:
    before = (await client.get(world.base, headers=world.owner.auth)).json()
    response = await client.patch(world.base, json=body, headers=world.owner.auth)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert response.json()["errors"] == {field: "May be left out, but not null."}
    assert (await client.get(world.base, headers=world.owner.auth)).json() == before, "nothing of it was applied"


async def test_custom_property_sets_every_key_and_updates(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/custom-property"
    assert (
        await client.patch(url, json={"plan": "basic", "region": "eu"}, headers=world.owner.auth)
    ).status_code == 204
    assert (await client.patch(url, json={"plan": "enterprise"}, headers=world.owner.auth)).status_code == 204
    tenant = (await client.get(world.base, headers=world.owner.auth)).json()
    assert tenant["customProperties"] == {"plan": "enterprise", "region": "eu"}


async def test_custom_property_keys_are_literal(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/custom-property"
    response = await client.patch(url, json={"a.b": 1, "nested": {"x": [1, None, True]}}, headers=world.owner.auth)
    assert response.status_code == 204
    tenant = (await client.get(world.base, headers=world.owner.auth)).json()
    assert tenant["customProperties"] == {"a.b": 1, "nested": {"x": [1, None, True]}}


async def test_custom_property_delete_removes_one_key(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/custom-property"
    await client.patch(url, json={"plan": "basic", "region": "eu"}, headers=world.owner.auth)
    deleted = await client.request("DELETE", url, json={"customProperty": "plan"}, headers=world.owner.auth)
    assert deleted.status_code == 204
    missing = await client.request("DELETE", url, json={"customProperty": "nothing"}, headers=world.owner.auth)
    assert missing.status_code == 204
    assert (await client.get(world.base, headers=world.owner.auth)).json()["customProperties"] == {"region": "eu"}


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({}, 400, "custom_properties_empty"),
        ({f"k{i}": i for i in range(65)}, 400, "too_many_custom_properties"),
        ({"k" * 65: 1}, 400, "validation_failed"),
        ({"big": "x" * 16400}, 413, "custom_properties_too_large"),
        # 60 numbers of 7 bytes as sent, of 309 as PostgreSQL's jsonb keeps and serves them (exact decimals)
        ({"huge": [1e308] * 60}, 413, "custom_properties_too_large"),
        ({"tiny": [5e-324] * 60}, 413, "custom_properties_too_large"),
    ],
)
async def test_custom_property_limits(
    client: httpx.AsyncClient, world: TenantWorld, changes: dict[str, object], status: int, code: str
) -> None:
    response = await client.patch(f"{world.base}/custom-property", json=changes, headers=world.owner.auth)
    assert response.status_code == status
    assert response.json()["code"] == code


async def test_numbers_within_the_limit_as_stored_are_kept(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/custom-property"
    values = {"ratio": 1.5, "small": -2.5e-5, "large": 1e20}
    assert (await client.patch(url, json=values, headers=world.owner.auth)).status_code == 204
    assert (await client.get(world.base, headers=world.owner.auth)).json()["customProperties"] == values
    assert (await client.patch(url, json={"several": [1e308] * 40}, headers=world.owner.auth)).status_code == 204


async def test_custom_property_limit_counts_existing_keys(client: httpx.AsyncClient, world: TenantWorld) -> None:
    url = f"{world.base}/custom-property"
    assert (await client.patch(url, json={f"a{i}": i for i in range(64)}, headers=world.owner.auth)).status_code == 204
    response = await client.patch(url, json={"one_more": 1}, headers=world.owner.auth)
    assert response.status_code == 400
    assert len((await client.get(world.base, headers=world.owner.auth)).json()["customProperties"]) == 64


async def test_delete_cascades_and_revokes_every_session(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    admin = await world.add_member("admin")
    second_owner_session = await world.login(username=world.owner.username)

    assert (await client.delete(world.base, headers=world.owner.auth)).status_code == 204

    for token in (world.owner.token, admin.token, second_owner_session):
        session = await client.get(
            f"/api/v1/auth/tenants/{world.tenant_id}/session", headers={"Authorization": f"Bearer {token}"}
        )
        assert session.status_code == 401
    for model, column in (
        (Tenant, Tenant.id),
        (TenantAccount, TenantAccount.tenant_id),
        (Environment, Environment.tenant_id),
        (Session, Session.tenant_id),
    ):
        count = await db.scalar(select(func.count()).select_from(model).where(column == uuid.UUID(world.tenant_id)))
        assert count == 0, model.__name__
    login = await client.post(
        f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"username": world.owner.username, "password": PASSWORD}
    )
    assert login.status_code == 404


async def test_only_owner_deletes_and_admin_or_owner_edits(client: httpx.AsyncClient, world: TenantWorld) -> None:
    admin = await world.add_member("admin")
    user = await world.add_member("user")
    assert (await client.delete(world.base, headers=admin.auth)).status_code == 403
    assert (await client.patch(world.base, json={"name": "By admin"}, headers=admin.auth)).status_code == 204
    assert (await client.patch(world.base, json={"name": "By user"}, headers=user.auth)).status_code == 403
    assert (await client.get(world.base, headers=user.auth)).status_code == 200


@pytest.mark.parametrize("raw", [b'{"x": 1e400}', b'{"x": NaN}', b'{"x": {"y": [-Infinity]}}'])
async def test_custom_property_values_must_be_standard_json(
    client: httpx.AsyncClient, world: TenantWorld, raw: bytes
) -> None:
    """Python reads 1e400 as infinity and accepts NaN; neither is JSON, so neither may be stored."""
    headers = {**world.owner.auth, "Content-Type": "application/json"}
    response = await client.patch(f"{world.base}/custom-property", content=raw, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "custom_property_value_invalid"
    tenant = await client.get(world.base, headers=world.owner.auth)
    assert tenant.json()["customProperties"] == {}


@pytest.mark.asvs("AC-10")
async def test_first_environment_keeps_the_settings_it_was_created_with(client: httpx.AsyncClient) -> None:
    """A tenant created with its first environment closed to sign-up has it closed from the start."""
    world = await new_tenant(client, environment={"name": "closed", "settings": {"signupEnabled": False}})
    environment = f"{world.base}/environments/{world.environment_id}"
    assert (await client.get(environment, headers=world.owner.auth)).json()["settings"]["signupEnabled"] is False
    response = await client.post(f"/api/v1/auth/environments/{world.environment_id}/signup", json=signup_body())
    assert response.status_code == 403
    assert response.json()["code"] == "signup_disabled"


@pytest.mark.parametrize(
    "name",
    [
        "Acme\nInc",
        "Acme\tInc",
        "Acme\x1b[2J",
        "Acme\x85Inc",
        "Acme\u2028Inc",
        "Acme \u202egnp.exe",  # an override: shown as "Acme exe.png"
        "Acme \u2067Inc",  # an isolate left open
        "Ac\u200bme",  # looks like "Acme"
        "Ac\ufeffme",
        "Ac\u00adme",
        "Ali\U000e0041ce",  # a tag character: shows as "Alice"
        "\u3164\u3164\u3164",  # Hangul fillers: a blank name
        "Ali\u200fce",
    ],
)
async def test_names_hold_no_control_characters(client: httpx.AsyncClient, world: TenantWorld, name: str) -> None:
    """A name is one line of text (pages, emails, the operator's listings) that reads as it is: a person's, a
    tenant's, an environment's or an organization's with a line break, a tab, an escape, a direction override
    or an invisible character is refused, naming the field; and so are a factor's label and a role's
    description, which the console shows to the tenant's admins."""
    end_user = await world.add_end_user(world.environment_id)
    roles = f"{world.base}/environments/{world.environment_id}/roles"
    refused = [
        await client.post(f"{end_user.auth_base}/me/factors/totp", json={"label": name}, headers=end_user.auth),
        await client.post(roles, json={"name": "AUDITOR", "description": name}, headers=world.owner.auth),
        await client.post("/api/v1/tenants", json=tenant_body(tenant={"name": name})),
        await client.patch(world.base, json={"name": name}, headers=world.owner.auth),
        await client.post(f"{world.base}/environments", json={"name": name}, headers=world.owner.auth),
        await client.post(
            f"/api/v1/auth/environments/{world.environment_id}/signup",
            json={"name": name, "email": "ada@example.com", "password": "a sturdy passphrase"},
        ),
    ]
    for response in refused:
        assert (response.status_code, response.json()["code"]) == (400, "validation_failed"), response.text
        assert "control characters" in " ".join(response.json()["errors"].values())
    kept = await client.patch(world.base, json={"name": "  Acme Inc  "}, headers=world.owner.auth)
    assert kept.status_code == 204, "spaces around a name are stripped, as before"
    for joined in ("می‌خواهم", "Team 👩‍💻"):
        assert (await client.patch(world.base, json={"name": joined}, headers=world.owner.auth)).status_code == 204, (
            "the joiners a script or an emoji needs stay"
        )
