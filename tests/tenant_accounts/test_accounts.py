"""Tenant accounts: creating and reading them, listing them page by page, and finding one by identifier."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, TenantWorld
from tests.tenant_accounts.accounts import (
    account_body,
    assert_no_secrets,
    create,
    fetch,
    login_status,
)

# Creating and reading


@pytest.mark.asvs("AC-07", "VAL-09")
async def test_create_with_phone_and_avatar(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = account_body(world, phone="+1 (415) 555-0123", avatarUrl="https://cdn.example.com/a.png", password=PASSWORD)
    response = await create(world, **body)

    assert response.status_code == 201
    assert set(response.json()) == {"id"}
    account = await fetch(world, response.json()["id"])
    assert account["id"] == response.json()["id"]
    assert account["tenantId"] == world.tenant_id
    assert account["name"] == body["name"]
    assert account["email"] == body["email"]
    assert account["username"] == body["username"]
    assert account["phone"] == "+14155550123"
    assert account["avatarUrl"] == "https://cdn.example.com/a.png"
    assert account["role"] == "user"
    assert account["roles"] == [{"role": "user", "target": "tenant", "targetId": world.tenant_id}]
    assert account["disabled"] is False
    assert account["emailVerified"] is False
    assert "password" not in account
    assert await login_status(world, phone="+14155550123") == 200


@pytest.mark.asvs("PWD-13", "AUTH-01")
async def test_account_without_password_cannot_log_in(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = account_body(world)
    assert (await create(world, **body)).status_code == 201

    for password in (PASSWORD, "x" * 8):
        response = await client.post(
            f"/api/v1/auth/tenants/{world.tenant_id}/login", json={"email": body["email"], "password": password}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
        assert "set-cookie" not in response.headers


@pytest.mark.asvs("AC-06", "VAL-09")
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"username": "a b"}, "username"),
        ({"name": "A"}, "name"),
        ({"phone": "555-0123"}, "phone"),
        ({"avatarUrl": "javascript:alert(1)"}, "avatarUrl"),
        ({"role": "owner"}, "role"),
        ({"passwordHash": "$argon2id$v=19$m=19456,t=2,p=1$x$y"}, "passwordHash"),
        ({"disabled": True}, "disabled"),
        ({"tenantId": str(uuid.uuid4())}, "tenantId"),
        ({"roles": []}, "roles"),
        ({"roles": [{"role": "emperor", "target": "tenant", "targetId": "{tenant}"}]}, "roles.0.role"),
        ({"roles": [{"role": "user", "target": "environment", "targetId": "{tenant}"}]}, "roles.0.target"),
    ],
)
async def test_create_rejects_bad_bodies(
    client: httpx.AsyncClient, world: TenantWorld, overrides: dict[str, Any], field: str
) -> None:
    body = {**account_body(world), **overrides}
    for grant in body.get("roles", []):
        grant["targetId"] = world.tenant_id
    response = await create(world, **body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["errors"]
    listed = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert [account["id"] for account in listed.json()] == [world.owner.account_id]


@pytest.mark.asvs("AC-02", "AC-07")
async def test_get_unknown_or_foreign_account_is_404(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    unknown = await client.get(f"{world.base}/accounts/{uuid.uuid4()}", headers=world.owner.auth)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "account_not_found"
    foreign = await client.get(f"{world.base}/accounts/{other.owner.account_id}", headers=world.owner.auth)
    assert foreign.status_code == 404
    assert foreign.json() | {"requestId": None} == unknown.json() | {"requestId": None}
    elsewhere = await client.get(f"{other.base}/accounts/{other.owner.account_id}", headers=world.owner.auth)
    assert elsewhere.status_code == 404
    bad_id = await client.get(f"{world.base}/accounts/not-a-uuid", headers=world.owner.auth)
    assert bad_id.status_code == 400
    anonymous = await client.get(f"{world.base}/accounts/{world.owner.account_id}")
    assert anonymous.status_code == 401


# Listing


async def test_list_walks_every_page_once(client: httpx.AsyncClient, world: TenantWorld) -> None:
    created = [world.owner.account_id]
    for _ in range(6):
        response = await create(world, **account_body(world))
        created.append(response.json()["id"])

    seen: list[str] = []
    pages = 0
    url: str | None = f"{world.base}/accounts?limit=2"
    while url is not None:
        response = await client.get(url, headers=world.owner.auth)
        assert response.status_code == 200
        assert_no_secrets(response)
        page = response.json()
        assert isinstance(page, list)
        assert len(page) <= 2
        seen.extend(account["id"] for account in page)
        pages += 1
        link = response.links.get("next")
        url = link["url"] if link else None
        if url is not None:
            assert 'rel="next"' in response.headers["link"]
            assert "cursor=" in url
            assert "limit=2" in url
        assert pages <= 10

    assert pages == 4
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


async def test_list_with_exact_page_ends_with_an_empty_page(client: httpx.AsyncClient, world: TenantWorld) -> None:
    ids = [world.owner.account_id, (await create(world, **account_body(world))).json()["id"]]
    first = await client.get(f"{world.base}/accounts", params={"limit": 2}, headers=world.owner.auth)
    assert sorted(account["id"] for account in first.json()) == sorted(ids)
    second = await client.get(first.links["next"]["url"], headers=world.owner.auth)
    assert second.status_code == 200
    assert second.json() == []
    assert "link" not in second.headers
    everything = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert len(everything.json()) == 2
    assert "link" not in everything.headers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "%%%not-base64"}, "cursor"),
        ({"cursor": "AAAA"}, "cursor"),
    ],
)
async def test_list_rejects_bad_paging(
    client: httpx.AsyncClient, world: TenantWorld, params: dict[str, Any], field: str
) -> None:
    response = await client.get(f"{world.base}/accounts", params=params, headers=world.owner.auth)
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.asvs("AC-02", "AC-08")
async def test_list_shows_only_this_tenant(client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld) -> None:
    same = account_body(world)
    assert (await create(world, **same)).status_code == 201
    assert (await create(other, **same)).status_code == 201
    mine = await client.get(f"{world.base}/accounts", headers=world.owner.auth)
    assert {account["tenantId"] for account in mine.json()} == {world.tenant_id}
    assert len(mine.json()) == 2
    theirs = await client.get(f"{other.base}/accounts", headers=world.owner.auth)
    assert theirs.status_code == 404


# Finding by identifier


async def test_find_by_identifier_in_query(client: httpx.AsyncClient, world: TenantWorld) -> None:
    body = account_body(world, phone="+44 20 7946 0958")
    account_id = (await create(world, **body)).json()["id"]
    url = f"{world.base}/accounts/user-defined-identification"

    for params in (
        {"email": body["email"].upper()},
        {"username": body["username"].upper()},
        {"phone": "+44 (20) 7946-0958"},
        {"email": body["email"], "username": body["username"]},
    ):
        response = await client.get(url, params=params, headers=world.owner.auth)
        assert response.status_code == 200, params
        assert response.json()["id"] == account_id
        assert_no_secrets(response)

    mismatch = await client.get(
        url, params={"email": body["email"], "username": world.owner.username}, headers=world.owner.auth
    )
    assert mismatch.status_code == 404
    unknown = await client.get(url, params={"email": "nobody@example.com"}, headers=world.owner.auth)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "account_not_found"
    nothing = await client.get(url, headers=world.owner.auth)
    assert nothing.status_code == 400
    invalid = await client.get(url, params={"email": "not-an-email"}, headers=world.owner.auth)
    assert invalid.status_code == 400


async def test_find_by_json_body_on_get(client: httpx.AsyncClient, world: TenantWorld) -> None:
    """The original read the identifiers from a JSON body on GET; its clients still send that."""
    body = account_body(world)
    account_id = (await create(world, **body)).json()["id"]
    url = f"{world.base}/accounts/user-defined-identification"

    found = await client.request("GET", url, json={"email": body["email"].title()}, headers=world.owner.auth)
    assert found.status_code == 200
    assert found.json()["id"] == account_id
    by_username = await client.request("GET", url, json={"username": body["username"]}, headers=world.owner.auth)
    assert by_username.json()["id"] == account_id
    missing = await client.request("GET", url, json={"email": "nobody@example.com"}, headers=world.owner.auth)
    assert missing.status_code == 404
    for bad in ({}, {"nickname": "x"}, ["not", "an", "object"]):
        response = await client.request("GET", url, json=bad, headers=world.owner.auth)
        assert response.status_code == 400, bad
    malformed = await client.request(
        "GET", url, content=b"{not json", headers={**world.owner.auth, "content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"


async def test_find_does_not_cross_tenants(client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld) -> None:
    url = f"{world.base}/accounts/user-defined-identification"
    response = await client.get(url, params={"email": other.owner.email}, headers=world.owner.auth)
    assert response.status_code == 404
