"""End users' metadata: written by the tenant's owners and admins only, read by the end user, never taken from
the end user's own custom properties into access tokens."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.environment_accounts.test_end_users import accounts_url, create_end_user, end_user_login
from tests.support import PASSWORD, Member, TenantWorld, bearer

REFUSAL = "Only the tenant's owners and admins may set metadata."
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def read(client: httpx.AsyncClient, world: TenantWorld, account_id: str, auth: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{accounts_url(world)}/{account_id}", headers=auth)
    assert response.status_code == 200, response.text
    account: dict[str, Any] = response.json()
    return account


@pytest.mark.asvs("AC-06", "AC-03")
async def test_end_user_cannot_write_their_own_metadata(client: httpx.AsyncClient, world: TenantWorld) -> None:
    me = await create_end_user(client, world, username="climber", password=PASSWORD, name="Climber One")
    token = await end_user_login(client, world, username="climber")
    url = f"{accounts_url(world)}/{me}"
    for body in ({"metadata": {"isAdmin": True}}, {"name": "Climber Two", "metadata": {}}):
        refused = await client.patch(url, json=body, headers=bearer(token))
        assert refused.status_code == 403, body
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert {key: problem[key] for key in ("status", "code", "detail", "message", "errors")} == {
            "status": 403,
            "code": "admin_only_field",
            "detail": REFUSAL,
            "message": REFUSAL,
            "errors": {"metadata": REFUSAL},
        }
    mine = await read(client, world, me, bearer(token))
    assert (mine["metadata"], mine["name"]) == ({}, "Climber One"), "nothing of a refused update is kept"

    assert (await client.patch(url, json={"name": "Climber Three"}, headers=bearer(token))).status_code == 204
    assert (await read(client, world, me, bearer(token)))["name"] == "Climber Three"


@pytest.mark.asvs("AC-06")
async def test_owners_and_admins_write_metadata_and_the_end_user_reads_it(
    client: httpx.AsyncClient, world: TenantWorld
) -> None:
    me = await create_end_user(client, world, username="reader", password=PASSWORD, metadata={"plan": "pro"})
    url = f"{accounts_url(world)}/{me}"
    assert (await read(client, world, me, world.owner.auth))["metadata"] == {"plan": "pro"}

    admin, user = await world.add_member("admin"), await world.add_member("user")
    by_admin = await client.patch(url, json={"metadata": {"isAdmin": True, "seats": 3}}, headers=admin.auth)
    assert by_admin.status_code == 204
    by_user = await client.patch(url, json={"metadata": {"isAdmin": False}}, headers=user.auth)
    assert by_user.status_code == 403, "a tenant account below admin changes no end user"
    token = await end_user_login(client, world, username="reader")
    mine = await read(client, world, me, bearer(token))
    assert mine["metadata"] == {"isAdmin": True, "seats": 3}, "replaced whole, readable by the end user"
    assert mine["customProperties"] == {}

    assert (await client.patch(url, json={"metadata": {}}, headers=world.owner.auth)).status_code == 204
    assert (await read(client, world, me, world.owner.auth))["metadata"] == {}
    null = await client.patch(url, json={"metadata": None}, headers=world.owner.auth)
    assert null.status_code == 400
    assert null.json()["code"] == "validation_failed"
    not_object = await client.patch(url, json={"metadata": ["isAdmin"]}, headers=world.owner.auth)
    assert not_object.status_code == 400
    assert not_object.json()["errors"] == {"metadata": "Must be a JSON object."}

    audited = await client.get(
        f"/api/v1/environments/{world.environment_id}/audit-events",
        params={"action": "end_user.updated", "targetId": me},
        headers=world.owner.auth,
    )
    assert [event["details"]["fields"] for event in audited.json()] == [["metadata"], ["metadata"]]


@pytest.mark.asvs("VAL-03")
async def test_metadata_has_the_limits_of_custom_properties(client: httpx.AsyncClient, world: TenantWorld) -> None:
    me = await create_end_user(client, world)
    url = f"{accounts_url(world)}/{me}"
    too_many = await client.patch(url, json={"metadata": {f"k{i}": 1 for i in range(65)}}, headers=world.owner.auth)
    assert too_many.status_code == 400
    assert too_many.json()["code"] == "too_many_custom_properties"
    too_big = await client.patch(url, json={"metadata": {"blob": "x" * 17000}}, headers=world.owner.auth)
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "custom_properties_too_large"
    headers = {**world.owner.auth, "content-type": "application/json"}
    for raw in ('{"metadata": {"x": NaN}}', '{"metadata": {"x": 1e999}}'):
        not_a_number = await client.patch(url, content=raw, headers=headers)
        assert not_a_number.status_code == 400, raw
        assert not_a_number.json()["code"] == "custom_property_value_invalid", raw
    long_key = await client.patch(url, json={"metadata": {"k" * 65: 1}}, headers=world.owner.auth)
    assert long_key.status_code == 400
    create_too_big = await client.post(
        accounts_url(world),
        json={"name": "Big One", "email": "big@example.com", "username": "big_one", "metadata": {"b": "x" * 17000}},
        headers=world.owner.auth,
    )
    assert create_too_big.status_code == 413
    assert (await read(client, world, me, world.owner.auth))["metadata"] == {}


@pytest.mark.asvs("AC-06", "JWT-05")
async def test_access_tokens_never_carry_custom_properties(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """An end user writes their own custom properties; tokens must not turn them into claims."""
    me = await create_end_user(client, world, username="claimant", password=PASSWORD)
    session = await end_user_login(client, world, username="claimant")
    url = f"{accounts_url(world)}/{me}"
    written = await client.patch(
        f"{url}/custom-property", json={"isAdmin": True, "roles": ["ORG_ADMIN"]}, headers=bearer(session)
    )
    assert written.status_code == 204
    assert (await read(client, world, me, bearer(session)))["customProperties"] == {
        "isAdmin": True,
        "roles": ["ORG_ADMIN"],
    }
    issued = await client.post(
        f"/api/v1/auth/environments/{world.environment_id}/token",
        json={"grantType": "password", "username": "claimant", "password": PASSWORD},
    )
    assert issued.status_code == 200, issued.text
    claims = jwt.decode(issued.json()["accessToken"], options={"verify_signature": False})
    assert "isAdmin" not in claims
    assert "customProperties" not in claims
    assert "custom_properties" not in claims
    assert claims["roles"] == []
    assert "isAdmin" not in str(claims)


async def console_of(app: FastAPI, world: TenantWorld, member: Member) -> AsyncIterator[httpx.AsyncClient]:
    """A console signed in as `member`, through its sign-in form."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        page = await http.get("/console/login")
        token = CSRF.search(page.text)
        assert token is not None
        form = {"csrf": token.group(1), "tenantId": world.tenant_id, "identifier": member.email, "password": PASSWORD}
        assert (await http.post("/console/login", data=form)).status_code == 303
        yield http


async def post_form(http: httpx.AsyncClient, page_path: str, action: str, form: dict[str, Any]) -> httpx.Response:
    token = CSRF.search((await http.get(page_path)).text)
    assert token is not None
    return await http.post(action, data={"csrf": token.group(1), **form})


@pytest.fixture
async def owner_console(app: FastAPI, world: TenantWorld) -> AsyncIterator[httpx.AsyncClient]:
    async for http in console_of(app, world, world.owner):
        yield http


@pytest.mark.asvs("AC-06")
async def test_console_owners_edit_metadata_and_users_only_read_it(
    app: FastAPI, client: httpx.AsyncClient, world: TenantWorld, owner_console: httpx.AsyncClient
) -> None:
    me = await create_end_user(client, world, customProperties={"theme": "dark"})
    page = f"/console/environments/{world.environment_id}/users/{me}"

    added = await post_form(owner_console, page, f"{page}/metadata", {"key": ["isAdmin", ""], "value": ["true", ""]})
    assert added.status_code == 303
    assert (await owner_console.get(added.headers["location"])).text.count("Metadata saved.") == 1
    assert (await read(client, world, me, world.owner.auth))["metadata"] == {"isAdmin": True}

    changed = await post_form(
        owner_console,
        page,
        f"{page}/metadata",
        {"key": ["isAdmin", "tier"], "value": ["true", '{"seats": 3}'], "remove": "isAdmin"},
    )
    assert changed.status_code == 303
    account = await read(client, world, me, world.owner.auth)
    assert (account["metadata"], account["customProperties"]) == ({"tier": {"seats": 3}}, {"theme": "dark"})

    too_big = await post_form(owner_console, page, f"{page}/metadata", {"key": "blob", "value": "x" * 17000})
    assert too_big.status_code == 413
    assert '<p class="error" id="e-metadata">Custom properties may not exceed 16384 bytes.</p>' in too_big.text
    unpaired = await post_form(owner_console, page, f"{page}/metadata", {"key": ["a", "b"], "value": "1"})
    assert unpaired.status_code == 400
    assert 'id="e-metadata">The form could not be read; reload the page.</p>' in unpaired.text
    assert (await read(client, world, me, world.owner.auth))["metadata"] == {"tier": {"seats": 3}}

    reader = await world.add_member("user")
    async for user_console in console_of(app, world, reader):
        shown = await user_console.get(page)
        assert shown.status_code == 200
        assert 'aria-label="Value of metadata tier" disabled' in shown.text
        assert "Save metadata" not in shown.text
        forged = await post_form(user_console, page, f"{page}/metadata", {"key": "isAdmin", "value": "true"})
        assert forged.status_code == 403
    assert (await read(client, world, me, world.owner.auth))["metadata"] == {"tier": {"seats": 3}}


@pytest.mark.asvs("AC-06", "JWT-05")
async def test_access_tokens_carry_the_metadata_admins_wrote(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """`metadata` is the claim an application may trust for privileges: admins write it, and a change shows in
    the next token a refresh mints."""
    me = await create_end_user(client, world, username="holder", password=PASSWORD, metadata={"plan": "pro"})
    token_url = f"/api/v1/auth/environments/{world.environment_id}/token"
    issued = await client.post(token_url, json={"grantType": "password", "username": "holder", "password": PASSWORD})
    assert issued.status_code == 200, issued.text
    assert jwt.decode(issued.json()["accessToken"], options={"verify_signature": False})["metadata"] == {"plan": "pro"}

    changed = await client.patch(
        f"{accounts_url(world)}/{me}", json={"metadata": {"plan": "team"}}, headers=world.owner.auth
    )
    assert changed.status_code == 204
    refreshed = await client.post(
        token_url, json={"grantType": "refresh_token", "refreshToken": issued.json()["refreshToken"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    claims = jwt.decode(refreshed.json()["accessToken"], options={"verify_signature": False})
    assert claims["metadata"] == {"plan": "team"}
